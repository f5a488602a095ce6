import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConnectorRegistry, PluginLoadError } from '../../../runtime/engine/registry.ts';

const apiUrl = pathToFileURL(join(process.cwd(), 'runtime/api/index.ts')).href;

function pluginSource(className: string, apiVersion?: number): string {
  return `
import { defineSourceConnector, defineConfig } from '${apiUrl}';
const p = defineSourceConnector({
  className: '${className}', aliases: ['thirdparty'], version: '9.9.9', config: defineConfig({}),
  createConnector: () => ({ start() {}, taskConfigs: () => [{}], stop() {} }),
  createTask: () => ({ start() {}, poll: async () => [], stop() {} }),
});
${apiVersion !== undefined ? `p.apiVersion = ${apiVersion};` : ''}
export const plugins = [p];
`;
}

describe('ConnectorRegistry', () => {
  it('finds the built-in connectors by class name, alias and simple class name', async () => {
    const r = new ConnectorRegistry();
    await r.loadBuiltins();
    expect(r.find('io.tributary.connect.demo.DemoSourceConnector')?.type).toBe('source');
    expect(r.find('demo')?.className).toBe('io.tributary.connect.demo.DemoSourceConnector');
    expect(r.find('org.apache.kafka.connect.file.FileStreamSinkConnector')?.type).toBe('sink');
    expect(r.find('FileStreamSinkConnector')?.type).toBe('sink');
    expect(r.find('nope')).toBeUndefined();
  });

  it('loads third-party connectors from a plugin.path folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugins-'));
    mkdirSync(join(dir, 'acme'));
    writeFileSync(join(dir, 'acme', 'package.json'), JSON.stringify({ name: 'acme', type: 'module', main: 'index.ts' }));
    writeFileSync(join(dir, 'acme', 'index.ts'), pluginSource('com.acme.AcmeSource'));
    const r = new ConnectorRegistry();
    await r.loadPluginPath([dir]);
    expect(r.find('com.acme.AcmeSource')?.version).toBe('9.9.9');
    expect(r.find('thirdparty')?.className).toBe('com.acme.AcmeSource');
  });

  it('refuses a plugin built for another API version, saying what to do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plugins-'));
    mkdirSync(join(dir, 'old'));
    writeFileSync(join(dir, 'old', 'package.json'), JSON.stringify({ name: 'old', type: 'module', main: 'index.ts' }));
    writeFileSync(join(dir, 'old', 'index.ts'), pluginSource('com.old.OldSource', 99));
    const r = new ConnectorRegistry();
    const err = await r.loadPluginPath([dir]).catch((e) => e);
    expect(err).toBeInstanceOf(PluginLoadError);
    expect(err.message).toMatch(/connector API version 99.*provides version 1.*Upgrade/);
  });

  it('names a missing npm package and how to install it', async () => {
    const r = new ConnectorRegistry();
    await expect(r.loadPackages(['tributary-connector-that-does-not-exist'])).rejects.toThrow(/npm install tributary-connector-that-does-not-exist/);
  });

  it('rejects a plugin.path entry that is not a folder', async () => {
    await expect(new ConnectorRegistry().loadPluginPath(['/nonexistent/plugins'])).rejects.toThrow(/not a folder/);
  });
});

describe('ConnectorRegistry built-ins', () => {
  it('keeps loading the other connector families when one fails to load, and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'builtins-'));
    mkdirSync(join(dir, 'good'));
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'good', 'index.ts'), pluginSource('com.good.GoodSource'));
    writeFileSync(join(dir, 'broken', 'index.ts'), "import 'a-package-that-is-not-installed';\nexport const x = 1;\n");
    const r = new ConnectorRegistry();
    await r.loadBuiltins(dir);
    expect(r.find('com.good.GoodSource')).toBeDefined();
    expect(r.warnings.join('\n')).toMatch(/connectors\/broken.*a-package-that-is-not-installed.*npm install/s);
  });
});
