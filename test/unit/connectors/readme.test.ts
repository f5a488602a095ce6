import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { demoSource } from '../../../connectors/demo/index.ts';
import { fileStreamSink, fileStreamSource } from '../../../connectors/file/index.ts';
import { configTable } from './config-table.ts';

// READMEs carry each spec's table (STYLE.md: one spec yields validation, REST docs and README tables).
// When this fails, paste the fresh table from `node test/unit/connectors/config-table.ts`.
describe('connector READMEs', () => {
  it.each([
    ['connectors/demo/README.md', demoSource],
    ['connectors/file/README.md', fileStreamSink],
    ['connectors/file/README.md', fileStreamSource],
  ])('%s has the current config table of %s', async (path, plugin) => {
    const readme = await readFile(new URL(`../../../${path}`, import.meta.url), 'utf8');
    expect(readme).toContain(configTable(plugin.config));
  });
});
