/**
 * A backfill end to end: POST /connectors/<n>/signals on a running worker, the Postgres task
 * re-reads the rows the filter selects while streaming goes on, and a file sink receives them as
 * `op: r` events with `source.snapshot = "incremental"`. A bad table is a 400 naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../../../config/worker-config.ts';
import { startStandaloneWorker, type RunningWorker } from '../../../../runtime/cluster/standalone-worker.ts';
import { eventually, http, tempDir } from '../../../helpers/worker-process.ts';
import { adminClient, baseConfig, dropSlot, pgName } from './helpers.ts';

let admin: pg.Client;
let worker: RunningWorker;
const table = pgName('cdc_backfill_rest');
const slot = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
const file = join(tempDir('backfill-rest'), 'events.jsonl');

interface Event { op: string; after: { id: number; status: string } | null; source: { snapshot: string } }
const events = (): Event[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event) : []);

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create table ${table} (id int primary key, status text not null)`);
  await admin.query(`insert into ${table} select g, case when g % 3 = 0 then 'open' else 'closed' end from generate_series(1, 300) g`);
  worker = await startStandaloneWorker(loadWorkerConfig({ env: {}, overrides: { 'rest.port': 0, 'state.dir': tempDir('backfill-rest-state'), 'log.level': 'warn' } }));
});

afterAll(async () => {
  await worker?.stop();
  await dropSlot(admin, slot);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${table}`);
  await admin.end();
});

describe('backfill through the REST API', () => {
  it('re-reads the filtered rows as incremental snapshot events while streaming', async () => {
    const source = { 'connector.class': 'postgres-cdc', ...baseConfig({ slot, publication, prefix }, { 'snapshot.mode': 'never', 'table.include.list': `public\\.${table}` }) };
    expect((await http('PUT', `${worker.url}/connectors/pg/config`, source)).status).toBe(201);
    const sink = { 'connector.class': 'FileStreamSink', topics: `${prefix}.public.${table}`, file };
    expect((await http('PUT', `${worker.url}/connectors/out/config`, sink)).status).toBe(201);
    // Streaming works before the backfill: a change arrives as op c.
    await eventually(async () => (await http('GET', `${worker.url}/connectors/pg/status`)).body.tasks?.[0]?.state === 'RUNNING', 30_000, 'pg running');
    let probe = 1000;
    await eventually(async () => {
      // A new row each time: one inserted before the slot existed is never streamed.
      await admin.query(`insert into ${table} values ($1, 'probe')`, [probe++]);
      return events().some((e) => e.op === 'c');
    }, 30_000, 'the stream delivers');

    const bad = await http('POST', `${worker.url}/connectors/pg/signals`, { type: 'execute-snapshot', data: { 'data-collections': ['public.nope'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('public.nope');

    const sent = await http('POST', `${worker.url}/connectors/pg/signals`, {
      type: 'execute-snapshot',
      data: { 'data-collections': [`public.${table}`], 'additional-conditions': [{ 'data-collection': `public.${table}`, filter: "status = 'open'" }] },
    });
    expect(sent.status).toBe(202);
    expect(sent.body.accepted).toBe(1);
    await eventually(async () => events().filter((e) => e.op === 'r').length >= 100, 60_000, '100 backfilled rows');
    const backfilled = events().filter((e) => e.op === 'r');
    expect(new Set(backfilled.map((e) => e.after!.id))).toEqual(new Set(Array.from({ length: 100 }, (_, i) => 3 * (i + 1))));
    expect(backfilled.every((e) => e.after!.status === 'open' && e.source.snapshot === 'incremental')).toBe(true);
    // The task reports the backfill as done.
    await eventually(async () => (await http('GET', `${worker.url}/connectors/pg/status`)).body.tasks[0].progress?.backfillCompleted === true, 30_000, 'backfill completed');
  }, 120_000);
});
