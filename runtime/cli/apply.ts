/**
 * `tributary apply <dir|file>`: make the worker's connectors match files in Kafka Connect's format,
 * `{"name": "...", "config": {...}}` (optionally `"initial_state"`, used only when creating).
 *
 * Every file is read and checked first; when any is invalid nothing is applied. Then each is PUT to
 * `/connectors/{name}/config` (POST /connectors when creating with an initial_state) unless the
 * worker already has exactly that config. Secrets come back masked (`[hidden]`), so a config with
 * secrets cannot be proven unchanged and is always re-applied.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectorConfig, ConnectorInfo } from '../cluster/herder.ts';
import { parseJson } from '../rest/json.ts';
import { RestClient, RestError, UnreachableError } from './client.ts';
import { printJson } from './context.ts';
import type { Context } from './context.ts';

export interface ConnectorFile {
  file: string;
  name: string;
  config: ConnectorConfig;
  initialState?: string;
}

export type ApplyResult = 'created' | 'updated' | 'unchanged' | 'failed';

const MASK = '[hidden]';

/** The *.json files to apply: the file itself, or a directory's (not recursive), sorted by name. */
export function connectorFiles(target: string): string[] {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    throw new Error(`${target}: no such file or directory.`);
  }
  if (!stat.isDirectory()) return [target];
  const files = readdirSync(target)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(target, f))
    .filter((f) => statSync(f).isFile());
  if (files.length === 0) throw new Error(`${target}: no *.json connector files in this directory.`);
  return files;
}

/** Read and check one file; throws an Error whose message names the file and what is wrong. */
export function readConnectorFile(file: string, shown = file): ConnectorFile {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch (e) {
    throw new Error(`${shown}: invalid JSON at ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`${shown}: expected an object {"name": "...", "config": {...}} (Kafka Connect's format).`);
  }
  const { name, config, initial_state: initialState } = doc as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '') throw new Error(`${shown}: "name" is missing; expected {"name": "...", "config": {...}}.`);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new Error(`${shown}: "config" must be an object of connector settings; expected {"name": "${name}", "config": {...}}.`);
  }
  const out: ConnectorConfig = {};
  const bad: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else bad.push(k);
  }
  if (bad.length > 0) throw new Error(`${shown}: config values must be strings, numbers or booleans; not: ${bad.join(', ')}.`);
  if (out.name !== undefined && out.name !== name.trim()) {
    throw new Error(`${shown}: config.name (${out.name}) differs from name (${name.trim()}).`);
  }
  if (initialState !== undefined && (typeof initialState !== 'string' || !['RUNNING', 'PAUSED', 'STOPPED'].includes(initialState.toUpperCase()))) {
    throw new Error(`${shown}: initial_state must be RUNNING, PAUSED or STOPPED.`);
  }
  return { file: shown, name: name.trim(), config: { ...out, name: name.trim() }, initialState: initialState?.toUpperCase() };
}

function sameConfig(current: ConnectorConfig, desired: ConnectorConfig): boolean {
  const a = Object.keys(current);
  const b = Object.keys(desired);
  if (a.length !== b.length) return false;
  // A masked value cannot be compared, so it counts as changed.
  return b.every((k) => current[k] === desired[k] && current[k] !== MASK);
}

async function applyOne(client: RestClient, c: ConnectorFile): Promise<ApplyResult> {
  let current: ConnectorConfig | undefined;
  try {
    current = (await client.request<ConnectorConfig>('GET', RestClient.path('connectors', c.name, 'config'))).body;
  } catch (e) {
    if (!(e instanceof RestError && e.status === 404)) throw e;
  }
  if (current && sameConfig(current, c.config)) return 'unchanged';
  if (!current && c.initialState) {
    await client.request<ConnectorInfo>('POST', '/connectors', { name: c.name, config: c.config, initial_state: c.initialState });
    return 'created';
  }
  const res = await client.request<ConnectorInfo>('PUT', RestClient.path('connectors', c.name, 'config'), c.config);
  return res.status === 201 ? 'created' : 'updated';
}

export async function apply(ctx: Context, target: string): Promise<number> {
  const files = connectorFiles(target);
  const parsed: ConnectorFile[] = [];
  const problems: string[] = [];
  for (const f of files) {
    try {
      parsed.push(readConnectorFile(f));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const seen = new Map<string, string>();
  for (const c of parsed) {
    const other = seen.get(c.name);
    if (other) problems.push(`${c.file}: connector "${c.name}" is also defined in ${other}.`);
    seen.set(c.name, c.file);
  }
  if (problems.length > 0) {
    for (const msg of problems) ctx.err(`error: ${msg}\n`);
    ctx.err(`Nothing applied: fix the file${problems.length === 1 ? '' : 's'} above first.\n`);
    return 1;
  }

  const results: Array<{ file: string; name: string; result: ApplyResult; error?: string }> = [];
  const width = Math.max(...parsed.map((c) => c.name.length));
  for (const c of parsed) {
    try {
      const result = await applyOne(ctx.client, c);
      results.push({ file: c.file, name: c.name, result });
      if (!ctx.json) ctx.out(`${result.padEnd(9)}  ${c.name.padEnd(width)}  ${c.file}\n`);
    } catch (e) {
      if (e instanceof UnreachableError) throw e;
      const message = (e as Error).message;
      results.push({ file: c.file, name: c.name, result: 'failed', error: message });
      if (!ctx.json) {
        ctx.out(`${'failed'.padEnd(9)}  ${c.name.padEnd(width)}  ${c.file}\n`);
        ctx.err(`error: ${c.file} (${c.name}): ${message.split('\n').join('\n  ')}\n`);
      }
    }
  }
  if (ctx.json) printJson(ctx, results);
  return results.some((r) => r.result === 'failed') ? 1 : 0;
}
