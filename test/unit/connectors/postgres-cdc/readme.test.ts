import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { postgresCdcSource } from '../../../../connectors/postgres-cdc/index.ts';
import { configTable } from '../config-table.ts';

it('connectors/postgres-cdc/README.md has the current config table', async () => {
  const readme = await readFile(new URL('../../../../connectors/postgres-cdc/README.md', import.meta.url), 'utf8');
  expect(readme).toContain(configTable(postgresCdcSource.config));
});
