/**
 * The connector registry: connector.class (full class name or alias) -> plugin. The runtime
 * reaches connectors only through here, never by static import, so built-ins and third-party
 * connectors load the same way: a module whose exports include ConnectorPlugin objects.
 *
 * Sources of plugins:
 * - built-ins: every `connectors/<family>/index.ts` of this repository;
 * - `plugin.path` folders: each sub-folder is a package (its package.json `main`/`exports`, or
 *   index.js / index.ts) exporting plugins;
 * - `plugins`: npm package names resolved from the working directory.
 * A plugin built against another major CONNECTOR_API_VERSION is refused with a clear error.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONNECTOR_API_VERSION, type ConnectorPlugin } from '../api/index.ts';

const BUILTIN_CONNECTORS_DIR = fileURLToPath(new URL('../../connectors/', import.meta.url));

export class PluginLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PluginLoadError';
  }
}

export class ConnectorRegistry {
  private readonly byName = new Map<string, ConnectorPlugin>();
  private readonly plugins: ConnectorPlugin[] = [];
  readonly warnings: string[] = [];

  register(plugin: ConnectorPlugin, origin = 'code'): void {
    if (plugin.apiVersion !== CONNECTOR_API_VERSION) {
      throw new PluginLoadError(
        `Connector ${plugin.className} (from ${origin}) was built for connector API version ${plugin.apiVersion}, ` +
          `but this worker provides version ${CONNECTOR_API_VERSION}. Upgrade the plugin or the worker.`,
      );
    }
    const existing = this.byName.get(plugin.className);
    if (existing && existing !== plugin) {
      this.warnings.push(`Connector class ${plugin.className} from ${origin} is already registered; keeping the first.`);
      return;
    }
    this.plugins.push(plugin);
    for (const name of [plugin.className, ...(plugin.aliases ?? [])]) {
      if (!this.byName.has(name)) this.byName.set(name, plugin);
    }
  }

  /** Look up by class name or alias; also accepts the simple class name (after the last dot). */
  find(name: string): ConnectorPlugin | undefined {
    const direct = this.byName.get(name);
    if (direct) return direct;
    const simple = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    return this.plugins.find((p) => p.className.endsWith(`.${simple}`) || p.className === simple);
  }

  all(): ConnectorPlugin[] {
    return [...this.plugins];
  }

  knownNames(): string[] {
    return this.plugins.map((p) => [p.className, ...(p.aliases ?? [])].join(' / '));
  }

  /** Load every plugin exported by a module. */
  async loadModule(specifier: string, origin = specifier): Promise<number> {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(specifier)) as Record<string, unknown>;
    } catch (e) {
      throw new PluginLoadError(`Cannot load connector plugin ${origin}: ${(e as Error).message}`);
    }
    const found = collectPlugins(mod);
    for (const p of found) this.register(p, origin);
    return found.length;
  }

  async loadBuiltins(dir = BUILTIN_CONNECTORS_DIR): Promise<void> {
    for (const entry of readdirSync(dir).sort()) {
      // index.ts in the sources, index.js in the build (dist/).
      const index = ['index.ts', 'index.js'].map((f) => join(dir, entry, f)).find((f) => existsSync(f));
      if (!index) continue;
      // One broken connector family must not keep the worker (and every other connector) down.
      try {
        await this.loadModule(pathToFileURL(index).href, `connectors/${entry}`);
      } catch (e) {
        this.warnings.push(`${(e as Error).message}. Its connectors are unavailable; run npm install if a dependency is missing.`);
      }
    }
  }

  async loadPluginPath(folders: string[]): Promise<void> {
    for (const folder of folders) {
      const abs = resolve(folder);
      if (!existsSync(abs) || !statSync(abs).isDirectory()) {
        throw new PluginLoadError(`plugin.path entry ${folder} is not a folder. Create it or remove it from plugin.path.`);
      }
      for (const entry of readdirSync(abs).sort()) {
        const pkgDir = join(abs, entry);
        if (!statSync(pkgDir).isDirectory()) continue;
        const main = packageEntry(pkgDir);
        if (!main) {
          this.warnings.push(`Skipping ${pkgDir}: no package.json main, index.js or index.ts.`);
          continue;
        }
        const n = await this.loadModule(pathToFileURL(main).href, pkgDir);
        if (n === 0) this.warnings.push(`${pkgDir} exports no connector plugins.`);
      }
    }
  }

  async loadPackages(names: string[], fromDir = process.cwd()): Promise<void> {
    const require = createRequire(join(resolve(fromDir), 'package.json'));
    for (const name of names) {
      let resolved: string;
      try {
        resolved = require.resolve(name);
      } catch {
        throw new PluginLoadError(`Connector package ${name} is not installed. Run: npm install ${name}`);
      }
      const n = await this.loadModule(pathToFileURL(resolved).href, name);
      if (n === 0) throw new PluginLoadError(`Package ${name} exports no connector plugins.`);
    }
  }
}

function packageEntry(dir: string): string | undefined {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string; exports?: unknown };
    const exp = typeof pkg.exports === 'string' ? pkg.exports : undefined;
    const main = exp ?? pkg.main;
    if (main && existsSync(join(dir, main))) return join(dir, main);
  }
  for (const f of ['index.js', 'index.mjs', 'index.ts']) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

function isPlugin(x: unknown): x is ConnectorPlugin {
  if (!x || typeof x !== 'object') return false;
  const p = x as Partial<ConnectorPlugin>;
  return (p.type === 'source' || p.type === 'sink') && typeof p.className === 'string' && typeof p.createTask === 'function';
}

function collectPlugins(mod: Record<string, unknown>): ConnectorPlugin[] {
  const out = new Set<ConnectorPlugin>();
  for (const value of Object.values(mod)) {
    if (isPlugin(value)) out.add(value);
    else if (Array.isArray(value)) for (const v of value) if (isPlugin(v)) out.add(v);
  }
  return [...out];
}
