// The change stream against the real Postgres: every operation as a Debezium event, the slot's
// confirmed LSN advancing only when the runtime commits, and a restart resuming from the offset.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '../../../../connectors/postgres-cdc/lsn.ts';
import { adminClient, baseConfig, confirmedFlush, dropSlot, pgName, startTask, values } from './helpers.ts';

let admin: pg.Client;
const table = pgName('cdc_ops');
const slot = pgName('slot');
const publication = pgName('pub');
const prefix = pgName('srv');
const topic = `${prefix}.public.${table}`;
const config = baseConfig({ slot, publication, prefix }, { 'table.include.list': `public.${table}`, 'publication.autocreate.mode': 'filtered' });

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create table ${table} (id int primary key, name text not null, amount numeric(10,2), note text)`);
  await admin.query(`insert into ${table} values (1, 'one', 1.50, null), (2, 'two', 2.00, 'x')`);
});

afterAll(async () => {
  await dropSlot(admin, slot);
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${table}`);
  await admin.end();
});

describe('postgres-cdc streaming', () => {
  it('snapshots, streams every operation, confirms only on commit and resumes after a restart', async () => {
    const t = await startTask(config);
    try {
      await t.pollUntil((all) => all.length >= 2);
      const snap = values(t.records, topic);
      expect(snap.map((v) => [v.op, v.after.id, v.after.name, v.after.amount])).toEqual([['r', 1, 'one', '1.50'], ['r', 2, 'two', '2.00']]);
      expect(snap[0].source).toMatchObject({ connector: 'postgresql', name: prefix, db: config['database.dbname'], schema: 'public', table, snapshot: 'first' });
      expect(snap[1].source.snapshot).toBe('last');
      expect(t.records[0].key).toEqual({ id: 1 });

      await admin.query(`insert into ${table} values (3, 'three', 3.25, 'n')`);
      await admin.query(`update ${table} set name = 'uno' where id = 1`);
      await admin.query(`delete from ${table} where id = 2`);
      await t.pollUntil((all) => all.length >= 6);
      const changes = t.records.slice(2);
      expect(changes.map((r) => (r.value as { op: string } | null)?.op ?? 'tombstone')).toEqual(['c', 'u', 'd', 'tombstone']);
      const [c, u, d, tomb] = changes.map((r) => r.value as any);
      expect(c.after).toEqual({ id: 3, name: 'three', amount: '3.25', note: 'n' });
      expect(c.before).toBeNull();
      expect(c.source).toMatchObject({ snapshot: 'false', table, schema: 'public' });
      expect(typeof c.source.txId).toBe('number');
      expect(typeof c.source.lsn).toBe('number');
      expect(u.after.name).toBe('uno');
      expect(u.before).toBeNull(); // REPLICA IDENTITY DEFAULT without a key change carries no old row
      expect(d.before).toEqual({ id: 2, name: '', amount: null, note: null }); // key only; NOT NULL name gets Debezium's fallback
      expect(d.after).toBeNull();
      expect(tomb).toBeNull();
      expect(changes[3].key).toEqual({ id: 2 });

      // Nothing was committed: the slot still sits where it was created.
      const before = await confirmedFlush(admin, slot);
      const lastOffset = t.records.at(-1)!.sourceOffset;
      expect(parseLsn(before!)).toBeLessThan(lastOffset.lsn as number);
      await t.task.poll(AbortSignal.timeout(300));
      expect(await confirmedFlush(admin, slot)).toBe(before);

      await t.commitAll();
      await expect.poll(async () => parseLsn((await confirmedFlush(admin, slot))!), { timeout: 10_000 }).toBeGreaterThanOrEqual(lastOffset.lsn as number);
      await t.stop();

      // A restart from the stored offset sees only what came after it.
      await admin.query(`insert into ${table} values (4, 'four', 4, null)`);
      const t2 = await startTask(config, t.offsets);
      try {
        await t2.pollUntil((all) => all.length >= 1);
        expect(values(t2.records, topic).map((v) => [v.op, v.after.id])).toEqual([['c', 4]]);
      } finally {
        await t2.stop();
      }
    } finally {
      await t.stop();
    }
  });
});
