/**
 * Connector configs from files: a folder of JSON files in Kafka Connect's format
 * (`{"name": "...", "config": {...}}`, or a bare config with a `name` key), applied at start and
 * re-applied whenever a file changes: new and changed files create or update connectors;
 * connectors that came from a file that is gone are deleted. Which connector came from which file
 * is remembered in the state dir, so a file removed while the worker was down is noticed too.
 */
import { existsSync, readFileSync, readdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from '../api/index.ts';
import type { Herder } from './herder.ts';

export interface ConnectorFile {
  file: string;
  name: string;
  config: Record<string, string>;
  initialState?: 'RUNNING' | 'PAUSED' | 'STOPPED';
}

/** Parse one connector file, with errors that name the file and what is wrong. */
export function parseConnectorFile(path: string, text = readFileSync(path, 'utf8')): ConnectorFile {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message}).`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`${path}: expected a JSON object {"name": "...", "config": {...}}.`);
  const obj = body as Record<string, unknown>;
  const rawConfig = (obj.config ?? obj) as Record<string, unknown>;
  if (!rawConfig || typeof rawConfig !== 'object' || Array.isArray(rawConfig)) throw new Error(`${path}: "config" must be an object of string values.`);
  const name = (typeof obj.name === 'string' ? obj.name : rawConfig.name) as unknown;
  if (typeof name !== 'string' || name === '') throw new Error(`${path}: missing "name".`);
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawConfig)) {
    if (v === null || typeof v === 'object') throw new Error(`${path}: config key "${k}" must be a string, number or boolean.`);
    config[k] = String(v);
  }
  const initialState = obj.initial_state as ConnectorFile['initialState'];
  return { file: path, name, config, ...(initialState ? { initialState } : {}) };
}

const RESCAN_MS = 5000;

export class ConnectorFilesWatcher {
  private readonly dir: string;
  private readonly herder: Herder;
  private readonly logger: Logger;
  private readonly memoryFile: string;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  /** file -> content last applied, so unchanged files are not re-put. */
  private readonly applied = new Map<string, string>();

  constructor(options: { dir: string; herder: Herder; logger: Logger; stateDir: string }) {
    this.dir = options.dir;
    this.herder = options.herder;
    this.logger = options.logger;
    this.memoryFile = join(options.stateDir, 'connector-files.json');
  }

  async start(): Promise<void> {
    if (!existsSync(this.dir)) throw new Error(`connectors.dir ${this.dir} does not exist. Create it or unset TRIBUTARY_CONNECTORS_DIR.`);
    await this.sync();
    this.watcher = watch(this.dir, () => this.schedule());
    this.watcher.on('error', (e) => this.logger.warn({ err: e.message }, 'watching connectors.dir failed'));
    // File events can be missed (editors that rename, network filesystems): rescan now and then too.
    // A rescan of unchanged files only reads them.
    this.rescan = setInterval(() => this.schedule(), RESCAN_MS);
    this.rescan.unref();
  }

  private rescan: NodeJS.Timeout | undefined;

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.running.then(() => this.sync()).catch((e: Error) => this.logger.error({ err: e.message }, 'applying connectors.dir failed'));
    }, 300);
  }

  private remembered(): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.memoryFile, 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Apply every file; delete connectors whose file is gone. Errors are logged per file, never fatal. */
  async sync(): Promise<void> {
    const files = readdirSync(this.dir).filter((f) => f.endsWith('.json')).sort();
    const before = this.remembered();
    const now: Record<string, string> = {};
    for (const f of files) {
      const path = join(this.dir, f);
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      let parsed: ConnectorFile;
      try {
        parsed = parseConnectorFile(path, text);
      } catch (e) {
        this.logger.error({ file: f }, (e as Error).message);
        const kept = Object.entries(before).find(([, file]) => file === f);
        if (kept) now[kept[0]] = f;
        continue;
      }
      now[parsed.name] = f;
      if (this.applied.get(path) === text) continue;
      try {
        const { created } = await this.herder.putConnectorConfig(parsed.name, parsed.config, { allowReplace: true, initialState: parsed.initialState });
        this.applied.set(path, text);
        this.logger.info({ file: basename(path), connector: parsed.name }, created ? 'connector created from file' : 'connector updated from file');
      } catch (e) {
        this.logger.error({ file: f, connector: parsed.name }, `cannot apply ${f}: ${(e as Error).message}`);
      }
    }
    for (const [name, file] of Object.entries(before)) {
      if (now[name]) continue;
      try {
        await this.herder.deleteConnector(name);
        this.logger.info({ file, connector: name }, 'connector deleted: its file was removed');
      } catch (e) {
        if ((e as { status?: number }).status !== 404) {
          this.logger.error({ connector: name }, `cannot delete ${name}: ${(e as Error).message}`);
          now[name] = file;
        }
      }
    }
    writeFileSync(this.memoryFile, JSON.stringify(now, null, 2));
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    if (this.rescan) clearInterval(this.rescan);
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
