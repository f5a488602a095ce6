// The test Postgres does logical decoding: a pgoutput slot sees an inserted row of a published table.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services, uniqueName } from '../../infra/env.ts';

const client = new pg.Client({ connectionString: services.postgres.url });
const suffix = uniqueName('smoke').replace(/-/g, '_');
const table = `t_${suffix}`;
const slot = `slot_${suffix}`;
const publication = `pub_${suffix}`;

beforeAll(async () => {
  await client.connect();
});

afterAll(async () => {
  await client.query('select pg_drop_replication_slot($1) from pg_replication_slots where slot_name = $1', [slot]).catch(() => undefined);
  await client.query(`drop publication if exists ${publication}`).catch(() => undefined);
  await client.query(`drop table if exists ${table}`).catch(() => undefined);
  await client.end();
});

/** pgoutput protocol v1 Insert message: 'I', relation oid (int32), 'N', column count (int16), then per column a kind byte and, for 't', an int32 length and the text. */
function parseInsert(message: Buffer): { relationId: number; columns: Array<string | null> } {
  expect(String.fromCharCode(message[0])).toBe('I');
  const relationId = message.readUInt32BE(1);
  expect(String.fromCharCode(message[5])).toBe('N');
  const count = message.readInt16BE(6);
  const columns: Array<string | null> = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    const kind = String.fromCharCode(message[at++]);
    if (kind === 't') {
      const length = message.readInt32BE(at);
      columns.push(message.subarray(at + 4, at + 4 + length).toString('utf8'));
      at += 4 + length;
    } else {
      columns.push(null);
    }
  }
  return { relationId, columns };
}

describe('postgres (smoke)', () => {
  it('runs with wal_level=logical', async () => {
    const { rows } = await client.query<{ wal_level: string }>('show wal_level');
    expect(rows[0].wal_level).toBe('logical');
  });

  it('decodes an insert through a pgoutput slot and a publication', async () => {
    await client.query(`create table ${table} (id int primary key, name text not null)`);
    await client.query(`create publication ${publication} for table ${table}`);
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    const name = `row inserted by ${suffix}`;
    await client.query(`insert into ${table} (id, name) values (42, $1)`, [name]);

    const { rows } = await client.query<{ data: Buffer }>(
      `select data from pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
      [slot, publication],
    );
    const kinds = rows.map((r) => String.fromCharCode(r.data[0]));
    expect(kinds).toEqual(['B', 'R', 'I', 'C']); // Begin, Relation, Insert, Commit

    const relation = rows[1].data;
    const relationId = relation.readUInt32BE(1);
    expect(relation.subarray(5).toString('utf8')).toContain(table);

    const insert = parseInsert(rows[2].data);
    expect(insert.relationId).toBe(relationId);
    expect(insert.columns).toEqual(['42', name]);
  });
});
