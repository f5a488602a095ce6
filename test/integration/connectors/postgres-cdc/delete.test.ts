/**
 * Deleting a connector: with slot.drop.on.delete its replication slot goes too (no WAL held back
 * for a consumer that will never come); without it the slot stays for a successor.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../../../config/worker-config.ts';
import { startStandaloneWorker, type RunningWorker } from '../../../../runtime/cluster/standalone-worker.ts';
import { eventually, http, tempDir } from '../../../helpers/worker-process.ts';
import { adminClient, baseConfig, dropSlot, pgName } from './helpers.ts';

let admin: pg.Client;
let worker: RunningWorker;
const table = pgName('cdc_delete');
const publication = pgName('pub');

async function slot(name: string): Promise<{ active: boolean } | undefined> {
  const { rows } = await admin.query<{ active: boolean }>('select active from pg_replication_slots where slot_name = $1', [name]);
  return rows[0];
}

beforeAll(async () => {
  admin = await adminClient();
  await admin.query(`create table ${table} (id int primary key)`);
  worker = await startStandaloneWorker(loadWorkerConfig({ env: {}, overrides: { 'rest.port': 0, 'state.dir': tempDir('pg-delete'), 'log.level': 'warn' } }));
});

afterAll(async () => {
  await worker?.stop();
  await admin.query(`drop publication if exists ${publication}`);
  await admin.query(`drop table if exists ${table}`);
  await admin.end();
});

describe('deleting a Postgres CDC connector', () => {
  it.each([
    { drop: true, what: 'drops its slot with slot.drop.on.delete=true' },
    { drop: false, what: 'keeps its slot by default' },
  ])('$what', async ({ drop }) => {
    const name = pgName('del');
    const slotName = pgName('slot');
    const config = {
      'connector.class': 'postgres-cdc',
      ...baseConfig({ slot: slotName, publication, prefix: pgName('srv') }, { 'snapshot.mode': 'never', 'table.include.list': `public\\.${table}` }),
      ...(drop ? { 'slot.drop.on.delete': 'true' } : {}),
    };
    expect((await http('PUT', `${worker.url}/connectors/${name}/config`, config)).status).toBe(201);
    await eventually(async () => (await slot(slotName))?.active === true, 30_000, 'the task streams from its slot');
    expect((await http('DELETE', `${worker.url}/connectors/${name}`)).status).toBe(204);
    if (drop) {
      expect(await slot(slotName)).toBeUndefined();
    } else {
      await eventually(async () => (await slot(slotName))?.active === false, 10_000, 'the slot is released');
      await dropSlot(admin, slotName);
    }
  }, 60_000);
});
