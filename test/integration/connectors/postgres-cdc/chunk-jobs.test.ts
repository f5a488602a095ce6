/**
 * Snapshot chunks as BullMQ jobs across a distributed cluster: two `tributary start` workers on
 * the test Kafka, a Postgres connector with tasks.max 3 and redis.url (task 0 coordinates, tasks 1
 * and 2 read chunks wherever the cluster put them), a worker killed with -9 in the middle.
 *
 * Mid-snapshot by construction, not by timing: two more tables of one chunk each (partitioned: the
 * parent has no pages, so one chunk) have a partition held under an ACCESS EXCLUSIVE lock from the
 * start, so their chunks (the last two jobs) cannot be read until the lock goes, and the snapshot
 * cannot end before. Once each chunk worker is stuck on one of them, the worker process that runs
 * a chunk worker but not task 0 is killed: its job must come back after the lock of the dead task
 * expires and be read on the surviving worker. (The slot exists before the connector starts, since
 * creating a slot waits for the locking transaction; task 0 then exports a snapshot of its own.
 * Task 0 restarting mid-snapshot is chunk-jobs-restart.test.ts.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../../infra/env.ts';
import { TestCluster, brokers } from '../../../helpers/cluster.ts';
import { readTopic } from '../../../helpers/kafka-topic.ts';
import { eventually, http } from '../../../helpers/worker-process.ts';
import { chunkJobId } from '../../../../connectors/postgres-cdc/chunk-jobs.ts';
import { adminClient, baseConfig, dropSlot, pgName } from './helpers.ts';

const ROWS = 30_000;
const BLOCKED_ROWS = 2000;
const base = pgName('cdc_jobs');
const data = `${base}_a`;
const lockedTables = [`${base}_y`, `${base}_z`];
const slot = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
const name = 'pg-chunk-jobs';
const dataTopic = `${prefix}.public.${data}`;

const cluster = new TestCluster();
let admin: pg.Client;
let locker: pg.Client;

interface TaskProgress { id: number; state: string; worker_id: string; progress?: Record<string, unknown> }

async function tasks(): Promise<TaskProgress[]> {
  for (const i of [0, 1]) {
    if (!cluster.workers[i]) continue;
    const res = await http('GET', `${cluster.url(i)}/connectors/${name}/status`).catch(() => null);
    if (res?.status === 200) return res.body.tasks as TaskProgress[];
  }
  return [];
}

/** Ids of the `op` events (c or r) on a topic, with how often each came. */
async function idsOn(topic: string, ops: string[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const r of await readTopic(brokers, topic, { idleMs: 1500 })) {
    if (!r.value) continue;
    const v = JSON.parse(r.value.toString('utf8')) as { op: string; after: { id: number } | null };
    if (!ops.includes(v.op) || !v.after) continue;
    out.set(v.after.id, (out.get(v.after.id) ?? 0) + 1);
  }
  return out;
}

beforeAll(async () => {
  admin = await adminClient();
  locker = await adminClient();
  await admin.query(`create table ${data} (id int primary key, v int not null, pad text)`);
  await admin.query(`insert into ${data} select g, g % 7, repeat('d', 100) from generate_series(1, ${ROWS}) g`);
  await admin.query(`analyze ${data}`);
  for (const t of lockedTables) {
    await admin.query(`create table ${t} (id int primary key, v int not null) partition by range (id)`);
    await admin.query(`create table ${t}_p1 partition of ${t} for values from (1) to (1001)`);
    await admin.query(`create table ${t}_p2 partition of ${t} for values from (1001) to (${BLOCKED_ROWS + 1})`);
    await admin.query(`insert into ${t} select g, 0 from generate_series(1, ${BLOCKED_ROWS}) g`);
  }
  await admin.query(`create publication ${publication} for all tables`);
  await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await locker.query('begin');
  await locker.query(`lock table ${lockedTables.map((t) => `${t}_p1`).join(', ')} in access exclusive mode`);
  await cluster.start(2);
}, 90_000);

afterAll(async () => {
  await locker.query('rollback').catch(() => {});
  await locker.end();
  for (const i of [0, 1]) {
    if (cluster.workers[i]) {
      await http('DELETE', `${cluster.url(i)}/connectors/${name}`).catch(() => {});
      break;
    }
  }
  await cluster.stopAll();
  await dropSlot(admin, slot);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${data}, ${lockedTables.join(', ')}`);
  await admin.end();
}, 60_000);

describe('postgres-cdc snapshot chunks as BullMQ jobs over a cluster', () => {
  it('spreads chunks over tasks on both workers, survives a kill -9 of one, then streams', async () => {
    const created = await http('POST', `${cluster.url(0)}/connectors`, {
      name,
      config: {
        'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
        ...baseConfig({ slot, publication, prefix }, {
          'table.include.list': `public\\.(${data}|${lockedTables.join('|')})`,
          'snapshot.fetch.size': '500',
          'tombstones.on.delete': 'false',
          'tasks.max': '3',
          'redis.url': services.redis.url,
          'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
          'key.converter.schemas.enable': 'false',
          'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
          'value.converter.schemas.enable': 'false',
        }),
      },
    });
    expect(created.status).toBe(201);
    try {
      // Both chunk workers read chunks of the first table, then each gets stuck on a locked one.
      const lockedJobs = lockedTables.map((t) => chunkJobId(`public.${t}`, 0));
      const before = await eventually(async () => {
        const ts = await tasks();
        const workers = ts.filter((t) => t.id > 0);
        const ready = ts.length === 3 && workers.every((t) => Number(t.progress?.snapshotChunksRead ?? 0) > 0 && lockedJobs.includes(t.progress?.snapshotChunk as string));
        return ready ? ts : null;
      }, 45_000, 'both chunk workers reading, then each on a locked chunk') as TaskProgress[];
      const main = before.find((t) => t.id === 0)!;
      expect(main.progress?.snapshotCompleted).not.toBe(true);
      expect(Number(main.progress?.snapshotChunksTotal)).toBeGreaterThan(20);
      // Chunks were read by tasks on both workers of the cluster.
      const chunkWorkers = new Set(before.filter((t) => t.id > 0).map((t) => t.worker_id));
      expect(chunkWorkers.size).toBe(2);

      const victim = before.find((t) => t.id > 0 && t.worker_id !== main.worker_id)!;
      await cluster.kill9(Number(victim.worker_id.slice(1)));
      await locker.query('rollback');

      // The snapshot ends: every chunk job completed (the dead task's ones read again elsewhere),
      // and task 0's committed offset says so (a restart would stream, not snapshot again).
      const alive = cluster.workers.findIndex((w) => w !== undefined);
      await eventually(async () => {
        const res = await http('GET', `${cluster.url(alive)}/connectors/${name}/offsets`);
        const main = (res.body?.offsets as Array<{ partition: Record<string, unknown>; offset: Record<string, unknown> }> | undefined)?.find((o) => o.partition.server === prefix && o.partition.snapshot_worker === undefined);
        return main !== undefined && main.offset.snapshot === undefined && typeof main.offset.lsn === 'number';
      }, 60_000, 'task 0 to commit the end of the snapshot');
      // ... and streaming follows it.
      await admin.query(`insert into ${data} values (${ROWS + 1}, 42, 'streamed')`);
      const dataIds = await eventually(async () => {
        const ids = await idsOn(dataTopic, ['r', 'c']);
        return ids.has(ROWS + 1) ? ids : null;
      }, 30_000, 'the row inserted after the snapshot') as Map<number, number>;

      const expected = (await admin.query<{ id: number }>(`select id from ${data}`)).rows.map((r) => r.id);
      const missing = expected.filter((id) => !dataIds.has(id));
      expect(missing.slice(0, 10)).toEqual([]);
      expect(dataIds.size).toBe(ROWS + 1);
      // The locked chunks, the dead task's one included, arrived whole.
      for (const t of lockedTables) {
        const got = await idsOn(`${prefix}.public.${t}`, ['r']);
        const missingLocked = Array.from({ length: BLOCKED_ROWS }, (_, i) => i + 1).filter((id) => !got.has(id));
        expect(missingLocked.slice(0, 10)).toEqual([]);
      }
      // The streamed row came as a change event, after the snapshot.
      const streamed = (await readTopic(brokers, dataTopic, { idleMs: 1500 })).map((r) => JSON.parse(r.value!.toString('utf8')) as { op: string; after: { id: number } });
      expect(streamed.find((e) => e.after?.id === ROWS + 1)?.op).toBe('c');
    } catch (e) {
      const out = cluster.workers.map((w, i) => `--- w${i}\n${w?.output().slice(-4000) ?? 'dead'}`).join('\n');
      throw new Error(`${(e as Error).message}\nstatus: ${JSON.stringify(await tasks())}\n${out}`);
    }
  }, 150_000);
});
