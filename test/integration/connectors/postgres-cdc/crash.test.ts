/**
 * kill -9 a real worker mid-snapshot and again mid-stream while a writer keeps changing the table:
 * replaying the events in the sink file gives exactly the table, and every change made while
 * streaming arrives at least once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startWorkerProcess, tempDir, type WorkerProcess } from '../../../helpers/worker-process.ts';
import { adminClient, baseConfig, dropSlot, pgName, readEvents, replay } from './helpers.ts';

let admin: pg.Client;
const table = pgName('cdc_crash');
const slot = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
const topic = `${prefix}.public.${table}`;
const ROWS = 20_000;


let counter = 1_000_000;
/** One transaction of a few changes; each write sets v to a value never used before. */
async function writeSome(written: Array<[number, number]>): Promise<void> {
  const id = 1 + Math.floor(Math.random() * ROWS);
  const a = counter++;
  const b = counter++;
  await admin.query('begin');
  await admin.query(`update ${table} set v = $2 where id = $1`, [id, a]);
  await admin.query(`insert into ${table} (id, v) values ($1, $2)`, [b, b]);
  if (b % 3 === 0) await admin.query(`delete from ${table} where id = $1`, [b - 3]);
  await admin.query('commit');
  written.push([id, a], [b, b]);
}

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create table ${table} (id int primary key, v int not null, pad text)`);
  await admin.query(`insert into ${table} select g, 0, repeat('p', 100) from generate_series(1, ${ROWS}) g`);
});

afterAll(async () => {
  await dropSlot(admin, slot);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${table}`);
  await admin.end();
});

describe('postgres-cdc crash (kill -9) and restart', () => {
  it('loses no change across a crash mid-snapshot and one mid-stream', async () => {
    const stateDir = tempDir('cdc-crash-state');
    const connectors = tempDir('cdc-crash-connectors');
    mkdirSync(connectors, { recursive: true });
    const out = join(tempDir('cdc-crash-out'), 'events.jsonl');
    writeFileSync(join(connectors, 'source.json'), JSON.stringify({
      name: 'pg-source',
      config: {
        'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
        ...baseConfig({ slot, publication, prefix }, { 'table.include.list': `public.${table}`, 'snapshot.fetch.size': '20', 'tombstones.on.delete': 'false' }),
      },
    }));
    writeFileSync(join(connectors, 'sink.json'), JSON.stringify({ name: 'pg-sink', config: { 'connector.class': 'FileStreamSink', topics: topic, file: out } }));
    const env = { TRIBUTARY_CONNECTORS_DIR: connectors, TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '100' };

    let worker: WorkerProcess = await startWorkerProcess({ stateDir, env });
    const written: Array<[number, number]> = [];
    try {
      // Crash 1: mid-snapshot (the table is read 20 rows at a time); then writes while it is down.
      await eventually(async () => readEvents(out).length >= 300, 30_000, 'part of the snapshot');
      await worker.kill9();
      for (let i = 0; i < 20; i++) await writeSome(written);
      const afterFirst = readEvents(out).length;
      expect(afterFirst).toBeLessThan(ROWS);
      worker = await startWorkerProcess({ stateDir, env });
      for (let i = 0; i < 20; i++) await writeSome(written);

      // Wait until streaming delivers a change made now, then crash 2 mid-stream.
      const streamingFrom = written.length;
      await writeSome(written);
      const probe = written[written.length - 1][1];
      await eventually(async () => readEvents(out).some((e) => e.op !== 'r' && e.after?.v === probe), 30_000, 'streaming after the first restart');
      for (let i = 0; i < 30; i++) await writeSome(written);
      await worker.kill9();
      for (let i = 0; i < 30; i++) await writeSome(written);
      worker = await startWorkerProcess({ stateDir, env });
      for (let i = 0; i < 30; i++) await writeSome(written);

      const { rows } = await admin.query<{ id: number; v: number }>(`select id, v from ${table}`);
      const expected = new Map(rows.map((r) => [r.id, r.v]));
      const events = await eventually(async () => {
        const ev = readEvents(out);
        const state = replay(ev);
        return state.size === expected.size && [...expected].every(([id, v]) => state.get(id) === v) ? ev : null;
      }, 60_000, 'the replayed events to equal the table');

      // Every change made after streaming began is in the file, crash or not.
      const seen = new Set(events!.filter((e) => e.after).map((e) => `${e.after!.id}:${e.after!.v}`));
      const missing = written.slice(streamingFrom).filter(([id, v]) => !seen.has(`${id}:${v}`));
      expect(missing).toEqual([]);
      expect(await worker.stop()).toBe(0);
    } catch (e) {
      const status = await fetch(`${worker.url}/connectors/pg-source/status`).then((r) => r.text()).catch(() => 'no status');
      throw new Error(`${(e as Error).message}\nstatus: ${status}\nworker output (tail): ${worker.output().slice(-3000)}`);
    } finally {
      if (worker.child.exitCode === null) await worker.kill9();
    }
  });
});
