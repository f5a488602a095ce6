import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { s3Sink, s3Source } from '../../../../connectors/s3/index.ts';
import { configTable } from '../config-table.ts';

// The README carries each spec's table; regenerate it from the spec when this fails.
describe('connectors/s3/README.md', () => {
  it.each([['sink', s3Sink], ['source', s3Source]])('has the current config table of the %s', async (_name, plugin) => {
    const readme = await readFile(new URL('../../../../connectors/s3/README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configTable(plugin.config));
  });
});
