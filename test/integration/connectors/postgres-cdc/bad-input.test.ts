// Bad input becomes one clear error (FatalError: the task fails with it in its status, no retry loop).
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresCdcSource } from '../../../../connectors/postgres-cdc/index.ts';
import { FatalError } from '../../../../runtime/api/index.ts';
import { adminClient, baseConfig, dropSlot, pgName, startTask } from './helpers.ts';

let admin: pg.Client;
const table = pgName('cdc_bad');
const role = pgName('norepl');
const slots: string[] = [];
const pubs: string[] = [];

function names() {
  const n = { slot: pgName('slot'), publication: pgName('pub'), prefix: pgName('srv') };
  slots.push(n.slot);
  pubs.push(n.publication);
  return n;
}

async function firstPollError(config: Record<string, string>): Promise<unknown> {
  const t = await startTask(config);
  try {
    await t.task.poll(AbortSignal.timeout(5000));
    return undefined;
  } catch (e) {
    return e;
  } finally {
    await t.stop();
  }
}

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create table ${table} (id int primary key)`);
  await admin.query(`create role ${role} login`);
  await admin.query(`grant select on ${table} to ${role}`);
});

afterAll(async () => {
  for (const s of slots) await dropSlot(admin, s);
  for (const p of pubs) await admin.query(`drop publication if exists ${p}`);
  await admin.query(`drop table if exists ${table}`);
  await admin.query(`drop role if exists ${role}`);
  await admin.end();
});

describe('postgres-cdc bad input', () => {
  it('a user that does not exist', async () => {
    const e = await firstPollError({ ...baseConfig(names()), 'database.user': 'no_such_user_xyz' });
    expect(e).toBeInstanceOf(FatalError);
    expect((e as Error).message).toMatch(/no_such_user_xyz/);
  });

  it('a user without REPLICATION', async () => {
    const e = await firstPollError({ ...baseConfig(names()), 'database.user': role });
    expect(e).toBeInstanceOf(FatalError);
    expect((e as Error).message).toMatch(/lacks the REPLICATION attribute.*ALTER ROLE/);
  });

  it('a missing table in table.include.list', async () => {
    const e = await firstPollError(baseConfig(names(), { 'table.include.list': `public.${table},public.does_not_exist` }));
    expect(e).toBeInstanceOf(FatalError);
    expect((e as Error).message).toMatch(/public\.does_not_exist/);
  });

  it('a slot taken by another consumer', async () => {
    const n = names();
    const config = baseConfig(n, { 'table.include.list': `public.${table}`, 'snapshot.mode': 'never' });
    const holder = await startTask(config);
    try {
      await holder.task.poll(AbortSignal.timeout(1000));
      const other = await startTask(config);
      try {
        let last: unknown;
        // Retried briefly (a crashed predecessor's walsender may still hold it), then fatal.
        for (let i = 0; i < 10 && !(last instanceof FatalError); i++) {
          last = await other.task.poll(AbortSignal.timeout(1000)).then(() => undefined, (e: unknown) => e);
        }
        expect(last).toBeInstanceOf(FatalError);
        expect((last as Error).message).toMatch(new RegExp(`slot ${n.slot} is in use by another process`));
      } finally {
        await other.stop();
      }
    } finally {
      await holder.stop();
    }
  });

  it('unsupported Debezium keys are named by validate()', async () => {
    const errors = await postgresCdcSource.validate!({ ...baseConfig(names()), 'column.mask.with.10.chars': 'public.t.c', 'database.server.name': 'x', 'max.queue.size': '100' });
    expect(errors.map((e) => e.name).sort()).toEqual(['column.mask.with.10.chars', 'database.server.name']);
  });
});
