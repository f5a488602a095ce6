/**
 * Request-body checks shared by the routes. Connector configs are flat string maps in Kafka
 * Connect; numbers and booleans sent as JSON are turned into strings, anything nested is refused
 * with a 400 naming every offending key.
 */
import type { ConnectorConfig, ConnectorOffset, SignalRequest, TargetState } from '../cluster/herder.ts';
import { badRequest } from './errors.ts';

type Json = unknown;

function isPlainObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: Json): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

function coerceEntries(body: Json, what: string, allowNull: boolean): Record<string, string | null> {
  if (!isPlainObject(body)) {
    throw badRequest(`${what} must be a JSON object of string values, got ${body === undefined ? 'an empty body' : describe(body)}.`);
  }
  const out: Record<string, string | null> = {};
  const bad: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    else if (value === null && allowNull) out[key] = null;
    else bad.push(`${key} (${describe(value)})`);
  }
  if (bad.length > 0) {
    const hint = allowNull ? '' : ' To remove a key, PATCH /connectors/{name}/config with the key set to null.';
    throw badRequest(`${what} values must be strings (numbers and booleans are accepted and stored as strings); invalid: ${bad.join(', ')}.${hint}`);
  }
  return out;
}

/** A full connector config (POST, PUT, validate). */
export function connectorConfig(body: Json, what = 'Connector configuration'): ConnectorConfig {
  return coerceEntries(body, what, false) as ConnectorConfig;
}

/** A PATCH: like a config, but null removes the key. */
export function configPatch(body: Json): Record<string, string | null> {
  return coerceEntries(body, 'Connector configuration patch', true);
}

/** Connect's checkAndPutConnectorConfigName: the body's `name`, when given, must match; else it is added. */
export function withName(name: string, config: ConnectorConfig): ConnectorConfig {
  const included = config.name;
  if (included !== undefined && included !== name) {
    throw badRequest(`Connector name configuration (${included}) doesn't match connector name in the URL (${name})`);
  }
  return { ...config, name };
}

export interface CreateConnectorRequest {
  name: string;
  config: ConnectorConfig;
  initialState?: TargetState;
}

const TARGET_STATES: readonly TargetState[] = ['RUNNING', 'PAUSED', 'STOPPED'];

/** POST /connectors: `{name, config, initial_state?}`. */
export function createConnectorRequest(body: Json): CreateConnectorRequest {
  if (!isPlainObject(body)) {
    throw badRequest(`Request body must be a JSON object {"name": ..., "config": {...}}, got ${body === undefined ? 'an empty body' : describe(body)}.`);
  }
  const name = typeof body.name === 'string' ? body.name.trim() : '';
  if (name === '') {
    throw badRequest('Connector name is required: the body must be {"name": "<connector name>", "config": {...}}.');
  }
  if (body.config === undefined || body.config === null) {
    throw badRequest(`Connector config is required: the body must be {"name": "${name}", "config": {...}}.`);
  }
  const config = withName(name, connectorConfig(body.config));
  let initialState: TargetState | undefined;
  if (body.initial_state !== undefined && body.initial_state !== null) {
    const s = typeof body.initial_state === 'string' ? body.initial_state.toUpperCase() : '';
    if (!(TARGET_STATES as readonly string[]).includes(s)) {
      throw badRequest(`Invalid initial_state ${JSON.stringify(body.initial_state)}: must be one of ${TARGET_STATES.join(', ')}.`);
    }
    initialState = s as TargetState;
  }
  return { name, config, initialState };
}

/** PATCH /connectors/{n}/offsets: `{"offsets": [{"partition": {...}, "offset": {...} | null}, ...]}`. */
export function offsetsRequest(body: Json): ConnectorOffset[] {
  if (!isPlainObject(body) || !Array.isArray(body.offsets) || body.offsets.length === 0) {
    throw badRequest('Partitions / offsets need to be provided for an alter offsets request: {"offsets": [{"partition": {...}, "offset": {...}}]}.');
  }
  const bad: string[] = [];
  const out: ConnectorOffset[] = [];
  body.offsets.forEach((entry: Json, i: number) => {
    if (!isPlainObject(entry)) {
      bad.push(`offsets[${i}] must be an object, got ${describe(entry)}`);
      return;
    }
    if (!isPlainObject(entry.partition)) bad.push(`offsets[${i}].partition must be an object, got ${describe(entry.partition)}`);
    if (entry.offset !== null && !isPlainObject(entry.offset)) bad.push(`offsets[${i}].offset must be an object or null, got ${describe(entry.offset)}`);
    else out.push({ partition: entry.partition as Record<string, unknown>, offset: entry.offset as Record<string, unknown> | null });
  });
  if (bad.length > 0) throw badRequest(`Invalid offsets: ${bad.join('; ')}.`);
  return out;
}

/** Jersey's Boolean query parameter: "true" in any case is true, anything else false. */
export function queryFlag(value: unknown): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' && v.toLowerCase() === 'true';
}

export function queryList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** `{"type": "execute-snapshot", "data": {...}, "id"?: "..."}`: a signal to a connector's tasks. */
export function signalRequest(body: unknown): SignalRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('Send a JSON object: {"type": "<signal type>", "data": {...}} (e.g. "execute-snapshot" with "data-collections").');
  }
  const { id, type, data } = body as Record<string, unknown>;
  if (typeof type !== 'string' || type.length === 0) throw badRequest('The signal needs a "type" string, e.g. "execute-snapshot".');
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) throw badRequest('The signal\'s "data" must be a JSON object.');
  if (id !== undefined && typeof id !== 'string') throw badRequest('The signal\'s "id" must be a string.');
  return { ...(id ? { id } : {}), type, data: (data ?? {}) as Record<string, unknown> };
}
