// The parallel snapshot against the real Postgres, driven through the task API: every row exactly
// once on 2..4 connections (keyed, composite-key, keyless and empty tables), one consistent
// snapshot shared by every connection, COPY and SELECT giving identical events for every mapped
// type, and a resume that skips exactly the chunks a committed offset claims.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDone, chunkRange, type Plan } from '../../../../connectors/postgres-cdc/snapshot.ts';
import type { JsonObject, SourceRecord } from '../../../../runtime/api/index.ts';
import { MemoryOffsets } from '../../../unit/connectors/fake-context.ts';
import { adminClient, baseConfig, dropSlot, pgName, startTask, type RunningTask } from './helpers.ts';

let admin: pg.Client;
const base = pgName('cdc_par');
const tInt = `${base}_int`;
const tComp = `${base}_comp`;
const tNoPk = `${base}_nopk`;
const tEmpty = `${base}_empty`;
const tTypes = `${base}_types`;
const tResume = `${base}_resume`;
const mood = `${base}_mood`;
const publication = pgName('pub');
const slots: string[] = [];
const prefix = pgName('srv');
const INT_ROWS = 6000;
const COMP_ROWS = 3000;
const NOPK_ROWS = 4000;

function names() {
  const slot = pgName('slot');
  slots.push(slot);
  return { slot, publication, prefix };
}

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create table ${tInt} (id int primary key, v text not null)`);
  await admin.query(`insert into ${tInt} select g, 'v' || g || repeat('x', 80) from generate_series(1, ${INT_ROWS}) g`);
  await admin.query(`create table ${tComp} (a text, b int, v int, primary key (a, b))`);
  await admin.query(`insert into ${tComp} select 'k' || (g % 7), g, g * 2 from generate_series(1, ${COMP_ROWS}) g`);
  await admin.query(`create table ${tNoPk} (n int, pad text)`);
  await admin.query(`insert into ${tNoPk} select g % 1000, repeat('p', 100) from generate_series(1, ${NOPK_ROWS}) g`);
  await admin.query(`create table ${tEmpty} (id int primary key)`);
  await admin.query(`create type ${mood} as enum ('sad', 'ok', 'happy')`);
  await admin.query(`create table ${tTypes} (
    id bigint primary key, n numeric(12,3), nv numeric, ts timestamp, tsz timestamptz, d date, tm time, tmz timetz, j json, jb jsonb,
    ia int[], ta text[], u uuid, b bytea, e ${mood}, f4 real, f8 float8, bo boolean, iv interval, vc varchar(10), ch char(3),
    t text, sm smallint, m money, ip inet, pt point, x xml, bits bit(4), ts0 timestamp(0))`);
  await admin.query(`insert into ${tTypes} values
    (1, 12.5, 3.14159, '2024-05-01 10:00:00.123456', '2024-05-01 12:00:00.5+02', '2024-05-01', '10:15:30.25', '08:15:30.25+02', '{"a": 1}', '{"b": [1, 2]}',
     '{1,2,NULL}', '{"x y","z"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', 'happy', 1.25, 1.5, true, '1 day 2 hours', 'hi', 'ab',
     'plain', 7, 12.34, '10.0.0.1/8', '(1,2)', '<a>1</a>', B'1010', '2024-05-01 10:00:00')`);
  await admin.query(`insert into ${tTypes} (id) values (2)`);
  await admin.query(`insert into ${tTypes} (id, nv, ts, tsz, f8, f4, j, jb, ta, b, t, iv, x) values
    (3, 'NaN', '-infinity', 'infinity', 'NaN', '-Infinity', '{"s": "line\\nbreak\\ttab"}', '{"k": "back\\\\slash \\"q\\""}',
     $1, '\\x0a095c0d00', $2, '-3 mons 4 days -00:00:01.5', '<r>a&amp;b</r>')`,
  [['q"uote', 'back\\slash', null, 'tab\there', 'new\nline', 'NULL', ''], 'tab\there\nnewline\\backslash\\N \r\f\v\b 東京 grüße']);
  await admin.query(`create table ${tResume} (id int primary key, v int not null, pad text)`);
  await admin.query(`insert into ${tResume} select g, 0, repeat('r', 60) from generate_series(1, 20000) g`);
  await admin.query(`create publication ${publication} for all tables`);
});

afterAll(async () => {
  for (const s of slots) await dropSlot(admin, s);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${tInt}, ${tComp}, ${tNoPk}, ${tEmpty}, ${tTypes}, ${tResume}`);
  await admin.query(`drop type if exists ${mood}`);
  await admin.end();
});

const topicOf = (table: string) => `${prefix}.public.${table}`;
const after = (records: SourceRecord[], table: string) =>
  records.filter((r) => r.topic === topicOf(table) && (r.value as { op: string } | null)?.op === 'r').map((r) => (r.value as { after: Record<string, unknown> }).after);

async function snapshotOnce(extra: Record<string, string>): Promise<RunningTask> {
  const t = await startTask(baseConfig(names(), { 'snapshot.mode': 'initial_only', 'publication.autocreate.mode': 'disabled', ...extra }));
  try {
    await t.pollUntil(() => t.ctx.progress.snapshotCompleted === true, 60_000);
  } finally {
    await t.stop();
  }
  return t;
}

function counts<T>(xs: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

describe('postgres-cdc parallel snapshot', () => {
  for (const threads of [2, 3, 4]) {
    it(`reads every row exactly once on ${threads} connections (keyed, composite key, no key, empty)`, async () => {
      const t = await snapshotOnce({
        'table.include.list': `public\\.(${tInt}|${tComp}|${tNoPk}|${tEmpty})`, 'snapshot.max.threads': String(threads), 'snapshot.fetch.size': '300',
        'snapshot.read.method': threads === 3 ? 'select' : 'copy',
      });
      const ints = after(t.records, tInt);
      expect(ints).toHaveLength(INT_ROWS);
      expect(new Set(ints.map((r) => r.id)).size).toBe(INT_ROWS);
      expect(ints.every((r) => r.v === `v${r.id}${'x'.repeat(80)}`)).toBe(true);
      const comps = after(t.records, tComp);
      expect(new Set(comps.map((r) => `${r.a}/${r.b}`)).size).toBe(COMP_ROWS);
      expect(comps.every((r) => r.v === (r.b as number) * 2 && r.a === `k${(r.b as number) % 7}`)).toBe(true);
      const nopk = after(t.records, tNoPk);
      expect(nopk).toHaveLength(NOPK_ROWS);
      expect([...counts(nopk.map((r) => r.n as number)).values()].every((c) => c === NOPK_ROWS / 1000)).toBe(true);
      expect(after(t.records, tEmpty)).toEqual([]);
      // The work was really cut up and spread.
      expect(t.ctx.progress.snapshotThreads).toBe(threads);
      expect(t.ctx.progress.snapshotChunksTotal as number).toBeGreaterThan(threads + 3);
      expect(t.ctx.progress.snapshotChunksDone).toBe(t.ctx.progress.snapshotChunksTotal);
      expect(t.ctx.progress.snapshotRowsDone).toBe(INT_ROWS + COMP_ROWS + NOPK_ROWS);
      // Debezium's markers: one first, one last, one last_in_data_collection per other non-empty table.
      const markers = counts(t.records.map((r) => (r.value as { source: { snapshot: string } }).source.snapshot));
      expect(markers.get('first')).toBe(1);
      expect(markers.get('last')).toBe(1);
      expect(markers.get('last_in_data_collection')).toBe(2);
      // The final record says the snapshot is complete: a restart streams instead of reading again.
      expect(t.records.at(-1)!.sourceOffset.snapshot).toBeUndefined();
    });
  }

  it('every connection reads the slot\'s snapshot: later writes are stream events, not snapshot rows', async () => {
    const t = await startTask(baseConfig(names(), {
      'table.include.list': `public.${tInt}`, 'publication.autocreate.mode': 'disabled', 'snapshot.max.threads': '3', 'snapshot.fetch.size': '300', 'max.batch.size': '100',
    }));
    try {
      t.records.push(...(await t.task.poll(AbortSignal.timeout(5000)))); // creates the slot and opens the snapshot on every connection
      expect(t.ctx.progress.snapshotThreads).toBe(3);
      await admin.query(`update ${tInt} set v = 'changed' where id in (1, ${INT_ROWS})`);
      await admin.query(`insert into ${tInt} values (${INT_ROWS + 1}, 'late')`);
      const done = (all: SourceRecord[]) => all.some((r) => (r.value as { op: string; after: { id: number } } | null)?.op === 'c');
      await t.pollUntil(done, 60_000);
      const snap = after(t.records, tInt);
      expect(snap).toHaveLength(INT_ROWS);
      expect(snap.filter((r) => r.v === 'changed' || r.id === INT_ROWS + 1)).toEqual([]);
      await t.pollUntil((all) => all.filter((r) => ['u', 'c'].includes((r.value as { op: string } | null)?.op ?? '')).length >= 3);
      const changes = t.records.map((r) => r.value as { op: string; after: { id: number; v: string } }).filter((v) => v.op === 'u' || v.op === 'c');
      expect(changes.map((v) => [v.op, v.after.id, v.after.v])).toEqual([['u', 1, 'changed'], ['u', INT_ROWS, 'changed'], ['c', INT_ROWS + 1, 'late']]);
    } finally {
      await t.stop();
      await admin.query(`delete from ${tInt} where id > ${INT_ROWS}`);
      await admin.query(`update ${tInt} set v = 'v' || id || repeat('x', 80) where v = 'changed'`);
    }
  });

  it('COPY and SELECT give identical events for every mapped type, nulls and escapes', async () => {
    const run = async (method: string) => (await snapshotOnce({ 'table.include.list': `public.${tTypes}`, 'snapshot.read.method': method, 'snapshot.max.threads': '2' })).records;
    const copy = await run('copy');
    const select = await run('select');
    const shape = (r: SourceRecord) => {
      const v = r.value as { after: unknown; op: string; source: Record<string, unknown> };
      return { topic: r.topic, key: r.key, keySchema: r.keySchema, valueSchema: r.valueSchema, after: v.after, op: v.op, table: v.source.table };
    };
    const byId = (rs: SourceRecord[]) => rs.map(shape).sort((a, b) => Number((a.key as { id: number }).id) - Number((b.key as { id: number }).id));
    expect(copy).toHaveLength(3);
    expect(byId(copy)).toEqual(byId(select));
    const row3 = byId(copy)[2].after as Record<string, unknown>;
    expect(row3.t).toBe('tab\there\nnewline\\backslash\\N \r\f\v\b 東京 grüße');
    expect(row3.ta).toEqual(['q"uote', 'back\\slash', null, 'tab\there', 'new\nline', 'NULL', '']);
    expect(Buffer.from(row3.b as Uint8Array).toString('hex')).toBe('0a095c0d00');
    expect(JSON.parse(row3.j as string)).toEqual({ s: 'line\nbreak\ttab' });
    const row2 = byId(copy)[1].after as Record<string, unknown>;
    expect(Object.entries(row2).filter(([k, v]) => k !== 'id' && v !== null)).toEqual([]);
  });

  it('resumes at chunk granularity: chunks a committed offset claims are not read again, and no row is missing', async () => {
    const n = names();
    const config = baseConfig(n, {
      'table.include.list': `public.${tResume}`, 'publication.autocreate.mode': 'disabled',
      'snapshot.max.threads': '3', 'snapshot.fetch.size': '500', 'max.batch.size': '200',
    });
    const offsets = new MemoryOffsets();
    const first = await startTask(config, offsets);
    let committed: JsonObject;
    try {
      // Readers can run at most a few batches ahead of poll(), so the snapshot is still going here.
      const chunksDone = (o: JsonObject | undefined) => {
        const c = (o?.snapshot_chunks as Record<string, { done: string }> | undefined)?.[`public.${tResume}`];
        return c ? decodeDone(c.done).size : 0;
      };
      await first.pollUntil((all) => chunksDone(all.at(-1)?.sourceOffset) >= 4);
      await first.commitAll();
      committed = offsets.get(first.records[0].sourcePartition)!;
      expect(committed.snapshot).toBe(true);
    } finally {
      await first.stop(); // no further commit: what the runtime stored is all a restart sees, as after kill -9
    }
    // Which ids the committed offset claims: the ranges of its done chunks.
    const entry = (committed.snapshot_chunks as Record<string, { plan: Plan; done: string }>)[`public.${tResume}`];
    const claimed = new Set<number>();
    for (const i of decodeDone(entry.done)) {
      const r = chunkRange(entry.plan, i);
      if (r.kind !== 'key') throw new Error('expected key ranges');
      const lo = r.lo ? Number(r.lo[0]) : 0;
      const hi = r.hi ? Number(r.hi[0]) : Infinity;
      for (let id = lo + 1; id <= Math.min(hi, 20000); id++) claimed.add(id);
    }
    expect(claimed.size).toBeGreaterThan(0);
    expect(claimed.size).toBeLessThan(20000);
    const firstIds = new Set(after(first.records, tResume).map((r) => r.id as number));
    for (const id of claimed) expect(firstIds.has(id)).toBe(true);

    // While "down": change claimed rows and add new ones; the resumed snapshot is a newer one.
    const claimedList = [...claimed].slice(0, 5);
    await admin.query(`update ${tResume} set v = 7 where id = any($1)`, [claimedList]);
    await admin.query(`insert into ${tResume} values (20001, 1, 'new'), (20002, 1, 'new')`);

    const second = await startTask(config, offsets);
    try {
      await second.pollUntil((all) => all.filter((r) => ['u', 'c'].includes((r.value as { op: string } | null)?.op ?? '')).length >= claimedList.length + 2, 60_000);
      const reread = after(second.records, tResume).map((r) => r.id as number);
      expect(reread.filter((id) => claimed.has(id))).toEqual([]);
      expect(reread.length).toBeGreaterThan(0);
      const all = new Set([...firstIds, ...reread]);
      const missing = [];
      for (let id = 1; id <= 20002; id++) if (!all.has(id)) missing.push(id);
      expect(missing).toEqual([]);
      // The claimed rows changed while down arrive as stream updates.
      const updates = second.records.map((r) => r.value as { op: string; after: { id: number; v: number } } | null).filter((v) => v?.op === 'u');
      expect(updates.map((u) => u!.after.id).sort()).toEqual([...claimedList].sort());
    } finally {
      await second.stop();
    }
  });
});
