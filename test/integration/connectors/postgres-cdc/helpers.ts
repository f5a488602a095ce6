/** Shared setup for the Postgres CDC integration tests: names, a task driven through the API, cleanup. */
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { PostgresCdcTask } from '../../../../connectors/postgres-cdc/postgres-cdc-task.ts';
import type { SourceRecord } from '../../../../runtime/api/index.ts';
import { services, uniqueName } from '../../../infra/env.ts';
import { MemoryOffsets, sourceContext, type FakeSourceContext } from '../../../unit/connectors/fake-context.ts';

export function pgName(prefix: string): string {
  return uniqueName(prefix).replace(/-/g, '_');
}

export function baseConfig(names: { slot: string; publication: string; prefix: string }, extra: Record<string, string> = {}): Record<string, string> {
  const url = new URL(services.postgres.url);
  return {
    'database.hostname': url.hostname,
    'database.port': url.port || '5432',
    'database.user': decodeURIComponent(url.username || 'postgres'),
    'database.password': decodeURIComponent(url.password),
    'database.dbname': url.pathname.slice(1),
    'topic.prefix': names.prefix,
    'slot.name': names.slot,
    'publication.name': names.publication,
    'poll.interval.ms': '100',
    ...extra,
  };
}

export async function adminClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: services.postgres.url });
  await c.connect();
  return c;
}

/** Drops a slot once no walsender holds it (a stopped task's walsender exits within moments). */
export async function dropSlot(admin: pg.Client, slot: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await admin.query<{ active_pid: number | null }>('select active_pid from pg_replication_slots where slot_name = $1', [slot]);
    if (rows.length === 0) return;
    if (rows[0].active_pid !== null) {
      await admin.query('select pg_terminate_backend($1)', [rows[0].active_pid]).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    await admin.query('select pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
  }
}

export async function confirmedFlush(admin: pg.Client, slot: string): Promise<string | null> {
  const { rows } = await admin.query<{ confirmed_flush_lsn: string | null }>('select confirmed_flush_lsn from pg_replication_slots where slot_name = $1', [slot]);
  return rows[0]?.confirmed_flush_lsn ?? null;
}

export interface RunningTask {
  task: PostgresCdcTask;
  ctx: FakeSourceContext;
  offsets: MemoryOffsets;
  /** Every record polled so far. */
  records: SourceRecord[];
  /** Poll until `until(records)` holds (or fail after `timeoutMs`). */
  pollUntil(until: (all: SourceRecord[]) => boolean, timeoutMs?: number): Promise<SourceRecord[]>;
  /** What the runtime does once everything polled is durable: store the offsets, then call commit(). */
  commitAll(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTask(config: Record<string, string>, offsets = new MemoryOffsets()): Promise<RunningTask> {
  const task = new PostgresCdcTask();
  const ctx = sourceContext(offsets);
  await task.start(config, ctx);
  const records: SourceRecord[] = [];
  const running: RunningTask = {
    task, ctx, offsets, records,
    async pollUntil(until, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (until(records)) return records;
        if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms; ${records.length} records: ${JSON.stringify(records.map((r) => [r.topic, (r.value as { op?: string } | null)?.op]))}`);
        records.push(...(await task.poll(AbortSignal.timeout(5000))));
      }
    },
    async commitAll() {
      offsets.commit(records);
      const partition = records.at(-1)?.sourcePartition;
      if (partition) await task.commit?.([{ partition, offset: offsets.get(partition)! }]);
    },
    async stop() {
      await task.stop();
    },
  };
  return running;
}

export function values(records: SourceRecord[], topic?: string): any[] {
  return records.filter((r) => (topic === undefined || r.topic === topic) && r.value !== null).map((r) => r.value);
}

/** A change event of a `(id int primary key, v int)` table as a file sink wrote it (JSON, no schema envelope). */
export interface RowEvent {
  op: string;
  before: { id: number } | null;
  after: { id: number; v: number } | null;
  source: { table: string };
}

/** The events in a file sink's file so far (a line still being written is left out). */
export function readEvents(file: string): RowEvent[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (!text.endsWith('\n')) lines.pop();
  return lines.filter(Boolean).map((l) => JSON.parse(l) as RowEvent);
}

/** Apply events in order: what the table holds according to them (id -> v). */
export function replay(events: RowEvent[]): Map<number, number> {
  const state = new Map<number, number>();
  for (const e of events) {
    if (e.op === 'd') state.delete(e.before!.id);
    else state.set(e.after!.id, e.after!.v);
  }
  return state;
}
