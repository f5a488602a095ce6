// Types as a Debezium consumer sees them, before images, TOAST, schema changes, truncates,
// logical messages, transaction metadata and heartbeats, against the real Postgres.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsonConverter } from '../../../../runtime/converters/json-converter.ts';
import { parseLsn } from '../../../../connectors/postgres-cdc/lsn.ts';
import { adminClient, baseConfig, confirmedFlush, dropSlot, pgName, startTask, values, type RunningTask } from './helpers.ts';

let admin: pg.Client;
const types = pgName('cdc_types');
const full = pgName('cdc_full');
const mood = pgName('mood');
const slot = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
let t: RunningTask;

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create type ${mood} as enum ('sad', 'ok', 'happy')`);
  await admin.query(`create table ${types} (
    id bigint primary key, n numeric(12,3), nv numeric, ts timestamp, tsz timestamptz, d date, tm time, j json, jb jsonb,
    ia int[], ta text[], u uuid, b bytea, e ${mood}, f8 float8, bo boolean, iv interval, vc varchar(10))`);
  await admin.query(`create table ${full} (id int primary key, name text, big text)`);
  await admin.query(`alter table ${full} replica identity full`);
  t = await startTask(baseConfig({ slot, publication, prefix }, {
    'table.include.list': `public\\.(${types}|${full})`,
    'snapshot.mode': 'never',
    'skipped.operations': 'none',
    'provide.transaction.metadata': 'true',
  }));
  await t.task.poll(AbortSignal.timeout(1000)); // sets up the slot and starts streaming
});

afterAll(async () => {
  await t?.stop();
  await dropSlot(admin, slot);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${types}, ${full}`);
  await admin.query(`drop type if exists ${mood}`);
  await admin.end();
});

const take = async (n: number) => {
  const start = t.records.length;
  await t.pollUntil((all) => all.length >= start + n);
  return t.records.slice(start);
};

describe('postgres-cdc types and events', () => {
  it('maps every listed type as Debezium does, schema and value, through the JSON converter', async () => {
    await admin.query(`insert into ${types} values (1, 12.5, 3.14159, '2024-05-01 10:00:00.123456', '2024-05-01 12:00:00.5+02', '2024-05-01', '10:15:30.25',
      '{"a": 1}', '{"b": [1, 2]}', '{1,2,NULL}', '{"x y","z"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', 'happy', 1.5, true, '1 day 2 hours', 'hi')`);
    const recs = await take(3); // BEGIN, change, END
    const tx = recs.filter((r) => r.topic === `${prefix}.transaction`).map((r) => r.value as any);
    expect(tx.map((v) => v.status)).toEqual(['BEGIN', 'END']);
    expect(tx[1].event_count).toBe(1);
    expect(tx[1].data_collections).toEqual([{ data_collection: `public.${types}`, event_count: 1 }]);
    const rec = recs.find((r) => r.topic === `${prefix}.public.${types}`)!;
    const v = rec.value as any;
    expect(v.transaction).toMatchObject({ id: tx[0].id, total_order: 1, data_collection_order: 1 });
    const a = v.after;
    expect(a.id).toBe(1);
    expect(a.n).toBe('12.500');
    expect(a.nv.scale).toBe(5);
    expect(Buffer.from(a.nv.value).readUIntBE(0, a.nv.value.length)).toBe(314159);
    expect(a.ts).toBe(Date.UTC(2024, 4, 1, 10, 0, 0) * 1000 + 123456);
    expect(a.tsz).toBe('2024-05-01T10:00:00.5Z');
    expect(a.d).toBe(Math.floor(Date.UTC(2024, 4, 1) / 86_400_000));
    expect(a.tm).toBe((10 * 3600 + 15 * 60 + 30) * 1_000_000 + 250_000);
    expect(JSON.parse(a.j)).toEqual({ a: 1 });
    expect(JSON.parse(a.jb)).toEqual({ b: [1, 2] });
    expect(a.ia).toEqual([1, 2, null]);
    expect(a.ta).toEqual(['x y', 'z']);
    expect(a.u).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(Buffer.from(a.b).toString('hex')).toBe('00ff10');
    expect(a.e).toBe('happy');
    expect(a.f8).toBe(1.5);
    expect(a.bo).toBe(true);
    expect(a.iv).toBe((26 * 3600) * 1_000_000);
    expect(a.vc).toBe('hi');

    // The JSON converter's envelope, as a Debezium consumer reads it.
    const conv = new JsonConverter();
    const json = JSON.parse(conv.fromConnectData(rec.topic, rec.valueSchema, rec.value)!.toString('utf8'));
    const after = json.schema.fields.find((f: any) => f.field === 'after');
    const field = (name: string) => after.fields.find((f: any) => f.field === name);
    expect(json.schema.name).toBe(`${prefix}.public.${types}.Envelope`);
    expect(field('n')).toMatchObject({ type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '3', 'connect.decimal.precision': '12' } });
    expect(field('nv')).toMatchObject({ type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' });
    expect(field('ts')).toMatchObject({ type: 'int64', name: 'io.debezium.time.MicroTimestamp' });
    expect(field('tsz')).toMatchObject({ type: 'string', name: 'io.debezium.time.ZonedTimestamp' });
    expect(field('d')).toMatchObject({ type: 'int32', name: 'io.debezium.time.Date' });
    expect(field('tm')).toMatchObject({ type: 'int64', name: 'io.debezium.time.MicroTime' });
    expect(field('j')).toMatchObject({ type: 'string', name: 'io.debezium.data.Json' });
    expect(field('jb')).toMatchObject({ type: 'string', name: 'io.debezium.data.Json' });
    expect(field('ia')).toMatchObject({ type: 'array', items: { type: 'int32', optional: true } });
    expect(field('u')).toMatchObject({ type: 'string', name: 'io.debezium.data.Uuid' });
    expect(field('b')).toMatchObject({ type: 'bytes' });
    expect(field('e')).toMatchObject({ type: 'string', name: 'io.debezium.data.Enum', parameters: { allowed: 'sad,ok,happy' } });
    expect(field('iv')).toMatchObject({ type: 'int64', name: 'io.debezium.time.MicroDuration' });
    expect(field('id')).toMatchObject({ type: 'int64', optional: false });
    expect(json.payload.after.n).toBe(Buffer.from([0x30, 0xd4]).toString('base64')); // 12500 unscaled
    expect(json.payload.after.b).toBe(Buffer.from('00ff10', 'hex').toString('base64'));
    expect(json.payload.source.connector).toBe('postgresql');
  });

  it('REPLICA IDENTITY FULL: full before images, and unchanged TOASTed values kept from them', async () => {
    const big = 'x'.repeat(200_000) + Math.random(); // TOASTed (out of line)
    await admin.query(`insert into ${full} values (1, 'a', $1)`, [big]);
    await admin.query(`update ${full} set name = 'b' where id = 1`);
    const recs = await take(6);
    const [c, u] = values(recs, `${prefix}.public.${full}`);
    expect(c.after.big).toBe(big);
    expect(u.before).toEqual({ id: 1, name: 'a', big });
    expect(u.after).toEqual({ id: 1, name: 'b', big });
  });

  it('picks up ALTER TABLE ADD COLUMN mid-stream; truncates and logical messages are events', async () => {
    await admin.query(`alter table ${full} add column extra int`);
    await admin.query(`insert into ${full} values (2, 'c', 'small', 42)`);
    const recs = await take(3);
    const [c] = values(recs, `${prefix}.public.${full}`);
    expect(c.after).toEqual({ id: 2, name: 'c', big: 'small', extra: 42 });
    expect((recs.find((r) => r.topic === `${prefix}.public.${full}`)!.valueSchema!.fields![1].fields!.map((f) => f.field))).toEqual(['id', 'name', 'big', 'extra']);

    await admin.query(`truncate ${full}`);
    await admin.query(`select pg_logical_emit_message(true, 'audit', 'hello')`);
    const more = await take(4); // BEGIN t END, then m (a message-only transaction has no BEGIN/END: no change events)
    const tr = values(more, `${prefix}.public.${full}`);
    expect(tr.map((v) => [v.op, v.before, v.after])).toEqual([['t', null, null]]);
    const [m] = values(more, `${prefix}.message`);
    expect(m.op).toBe('m');
    expect(m.message.prefix).toBe('audit');
    expect(Buffer.from(m.message.content).toString()).toBe('hello');
  });
});

describe('postgres-cdc heartbeats', () => {
  it('advance the slot on idle tables once committed', async () => {
    const hbSlot = pgName('slot');
    const hbPub = pgName('pub');
    const other = pgName('cdc_other');
    await admin.query(`create table ${other} (id int primary key)`);
    const h = await startTask(baseConfig({ slot: hbSlot, publication: hbPub, prefix }, {
      'table.include.list': `public.${types}`, 'snapshot.mode': 'never', 'heartbeat.interval.ms': '100', 'publication.autocreate.mode': 'filtered',
    }));
    try {
      await h.task.poll(AbortSignal.timeout(1000));
      const start = parseLsn((await confirmedFlush(admin, hbSlot))!);
      // WAL from a table the connector does not capture: only heartbeats can move the slot past it.
      await admin.query(`insert into ${other} select generate_series(1, 1000)`);
      const { rows } = await admin.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
      const target = parseLsn(rows[0].lsn);
      await h.pollUntil((all) => all.some((r) => r.topic === `__debezium-heartbeat.${prefix}` && (r.sourceOffset.lsn as number) >= target));
      const hb = h.records.find((r) => r.topic === `__debezium-heartbeat.${prefix}`)!;
      expect(hb.key).toEqual({ serverName: prefix });
      expect(typeof (hb.value as any).ts_ms).toBe('number');
      expect(parseLsn((await confirmedFlush(admin, hbSlot))!)).toBeLessThan(target);
      expect(start).toBeLessThan(target);
      await h.commitAll();
      await expect.poll(async () => parseLsn((await confirmedFlush(admin, hbSlot))!), { timeout: 10_000 }).toBeGreaterThanOrEqual(target);
    } finally {
      await h.stop();
      await dropSlot(admin, hbSlot);
      await admin.query(`drop publication if exists ${hbPub}`);
      await admin.query(`drop table if exists ${other}`);
    }
  });
});
