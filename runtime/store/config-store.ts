/**
 * Connector configs, task configs and target states over a CompactedLog, keyed and valued as
 * Kafka Connect writes its config topic (`KafkaConfigBackingStore`):
 *
 *   connector-<n>     {"properties": {...}}            null deletes the connector
 *   task-<n>-<i>      {"properties": {...}}            held back until the commit below
 *   commit-<n>        {"tasks": N}                     applies task-<n>-0 .. task-<n>-(N-1)
 *   target-state-<n>  {"state": "STARTED"|"PAUSED", "state.v2": "STARTED"|"PAUSED"|"STOPPED"}
 *   restart-connector-<n>  {"include-tasks": bool, "only-failed": bool}   a restart request (KIP-745)
 *   restart-task-<n>-<i>   {}    Tributary's: restart one task (Connect forwards those to the owner)
 *   signal-<n>             {"id", "type", "data"}   Tributary's: a signal for the connector's tasks
 *
 * Task configs take effect only when their `commit-<n>` record is read, so a half-written set is
 * never visible. The log must keep one order for all keys (Kafka: the config topic has one
 * partition). A commit whose task configs are missing (compaction after an interrupted rewrite,
 * as Kafka Connect documents) marks the connector inconsistent: it then has no task configs
 * until the herder writes a fresh set.
 *
 * State is only ever updated from records read back from the log, so every worker sharing a log
 * converges on the same state. Writes resolve once the record was read back (read-your-writes).
 * `onChange` listeners hear about records read after `start()` resolved (including our own
 * writes), never about the initial replay: read `snapshot()` after start for that. Restart
 * requests are only events (every worker restarts what it runs); they change no state, so the one
 * compaction keeps per connector is never replayed as a request.
 */
import type { JsonObject, Logger } from '../api/index.ts';
import type { ConnectorConfig, TargetState } from '../cluster/herder.ts';
import type { CompactedLog, LogEntry, LogValue } from './compacted-log.ts';
import { defaultLogger } from './logging.ts';

export const CONNECTOR_PREFIX = 'connector-';
export const TASK_PREFIX = 'task-';
export const COMMIT_PREFIX = 'commit-';
export const TARGET_STATE_PREFIX = 'target-state-';
export const RESTART_CONNECTOR_PREFIX = 'restart-connector-';
export const RESTART_TASK_PREFIX = 'restart-task-';
export const SIGNAL_PREFIX = 'signal-';

export const connectorKey = (name: string): string => `${CONNECTOR_PREFIX}${name}`;
export const taskKey = (name: string, task: number): string => `${TASK_PREFIX}${name}-${task}`;
export const commitKey = (name: string): string => `${COMMIT_PREFIX}${name}`;
export const targetStateKey = (name: string): string => `${TARGET_STATE_PREFIX}${name}`;

export type ConfigChange =
  | { type: 'connector-config'; connector: string }
  | { type: 'connector-removed'; connector: string }
  /** `consistent: false`: the commit named task configs that are missing; regenerate them. */
  | { type: 'tasks-committed'; connector: string; tasks: number; consistent: boolean }
  | { type: 'target-state'; connector: string; state: TargetState }
  /** A restart request: the connector (and its tasks, per the flags), or one task when `task` is set. */
  | { type: 'restart'; connector: string; includeTasks: boolean; onlyFailed: boolean; task?: number }
  /** A signal for the connector's running tasks (an event, like restarts). */
  | { type: 'signal'; connector: string; signal: { id: string; type: string; data: JsonObject } };

export interface ConfigSnapshot {
  connectors: Map<string, ConnectorConfig>;
  /** Committed task configs of each connector, in task order. Absent: none committed (or inconsistent). */
  taskConfigs: Map<string, ConnectorConfig[]>;
  /** The target state of each connector (RUNNING when none was written). */
  targetStates: Map<string, TargetState>;
  /** Connectors whose last commit could not be applied: the herder should write fresh task configs. */
  inconsistent: Set<string>;
}

/** Our TargetState as Connect writes it: `state` for workers before KIP-875, `state.v2` for the rest. */
export function encodeTargetState(state: TargetState): JsonObject {
  switch (state) {
    case 'RUNNING':
      return { state: 'STARTED', 'state.v2': 'STARTED' };
    case 'PAUSED':
      return { state: 'PAUSED', 'state.v2': 'PAUSED' };
    case 'STOPPED':
      return { state: 'PAUSED', 'state.v2': 'STOPPED' };
  }
}

function decodeTargetState(value: JsonObject): TargetState | undefined {
  const raw = typeof value['state.v2'] === 'string' ? value['state.v2'] : value.state;
  switch (raw) {
    case 'STARTED':
      return 'RUNNING';
    case 'PAUSED':
      return 'PAUSED';
    case 'STOPPED':
      return 'STOPPED';
    default:
      return undefined;
  }
}

function isObject(value: LogValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `properties` of a connector or task record as a string map; undefined when malformed. Null values are dropped. */
function readProperties(value: JsonObject): ConnectorConfig | undefined {
  const props = value.properties;
  if (!isObject(props)) return undefined;
  const out: ConnectorConfig = {};
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === 'string') out[k] = v;
    else if (v !== null) return undefined;
  }
  return out;
}

/** `task-<n>-<i>`: the connector name may itself contain dashes; the task number is after the last one. */
function parseTaskKey(key: string): { connector: string; task: number } | undefined {
  const rest = key.slice(TASK_PREFIX.length);
  const dash = rest.lastIndexOf('-');
  if (dash <= 0) return undefined;
  const digits = rest.slice(dash + 1);
  if (!/^\d+$/.test(digits)) return undefined;
  return { connector: rest.slice(0, dash), task: Number(digits) };
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('a connector name must be a non-empty string');
}

function checkConfig(what: string, config: ConnectorConfig): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new TypeError(`${what} must be an object of string values`);
  }
  for (const [k, v] of Object.entries(config)) {
    if (typeof v !== 'string') throw new TypeError(`${what}: the value of ${k} must be a string, got ${typeof v}`);
  }
}

export interface ConfigStoreOptions {
  logger?: Logger;
}

export class ConfigStore {
  private readonly log: CompactedLog;
  private readonly logger: Logger;
  private readonly unsubscribe: () => void;
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  private started = false;

  private readonly connectors = new Map<string, ConnectorConfig>();
  private readonly targetStates = new Map<string, TargetState>();
  private readonly taskConfigs = new Map<string, ConnectorConfig[]>();
  /** Task count of each connector's last commit (also for inconsistent ones). */
  private readonly taskCounts = new Map<string, number>();
  /** Task configs read but not yet committed. */
  private readonly deferred = new Map<string, Map<number, ConnectorConfig>>();
  private readonly inconsistent = new Set<string>();

  constructor(log: CompactedLog, options: ConfigStoreOptions = {}) {
    this.log = log;
    this.logger = options.logger ?? defaultLogger;
    this.unsubscribe = log.subscribe((key, value) => this.read(key, value));
  }

  /** Read the log to its end; then the store is current and follows the log. */
  async start(): Promise<void> {
    await this.log.start();
    await this.log.readToEnd();
    this.started = true;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.listeners.clear();
    await this.log.close();
  }

  /** Returns a function that removes the listener. Listeners run synchronously and must not throw. */
  onChange(fn: (change: ConfigChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Create or replace a connector's config. With `targetState` its target state is written first,
   * so the connector never runs in another state (KIP-980's order).
   */
  async putConnectorConfig(name: string, config: ConnectorConfig, targetState?: TargetState): Promise<void> {
    checkName(name);
    checkConfig(`the config of connector ${name}`, config);
    const entries: LogEntry[] = [];
    if (targetState !== undefined) entries.push({ key: targetStateKey(name), value: encodeTargetState(targetState) });
    entries.push({ key: connectorKey(name), value: { properties: { ...config } } });
    await this.write(entries);
  }

  /** Delete a connector: tombstones for its config, target state, task configs and commit. */
  async removeConnector(name: string): Promise<void> {
    checkName(name);
    await this.log.readToEnd();
    const entries: LogEntry[] = [
      { key: connectorKey(name), value: null },
      { key: targetStateKey(name), value: null },
    ];
    for (let i = 0; i < this.knownTaskKeys(name); i++) entries.push({ key: taskKey(name, i), value: null });
    entries.push({ key: commitKey(name), value: null });
    await this.write(entries);
  }

  /**
   * Replace a connector's task configs: the tasks, tombstones for task keys beyond the new count,
   * then the commit, in one append, so readers see the whole set or none of it.
   */
  async putTaskConfigs(name: string, configs: readonly ConnectorConfig[]): Promise<void> {
    checkName(name);
    configs.forEach((c, i) => checkConfig(`task config ${i} of connector ${name}`, c));
    await this.log.readToEnd();
    const entries: LogEntry[] = configs.map((c, i) => ({ key: taskKey(name, i), value: { properties: { ...c } } }));
    for (let i = configs.length; i < this.knownTaskKeys(name); i++) entries.push({ key: taskKey(name, i), value: null });
    entries.push({ key: commitKey(name), value: { tasks: configs.length } });
    await this.write(entries);
  }

  async putTargetState(name: string, state: TargetState): Promise<void> {
    checkName(name);
    await this.write([{ key: targetStateKey(name), value: encodeTargetState(state) }]);
  }

  /** Ask every worker to restart what it runs of this connector (Kafka Connect's restart record). */
  async requestRestart(name: string, request: { includeTasks: boolean; onlyFailed: boolean }): Promise<void> {
    checkName(name);
    await this.write([{ key: `${RESTART_CONNECTOR_PREFIX}${name}`, value: { 'include-tasks': request.includeTasks, 'only-failed': request.onlyFailed } }]);
  }

  /** Ask the worker running task `task` of the connector to restart it. */
  async requestTaskRestart(name: string, task: number): Promise<void> {
    checkName(name);
    await this.write([{ key: `${RESTART_TASK_PREFIX}${name}-${task}`, value: {} }]);
  }

  /** Record a signal for every worker to hand to the connector's tasks it runs. */
  async putSignal(name: string, signal: { id: string; type: string; data: JsonObject }): Promise<void> {
    checkName(name);
    await this.write([{ key: `${SIGNAL_PREFIX}${name}`, value: { id: signal.id, type: signal.type, data: signal.data } }]);
  }

  /** A copy of everything, consistent at one point in the log. */
  snapshot(): ConfigSnapshot {
    const connectors = new Map<string, ConnectorConfig>();
    const targetStates = new Map<string, TargetState>();
    for (const [name, config] of this.connectors) {
      connectors.set(name, { ...config });
      targetStates.set(name, this.targetStates.get(name) ?? 'RUNNING');
    }
    const taskConfigs = new Map<string, ConnectorConfig[]>();
    for (const [name, tasks] of this.taskConfigs) taskConfigs.set(name, tasks.map((t) => ({ ...t })));
    return { connectors, taskConfigs, targetStates, inconsistent: new Set(this.inconsistent) };
  }

  connectorNames(): string[] {
    return [...this.connectors.keys()];
  }

  connectorConfig(name: string): ConnectorConfig | undefined {
    const config = this.connectors.get(name);
    return config && { ...config };
  }

  /** Committed task configs; undefined when none are committed or the connector is inconsistent. */
  connectorTaskConfigs(name: string): ConnectorConfig[] | undefined {
    return this.taskConfigs.get(name)?.map((t) => ({ ...t }));
  }

  targetState(name: string): TargetState | undefined {
    return this.connectors.has(name) ? (this.targetStates.get(name) ?? 'RUNNING') : undefined;
  }

  private async write(entries: LogEntry[]): Promise<void> {
    await this.log.appendAll(entries);
    await this.log.readToEnd();
  }

  /** How many task keys may hold something for this connector (committed or not). */
  private knownTaskKeys(name: string): number {
    let n = Math.max(this.taskCounts.get(name) ?? 0, this.taskConfigs.get(name)?.length ?? 0);
    for (const i of this.deferred.get(name)?.keys() ?? []) n = Math.max(n, i + 1);
    return n;
  }

  private emit(change: ConfigChange): void {
    if (!this.started) return;
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (err) {
        this.logger.error({ err, change }, 'a config change listener threw');
      }
    }
  }

  private read(key: string, value: LogValue): void {
    if (key.startsWith(TARGET_STATE_PREFIX)) this.readTargetState(key.slice(TARGET_STATE_PREFIX.length), value);
    else if (key.startsWith(CONNECTOR_PREFIX)) this.readConnector(key.slice(CONNECTOR_PREFIX.length), value);
    else if (key.startsWith(TASK_PREFIX)) this.readTask(key, value);
    else if (key.startsWith(COMMIT_PREFIX)) this.readCommit(key.slice(COMMIT_PREFIX.length), value);
    else if (key.startsWith(RESTART_CONNECTOR_PREFIX)) this.readRestart(key.slice(RESTART_CONNECTOR_PREFIX.length), value);
    else if (key.startsWith(RESTART_TASK_PREFIX)) this.readTaskRestart(key.slice(RESTART_TASK_PREFIX.length), value);
    else if (key.startsWith(SIGNAL_PREFIX)) this.readSignal(key.slice(SIGNAL_PREFIX.length), value);
    // Other keys (Kafka Connect's session-key, ...) are not ours to read.
    else this.logger.debug({ key }, 'ignoring a config record with a key this store does not use');
  }

  private readRestart(name: string, value: LogValue): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    const v = value as JsonObject;
    this.emit({ type: 'restart', connector: name, includeTasks: v['include-tasks'] === true, onlyFailed: v['only-failed'] === true });
  }

  private readSignal(name: string, value: LogValue): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    const v = value as JsonObject;
    if (typeof v.id !== 'string' || typeof v.type !== 'string') return;
    const data = typeof v.data === 'object' && v.data !== null && !Array.isArray(v.data) ? (v.data as JsonObject) : {};
    this.emit({ type: 'signal', connector: name, signal: { id: v.id, type: v.type, data } });
  }

  private readTaskRestart(rest: string, value: LogValue): void {
    const dash = rest.lastIndexOf('-');
    const task = Number(rest.slice(dash + 1));
    if (value === null || dash <= 0 || !Number.isInteger(task) || task < 0) return;
    this.emit({ type: 'restart', connector: rest.slice(0, dash), includeTasks: false, onlyFailed: false, task });
  }

  private readTargetState(name: string, value: LogValue): void {
    if (value === null) {
      this.targetStates.delete(name);
      return;
    }
    const state = isObject(value) ? decodeTargetState(value) : undefined;
    if (!state) {
      this.logger.error({ connector: name, value }, 'ignoring a target state record in the wrong format');
      return;
    }
    this.targetStates.set(name, state);
    this.emit({ type: 'target-state', connector: name, state });
  }

  private readConnector(name: string, value: LogValue): void {
    if (value === null) {
      const existed = this.connectors.delete(name);
      this.taskConfigs.delete(name);
      this.taskCounts.delete(name);
      this.deferred.delete(name);
      this.inconsistent.delete(name);
      if (existed) this.emit({ type: 'connector-removed', connector: name });
      return;
    }
    const config = isObject(value) ? readProperties(value) : undefined;
    if (!config) {
      this.logger.error({ connector: name }, 'ignoring a connector config record in the wrong format');
      return;
    }
    this.connectors.set(name, config);
    this.emit({ type: 'connector-config', connector: name });
  }

  private readTask(key: string, value: LogValue): void {
    const id = parseTaskKey(key);
    if (!id) {
      this.logger.error({ key }, 'ignoring a task config record whose key is not task-<connector>-<number>');
      return;
    }
    let pending = this.deferred.get(id.connector);
    if (value === null) {
      pending?.delete(id.task);
      return;
    }
    const config = isObject(value) ? readProperties(value) : undefined;
    if (!config) {
      this.logger.error({ key }, 'ignoring a task config record in the wrong format');
      return;
    }
    if (!pending) {
      pending = new Map();
      this.deferred.set(id.connector, pending);
    }
    pending.set(id.task, config);
  }

  private readCommit(name: string, value: LogValue): void {
    if (value === null) {
      this.taskCounts.delete(name);
      return;
    }
    const tasks = isObject(value) ? value.tasks : undefined;
    if (typeof tasks !== 'number' || !Number.isInteger(tasks) || tasks < 0) {
      this.logger.error({ connector: name, value }, 'ignoring a task commit record in the wrong format');
      return;
    }
    const pending = this.deferred.get(name);
    const configs: ConnectorConfig[] = [];
    for (let i = 0; i < tasks; i++) {
      const config = pending?.get(i);
      if (!config) break;
      configs.push(config);
    }
    const consistent = configs.length === tasks;
    if (consistent) {
      this.taskConfigs.set(name, configs);
      this.inconsistent.delete(name);
    } else {
      this.logger.warn(
        { connector: name, tasks, found: configs.length },
        'a task commit names task configs that are missing (compacted away?); the connector needs fresh task configs',
      );
      this.taskConfigs.delete(name);
      this.inconsistent.add(name);
    }
    // Consistent or not, what was pending belongs to this commit: later commits need fresh configs.
    this.deferred.delete(name);
    this.taskCounts.set(name, tasks);
    this.emit({ type: 'tasks-committed', connector: name, tasks, consistent });
  }
}
