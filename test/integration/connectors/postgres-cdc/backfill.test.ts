/**
 * Ad-hoc backfills (execute-snapshot signals) against the real Postgres, through the task API:
 * a backfill while a writer keeps changing the table ends, replayed per key, with exactly the
 * table; a filter limits the rows; bad signals are ConfigErrors; other signal types are not ours;
 * a restarted task resumes after the last committed chunk.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../runtime/api/index.ts';
import type { JsonObject, SourceRecord } from '../../../../runtime/api/index.ts';
import { MemoryOffsets } from '../../../unit/connectors/fake-context.ts';
import { adminClient, baseConfig, dropSlot, pgName, startTask, values } from './helpers.ts';

let admin: pg.Client;
const busy = pgName('cdc_bf_busy');
const filtered = pgName('cdc_bf_filter');
const resumed = pgName('cdc_bf_resume');
const uncaptured = pgName('cdc_bf_other');
const inWindow = pgName('cdc_bf_window');
const touch = pgName('cdc_bf_touch');
const publication = pgName('pub');
const prefix = pgName('srv');
const slots: string[] = [];
const ROWS = 3000;

function config(extra: Record<string, string> = {}): Record<string, string> {
  const slot = pgName('slot');
  slots.push(slot);
  return baseConfig({ slot, publication, prefix }, {
    'table.include.list': `public\\.(${busy}|${filtered}|${resumed}|${inWindow})`,
    'publication.autocreate.mode': 'filtered',
    'snapshot.mode': 'never',
    'incremental.snapshot.chunk.size': '100',
    ...extra,
  });
}

const topic = (t: string) => `${prefix}.public.${t}`;
const ops = (records: SourceRecord[], t: string, op: string) => values(records, topic(t)).filter((v) => v.op === op);

/** Applies the events in order, per key: what a consumer of the topic ends with. */
function replay(records: SourceRecord[], t: string): Map<number, number> {
  const state = new Map<number, number>();
  for (const r of records) {
    if (r.topic !== topic(t) || r.value === null) continue;
    const v = r.value as { op: string; before: { id: number } | null; after: { id: number; v: number } | null };
    if (v.op === 'd') state.delete(v.before!.id);
    else state.set(v.after!.id, v.after!.v);
  }
  return state;
}

async function tableState(t: string): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ id: number; v: number }>(`select id, v from ${t}`);
  return new Map(rows.map((r) => [r.id, r.v]));
}

beforeAll(async () => {
  admin = await adminClient();
  for (const t of [busy, resumed]) {
    await admin.query(`create table ${t} (id int primary key, v int not null, pad text)`);
    await admin.query(`insert into ${t} select g, 0, repeat('x', 50) from generate_series(1, ${ROWS}) g`);
  }
  await admin.query(`create table ${filtered} (id int primary key, v int not null, status text not null)`);
  await admin.query(`insert into ${filtered} select g, g, case when g % 3 = 0 then 'open' else 'closed' end from generate_series(1, 1000) g`);
  await admin.query(`create table ${uncaptured} (id int primary key)`);
  await admin.query(`create table ${inWindow} (id int primary key, v int not null)`);
  await admin.query(`insert into ${inWindow} select g, 0 from generate_series(1, 1000) g`);
  // Used as a backfill filter: at the 50th row of each chunk it updates the next row and deletes the
  // one after. The select's own statement does not see those changes (same snapshot), and they commit
  // with it, between the chunk's watermarks: exactly the changes the watermarks exist for.
  await admin.query(`create function ${touch}(id int) returns boolean language plpgsql as $$
    begin
      if id % 100 = 50 then
        update ${inWindow} set v = v + 1 where ${inWindow}.id = $1 + 1;
        delete from ${inWindow} where ${inWindow}.id = $1 + 2;
      end if;
      return true;
    end $$`);
});

afterAll(async () => {
  for (const s of slots) await dropSlot(admin, s);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop function if exists ${touch}(int)`);
  await admin.query(`drop table if exists ${busy}, ${filtered}, ${resumed}, ${uncaptured}, ${inWindow}`);
  await admin.end();
});

describe('postgres-cdc backfills (execute-snapshot signals)', () => {
  it('backfills a table while concurrent updates, deletes and inserts stream: replaying the events gives the table', async () => {
    const t = await startTask(config());
    try {
      await t.pollUntil(() => t.ctx.progress.phase === 'streaming');
      expect(await t.task.signal({ id: 'bf-1', type: 'execute-snapshot', data: { 'data-collections': [`public.${busy}`], type: 'incremental' } })).toBe(true);

      // A writer changes random rows (in chunks read, being read and not yet read) until the backfill is done.
      let stop = false;
      let counter = 1_000_000;
      let writes = 0;
      const writer = (async () => {
        while (!stop) {
          const id = 1 + Math.floor(Math.random() * ROWS);
          const n = counter++;
          await admin.query('begin');
          await admin.query(`update ${busy} set v = $2 where id = $1`, [id, n]);
          if (n % 5 === 0) await admin.query(`delete from ${busy} where id = $1`, [(id * 7) % ROWS + 1]);
          if (n % 7 === 0) await admin.query(`insert into ${busy} (id, v) values ($1, $1) on conflict (id) do nothing`, [ROWS + n]);
          await admin.query('commit');
          writes++;
        }
      })();
      try {
        await t.pollUntil(() => t.ctx.progress.backfillCompleted === true, 120_000);
      } finally {
        stop = true;
        await writer;
      }
      expect(writes).toBeGreaterThan(0);
      // Every write was committed before this one: once it streamed, the events are complete.
      await admin.query(`insert into ${busy} (id, v) values (-1, -1)`);
      await t.pollUntil((all) => values(all, topic(busy)).some((v) => v.op === 'c' && v.after.id === -1), 60_000);

      const reads = ops(t.records, busy, 'r');
      expect(reads.length).toBeGreaterThan(0);
      expect(reads.every((v) => v.source.snapshot === 'incremental' && v.before === null)).toBe(true);
      expect(replay(t.records, busy)).toEqual(await tableState(busy));
      expect(t.records.some((r) => r.topic === `${prefix}.message`)).toBe(false); // watermarks are no events
      expect(t.ctx.progress).toMatchObject({ backfillId: 'bf-1', backfillTablesDone: 1, backfillTablesTotal: 1, backfillCompleted: true });
      expect(t.ctx.progress.backfillChunksDone).toBeGreaterThanOrEqual(ROWS / 100);
      expect(t.records.at(-1)!.sourceOffset.backfill).toBeUndefined(); // done: the offset no longer carries it
    } finally {
      await t.stop();
    }
  }, 180_000);

  it('drops from a chunk the rows a change committed between its watermarks touched (their events come from the stream)', async () => {
    const t = await startTask(config());
    try {
      await t.pollUntil(() => t.ctx.progress.phase === 'streaming');
      expect(await t.task.signal({ id: 'bf-w', type: 'execute-snapshot', data: {
        'data-collections': [`public.${inWindow}`],
        'additional-conditions': [{ 'data-collection': `public.${inWindow}`, filter: `${touch}(id)` }],
      } })).toBe(true);
      await t.pollUntil(() => t.ctx.progress.backfillCompleted === true, 60_000);
      await admin.query(`insert into ${inWindow} values (-1, -1)`);
      await t.pollUntil((all) => values(all, topic(inWindow)).some((v) => v.op === 'c' && v.after.id === -1), 30_000);

      const reads = ops(t.records, inWindow, 'r').map((v) => v.after.id);
      // 10 chunks; in each, the updated and the deleted row were selected (with old values) and dropped.
      expect(t.ctx.progress.backfillRowsSuperseded).toBe(20);
      for (let c = 0; c < 10; c++) expect(reads).not.toContain(c * 100 + 51);
      expect(reads).toHaveLength(1000 - 20);
      expect(ops(t.records, inWindow, 'u')).toHaveLength(10);
      expect(replay(t.records, inWindow)).toEqual(await tableState(inWindow));
    } finally {
      await t.stop();
    }
  }, 120_000);

  it('limits the rows with additional-conditions, refuses bad signals and ignores other types', async () => {
    const t = await startTask(config());
    try {
      await t.pollUntil(() => t.ctx.progress.phase === 'streaming');
      const signal = (data: JsonObject, type = 'execute-snapshot') => t.task.signal({ id: 'x', type, data });
      expect(await signal({}, 'log')).toBe(false);
      expect(await signal({ 'data-collections': [`public.${filtered}`] }, 'pause-snapshot')).toBe(false);
      await expect(signal({ 'data-collections': ['public.no_such_table'] })).rejects.toThrow(ConfigError);
      await expect(signal({ 'data-collections': ['public.no_such_table'] })).rejects.toThrow(/public\.no_such_table does not exist/);
      await expect(signal({ 'data-collections': [`public.${uncaptured}`] })).rejects.toThrow(new RegExp(`${uncaptured} is not captured`));
      await expect(signal({ 'data-collections': [`public.${filtered}`], type: 'blocking' })).rejects.toThrow(/only "incremental"/);
      await expect(signal({})).rejects.toThrow(/needs "data-collections"/);
      await expect(signal({ 'data-collections': [`public.${filtered}`], 'additional-conditions': [{ 'data-collection': `public.${filtered}`, filter: 'no_such_column = 1' }] }))
        .rejects.toThrow(/filter for public\..* is not a valid condition/);

      expect(await signal({
        'data-collections': [`public.${filtered}`],
        'additional-conditions': [{ 'data-collection': `public.${filtered}`, filter: "status = 'open'" }],
      })).toBe(true);
      await t.pollUntil(() => t.ctx.progress.backfillCompleted === true, 60_000);
      const expected = (await admin.query<{ id: number }>(`select id from ${filtered} where status = 'open' order by id`)).rows.map((r) => r.id);
      expect(ops(t.records, filtered, 'r').map((v) => v.after.id)).toEqual(expected);
    } finally {
      await t.stop();
    }
  }, 120_000);

  it('stop-snapshot cancels a running backfill', async () => {
    const t = await startTask(config());
    try {
      await t.pollUntil(() => t.ctx.progress.phase === 'streaming');
      expect(await t.task.signal({ id: 'bf-s', type: 'execute-snapshot', data: { 'data-collections': [`public.${busy}`] } })).toBe(true);
      await t.pollUntil((all) => ops(all, busy, 'r').length >= 100, 30_000);
      const read = ops(t.records, busy, 'r').length;
      expect(await t.task.signal({ id: 'bf-s2', type: 'stop-snapshot', data: { 'data-collections': [`public.${busy}`], type: 'incremental' } })).toBe(true);
      await t.pollUntil(() => t.ctx.progress.backfillCompleted === true, 30_000);
      await t.pollUntil(() => true);
      expect(ops(t.records, busy, 'r').length).toBe(read);
      expect(t.ctx.progress.backfillTable).toBeNull();
    } finally {
      await t.stop();
    }
  }, 60_000);

  it('resumes after a restart from the committed offset, after the last committed chunk', async () => {
    const cfg = config();
    const t = await startTask(cfg);
    let committed: JsonObject;
    const offsets = new MemoryOffsets();
    try {
      await t.pollUntil(() => t.ctx.progress.phase === 'streaming');
      expect(await t.task.signal({ id: 'bf-r', type: 'execute-snapshot', data: { 'data-collections': [`public.${resumed}`] } })).toBe(true);
      await t.pollUntil((all) => ops(all, resumed, 'r').length >= 450, 60_000);
      // The runtime committed up to the middle of the fifth chunk (ids 401-500) before the crash.
      const cut = t.records.findIndex((r) => r.topic === topic(resumed) && (r.value as { after: { id: number } }).after.id === 450);
      committed = t.records[cut].sourceOffset;
      offsets.set(t.records[cut].sourcePartition, committed);
      expect((committed.backfill as JsonObject).after).toEqual(['400']); // the chunk's last record has not been delivered
    } finally {
      await t.stop();
    }
    await admin.query(`update ${resumed} set v = 7 where id in (10, 420, 2500)`);
    await admin.query(`delete from ${resumed} where id = 2600`);

    const t2 = await startTask(cfg, offsets);
    try {
      await t2.pollUntil(() => t2.ctx.progress.backfillCompleted === true, 60_000);
      const ids = ops(t2.records, resumed, 'r').map((v) => v.after.id);
      expect(Math.min(...ids)).toBe(401); // no chunk before the committed key is read again
      expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
      expect(t2.ctx.progress).toMatchObject({ backfillId: 'bf-r', backfillCompleted: true });
      // The rows before the committed key came in the first run; together with the stream they give the table.
      const firstRun = t.records.slice(0, t.records.findIndex((r) => r.sourceOffset === committed) + 1);
      await t2.pollUntil((all) => values(all, topic(resumed)).some((v) => v.op === 'd' && v.before.id === 2600), 30_000);
      expect(replay([...firstRun, ...t2.records], resumed)).toEqual(await tableState(resumed));
    } finally {
      await t2.stop();
    }
  }, 120_000);
});
