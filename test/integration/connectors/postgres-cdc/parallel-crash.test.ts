/**
 * kill -9 a real worker in the middle of a parallel snapshot, change rows while it is down, restart:
 * every row arrives at least once (replaying the events gives the tables), and no row of a chunk
 * that the committed offset claimed before the kill is read again.
 *
 * The kill is mid-snapshot by construction, not by timing: one partition of the first table is
 * held under an ACCESS EXCLUSIVE lock from the start, so the chunk reading it cannot finish until
 * the lock is released after the kill, while the other connections read the second table's chunks.
 * (So the slot exists before the connector starts, and its snapshot is a fresh one, not the slot's
 * exported one: the same path a resumed snapshot takes.)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkRange, decodeDone, type Plan } from '../../../../connectors/postgres-cdc/snapshot.ts';
import type { JsonObject } from '../../../../runtime/api/index.ts';
import { eventually, startWorkerProcess, tempDir, type WorkerProcess } from '../../../helpers/worker-process.ts';
import { adminClient, baseConfig, dropSlot, pgName, readEvents, replay } from './helpers.ts';

let admin: pg.Client;
let locker: pg.Client;
const base = pgName('cdc_pcrash');
const blocked = `${base}_a`;
const data = `${base}_b`;
const slot = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
const ROWS = 60_000;
const BLOCKED_ROWS = 2000;


/** The source's last committed offset in the worker's offsets.log. */
function committedOffset(stateDir: string): JsonObject | null {
  const file = join(stateDir, 'offsets.log');
  if (!existsSync(file)) return null;
  let last: JsonObject | null = null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    try {
      const [key, value] = JSON.parse(line.slice(space + 1)) as [string, JsonObject | null];
      if (key.includes('"pg-source"') && key.includes(prefix) && value) last = value;
    } catch {
      // a torn last line
    }
  }
  return last;
}

/** Ids of the data table that an offset claims as delivered: whole tables done, or the ranges of done chunks. */
function claimedIds(offset: JsonObject): Set<number> {
  const out = new Set<number>();
  if ((offset.snapshot_done as string[]).includes(`public.${data}`)) {
    for (let id = 1; id <= ROWS; id++) out.add(id);
    return out;
  }
  const entry = (offset.snapshot_chunks as Record<string, { plan: Plan; done: string }>)[`public.${data}`];
  if (!entry) return out;
  for (const i of decodeDone(entry.done)) {
    const r = chunkRange(entry.plan, i);
    if (r.kind !== 'key') throw new Error('expected key ranges');
    const lo = r.lo ? Number(r.lo[0]) : 0;
    const hi = r.hi ? Number(r.hi[0]) : ROWS;
    for (let id = lo + 1; id <= Math.min(hi, ROWS); id++) out.add(id);
  }
  return out;
}

beforeAll(async () => {
  admin = await adminClient();
  locker = await adminClient();
  await admin.query(`create table ${blocked} (id int primary key, v int not null) partition by range (id)`);
  await admin.query(`create table ${blocked}_p1 partition of ${blocked} for values from (1) to (1001)`);
  await admin.query(`create table ${blocked}_p2 partition of ${blocked} for values from (1001) to (${BLOCKED_ROWS + 1})`);
  await admin.query(`insert into ${blocked} select g, 0 from generate_series(1, ${BLOCKED_ROWS}) g`);
  await admin.query(`create table ${data} (id int primary key, v int not null, pad text)`);
  await admin.query(`insert into ${data} select g, 0, repeat('d', 100) from generate_series(1, ${ROWS}) g`);
});

afterAll(async () => {
  await locker.query('rollback').catch(() => {});
  await locker.end();
  await dropSlot(admin, slot);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${blocked}, ${data}`);
  await admin.end();
});

describe('postgres-cdc parallel snapshot: kill -9 and resume', () => {
  it('resumes at chunk granularity: committed chunks are not read again, no row is missing', async () => {
    const stateDir = tempDir('cdc-pcrash-state');
    const connectors = tempDir('cdc-pcrash-connectors');
    const out = join(tempDir('cdc-pcrash-out'), 'events.jsonl');
    writeFileSync(join(connectors, 'source.json'), JSON.stringify({
      name: 'pg-source',
      config: {
        'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
        ...baseConfig({ slot, publication, prefix }, {
          'table.include.list': `public\\.(${blocked}|${data})`, 'snapshot.max.threads': '3', 'snapshot.fetch.size': '500', 'tombstones.on.delete': 'false',
        }),
      },
    }));
    const topics = [blocked, data].map((t) => `${prefix}.public.${t}`).join(',');
    writeFileSync(join(connectors, 'sink.json'), JSON.stringify({ name: 'pg-sink', config: { 'connector.class': 'FileStreamSink', topics, file: out } }));
    const env = { TRIBUTARY_CONNECTORS_DIR: connectors, TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '100' };

    // An ACCESS EXCLUSIVE lock is WAL-logged with a transaction id, and creating a slot waits for
    // running transactions: so the publication and slot come first (the connector then snapshots
    // in a fresh exported snapshot, as a resumed one does), then the lock.
    await admin.query(`create publication ${publication} for all tables`);
    await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    await locker.query('begin');
    await locker.query(`lock table ${blocked}_p1 in access exclusive mode`);
    let worker: WorkerProcess = await startWorkerProcess({ stateDir, env });
    try {
      await eventually(async () => {
        const o = committedOffset(stateDir);
        return o?.snapshot === true && claimedIds(o).size > 0;
      }, 60_000, 'a committed offset claiming chunks of the second table');
      await worker.kill9();
      const committed = committedOffset(stateDir)!;
      expect(committed.snapshot).toBe(true); // the locked chunk cannot have finished
      const claimed = claimedIds(committed);
      const before = readEvents(out);
      for (const id of claimed) expect(before.some((e) => e.op === 'r' && e.after?.id === id)).toBe(true);

      // While it is down: change claimed rows and others, add rows; then let the locked chunk go.
      await admin.query(`update ${data} set v = 1 where id % 997 = 0`);
      await admin.query(`insert into ${data} select g, 2, 'new' from generate_series(${ROWS + 1}, ${ROWS + 50}) g`);
      await admin.query(`delete from ${data} where id % 1999 = 0`);
      await locker.query('rollback');
      worker = await startWorkerProcess({ stateDir, env });

      const expected = new Map((await admin.query<{ id: number; v: number }>(`select id, v from ${data}`)).rows.map((r) => [r.id, r.v]));
      const expectedBlocked = (await admin.query<{ id: number }>(`select id from ${blocked}`)).rows.length;
      const events = await eventually(async () => {
        const all = readEvents(out);
        const state = replay(all.filter((e) => e.source.table === data));
        const blockedRows = new Set(all.filter((e) => e.source.table === blocked).map((e) => e.after!.id));
        const dataOk = state.size === expected.size && [...expected].every(([id, v]) => state.get(id) === v);
        return dataOk && blockedRows.size === expectedBlocked ? all : null;
      }, 60_000, 'the replayed events to equal the tables');

      // Rows of the chunks claimed before the kill were read once, before it; never again.
      const snapshotReads = new Map<number, number>();
      for (const e of events!) {
        if (e.source.table === data && e.op === 'r') snapshotReads.set(e.after!.id, (snapshotReads.get(e.after!.id) ?? 0) + 1);
      }
      const readAgain = [...claimed].filter((id) => snapshotReads.get(id) !== 1);
      expect(readAgain.slice(0, 10)).toEqual([]);
      // ... and the changes made while down arrived from the stream.
      const updated = new Set(events!.filter((e) => e.source.table === data && e.op === 'u').map((e) => e.after!.id));
      expect(updated.size).toBe(Math.floor(ROWS / 997));
      expect(await worker.stop()).toBe(0);
    } catch (e) {
      const status = await fetch(`${worker.url}/connectors/pg-source/status`).then((r) => r.text()).catch(() => 'no status');
      throw new Error(`${(e as Error).message}\nstatus: ${status}\nworker output (tail): ${worker.output().slice(-3000)}`);
    } finally {
      if (worker.child.exitCode === null) await worker.kill9();
    }
  });
});
