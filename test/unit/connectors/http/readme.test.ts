import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { httpPoller, httpReceiver, httpSink } from '../../../../connectors/http/index.ts';
import { configTable } from '../config-table.ts';

// The README carries each spec's table; regenerate with configTable(plugin.config) when a key changes.
describe('connectors/http/README.md', () => {
  it.each([httpSink, httpReceiver, httpPoller])('has the current config table of $className', async (plugin) => {
    const readme = await readFile(new URL('../../../../connectors/http/README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configTable(plugin.config));
  });
});
