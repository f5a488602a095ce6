/**
 * Snapshot chunk jobs when task 0 restarts mid-snapshot, driven through the task API (real
 * Postgres and Redis, offsets committed as the runtime would): the restarted task 0 continues the
 * run its offset names in a new exported snapshot (the old one died with its transaction), the
 * chunks completed before are not read again, and the job still queued with the dead snapshot is
 * read in the new one.
 *
 * Two tables of one chunk each (partitioned: the parent has no pages of its own, so one chunk)
 * have a partition locked, so the worker is stuck on the first while the second waits in the
 * queue: deterministic, no timing.
 */
import type pg from 'pg';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkWorkerTask } from '../../../../connectors/postgres-cdc/chunk-worker-task.ts';
import { TASK_ROLE, chunkJobId, snapshotMetaKey, snapshotQueueName } from '../../../../connectors/postgres-cdc/chunk-jobs.ts';
import { PostgresCdcTask } from '../../../../connectors/postgres-cdc/postgres-cdc-task.ts';
import type { SourceRecord, SourceTask } from '../../../../runtime/api/index.ts';
import { RetriableError } from '../../../../runtime/api/index.ts';
import { services, uniqueName } from '../../../infra/env.ts';
import { MemoryOffsets, sourceContext, type FakeSourceContext } from '../../../unit/connectors/fake-context.ts';
import { adminClient, baseConfig, dropSlot, pgName } from './helpers.ts';

const ROWS = 5000;
const base = pgName('cdc_jobs_rs');
const data = `${base}_a`;
const stuck = `${base}_y`;
const queued = `${base}_z`;
const slot = pgName('slot');
const slot2 = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
const connector = uniqueName('pg-jobs-restart');

let admin: pg.Client;
let locker: pg.Client;
let redis: Redis;

interface Driven {
  task: SourceTask;
  ctx: FakeSourceContext;
  offsets: MemoryOffsets;
  records: SourceRecord[];
}

async function start(task: SourceTask, role: string, taskId: number, offsets: MemoryOffsets, second = false): Promise<Driven> {
  const ctx: FakeSourceContext = { ...sourceContext(offsets, taskId), connectorName: second ? `${connector}-2` : connector };
  const config = baseConfig({ slot: second ? slot2 : slot, publication, prefix }, {
    'table.include.list': second ? `public\\.${data}` : `public\\.(${data}|${stuck}|${queued})`, 'snapshot.fetch.size': '250', 'redis.url': services.redis.url, [TASK_ROLE]: role,
  });
  await task.start(config, ctx);
  return { task, ctx, offsets, records: [] };
}

/** One poll, then what the runtime does once the records are durable: store offsets, call commit(). */
async function step(d: Driven): Promise<SourceRecord[]> {
  let out: SourceRecord[];
  try {
    out = await d.task.poll(AbortSignal.timeout(10_000));
  } catch (e) {
    // E.g. the slot still held by the stopped task's walsender: the runtime retries after a backoff.
    if (e instanceof RetriableError) {
      await new Promise((r) => setTimeout(r, 250));
      return [];
    }
    throw e;
  }
  d.records.push(...out);
  d.offsets.commit(out);
  if (out.length > 0) await d.task.commit?.(d.offsets.all());
  return out;
}

async function until(what: string, cond: () => boolean, ...tasks: Driven[]): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (cond()) return;
    for (const d of tasks) await step(d);
  }
  throw new Error(`not reached: ${what}; progress ${JSON.stringify(tasks.map((t) => t.ctx.progress))}`);
}

const ids = (records: SourceRecord[], table: string, op: string): number[] =>
  records.filter((r) => r.topic === `${prefix}.public.${table}` && (r.value as { op: string } | null)?.op === op).map((r) => (r.key as { id: number }).id);

beforeAll(async () => {
  admin = await adminClient();
  locker = await adminClient();
  redis = new Redis(services.redis.url, { lazyConnect: true });
  await admin.query(`create table ${data} (id int primary key, v int not null)`);
  await admin.query(`insert into ${data} select g, 0 from generate_series(1, ${ROWS}) g`);
  await admin.query(`analyze ${data}`);
  for (const t of [stuck, queued]) {
    await admin.query(`create table ${t} (id int primary key, v int not null) partition by range (id)`);
    await admin.query(`create table ${t}_p1 partition of ${t} for values from (1) to (101)`);
    await admin.query(`create table ${t}_p2 partition of ${t} for values from (101) to (201)`);
    await admin.query(`insert into ${t} select g, 0 from generate_series(1, 200) g`);
  }
  await admin.query(`create publication ${publication} for all tables`);
  await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot2]);
  await locker.query('begin');
  await locker.query(`lock table ${stuck}_p1, ${queued}_p1 in access exclusive mode`);
});

afterAll(async () => {
  await locker.query('rollback').catch(() => {});
  await locker.end();
  redis.disconnect();
  await dropSlot(admin, slot);
  await dropSlot(admin, slot2);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${data}, ${stuck}, ${queued}`);
  await admin.end();
});

describe('postgres-cdc snapshot chunk jobs: task 0 restarts mid-snapshot', () => {
  it('continues the run in a new snapshot: completed chunks are not read again, queued ones get the new snapshot', async () => {
    const mainOffsets = new MemoryOffsets();
    let main = await start(new PostgresCdcTask(), 'main', 0, mainOffsets);
    const worker = await start(new ChunkWorkerTask(), 'chunk-worker', 1, new MemoryOffsets());
    try {
      // Task 0 enqueues the jobs and stores the run in its offset (on a heartbeat record).
      await until('the run stored', () => mainOffsets.all().some((o) => typeof o.offset.snapshot_jobs === 'string'), main);
      const run = main.ctx.progress.snapshotRun;
      const chunks = Number(main.ctx.progress.snapshotChunksTotal);
      expect(chunks).toBeGreaterThan(10);
      // The worker reads and completes every chunk of the first table, then sticks on the locked one.
      await until('the worker stuck on the locked chunk', () => worker.ctx.progress.snapshotChunk === chunkJobId(`public.${stuck}`, 0) && Number(worker.ctx.progress.snapshotChunksCompleted) === chunks - 2, worker);
      expect(new Set(ids(worker.records, data, 'r')).size).toBe(ROWS);
      const firstSnapshot = JSON.parse((await redis.get(snapshotMetaKey(connector)))!).snapshot as string;

      // Task 0 goes away (its transaction, and with it the exported snapshot, ends) and comes back.
      await main.task.stop();
      main = await start(new PostgresCdcTask(), 'main', 0, mainOffsets);
      await until('task 0 continuing the run', () => main.ctx.progress.snapshotGeneration === 2, main);
      expect(main.ctx.progress.snapshotRun).toBe(run);
      expect(main.ctx.progress.snapshotChunksDone).toBe(chunks - 2);
      const meta = JSON.parse((await redis.get(snapshotMetaKey(connector)))!) as { snapshot: string; generation: number };
      expect(meta.generation).toBe(2);
      expect(meta.snapshot).not.toBe(firstSnapshot);
      // The job still queued names the new snapshot; the one being read keeps the old one.
      const queue = new Queue(snapshotQueueName(connector), { connection: { host: new URL(services.redis.url).hostname, port: Number(new URL(services.redis.url).port || 6379) } });
      try {
        expect((await queue.getJob(chunkJobId(`public.${queued}`, 0)))?.data).toMatchObject({ snapshot: meta.snapshot, generation: 2 });
        expect((await queue.getJob(chunkJobId(`public.${stuck}`, 0)))?.data).toMatchObject({ snapshot: firstSnapshot, generation: 1 });
      } finally {
        await queue.close();
      }

      // Let the locked chunks go: the worker ends the one it reads in the old snapshot (imported,
      // it outlives its exporter) and reads the queued one in the new snapshot.
      await locker.query('rollback');
      await until('the snapshot committed as done', () => mainOffsets.all().some((o) => o.partition.snapshot_worker === undefined && o.offset.snapshot === undefined && typeof o.offset.lsn === 'number'), worker, main);

      // Every row once: nothing of the completed chunks was read again after the restart.
      const dataIds = ids(worker.records, data, 'r');
      expect(dataIds.length).toBe(ROWS);
      expect(ids(worker.records, stuck, 'r').sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(ids(worker.records, queued, 'r').sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(Number(worker.ctx.progress.snapshotChunksCompleted)).toBe(chunks);
      // The run's jobs and meta record are dropped once the end is committed.
      for (let i = 0; i < 50 && (await redis.exists(snapshotMetaKey(connector))) === 1; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await redis.exists(snapshotMetaKey(connector))).toBe(0);

      // Then task 0 streams.
      await admin.query(`insert into ${data} values (${ROWS + 1}, 1)`);
      await until('the streamed insert', () => ids(main.records, data, 'c').includes(ROWS + 1), main);
    } finally {
      await worker.task.stop();
      await main.task.stop();
    }
  }, 90_000);

  it('starts a new run when jobs of the stored one are gone from Redis, rather than count the rest as the snapshot', async () => {
    const mainOffsets = new MemoryOffsets();
    const main = await start(new PostgresCdcTask(), 'main', 0, mainOffsets, true);
    let worker: Driven | undefined;
    const queue = new Queue(snapshotQueueName(`${connector}-2`), { connection: { host: new URL(services.redis.url).hostname, port: Number(new URL(services.redis.url).port || 6379) } });
    try {
      await until('the run stored', () => mainOffsets.all().some((o) => typeof o.offset.snapshot_jobs === 'string'), main);
      const firstRun = main.ctx.progress.snapshotRun;
      for (const i of [0, 3, 7]) expect(await queue.remove(chunkJobId(`public.${data}`, i))).toBe(1);
      await until('a new run', () => main.ctx.progress.snapshotRun !== firstRun, main);
      expect(main.ctx.progress.snapshotGeneration).toBe(1);
      worker = await start(new ChunkWorkerTask(), 'chunk-worker', 1, new MemoryOffsets(), true);
      const w = worker;
      await until('the snapshot committed as done', () => mainOffsets.all().some((o) => o.offset.snapshot === undefined && typeof o.offset.lsn === 'number'), w, main);
      const got = new Set(ids(w.records, data, 'r'));
      const table = (await admin.query<{ id: number }>(`select id from ${data}`)).rows.map((r) => r.id);
      expect(table.filter((id) => !got.has(id))).toEqual([]);
      expect(got.size).toBe(table.length);
    } finally {
      await queue.close();
      await worker?.task.stop();
      await main.task.stop();
    }
  }, 60_000);
});
