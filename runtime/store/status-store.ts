/**
 * Connector and task status, and the topics each connector used (KIP-558), over a CompactedLog,
 * keyed and valued as Kafka Connect writes its status topic (`KafkaStatusBackingStore`):
 *
 *   status-connector-<n>                  {"state", "trace", "worker_id", "generation"}
 *   status-task-<n>-<i>                   the same, plus our optional "progress" object
 *   status-topic-<topic>:connector-<n>    {"topic": {"name", "connector", "task", "discoverTimestamp"}}
 *
 * A null value deletes; a connector's tombstone also forgets its tasks, as in Kafka Connect.
 * `trace` is written as null when there is none. Kafka Connect ignores fields it does not know,
 * so `progress` is safe in a shared topic.
 *
 * Writes resolve once the record was read back. A "safe" put (Kafka Connect's putSafe) is skipped
 * when the current status was written by another worker with a newer generation, so a worker
 * that lost its assignment does not overwrite the new owner's status.
 */
import type { JsonObject, Logger } from '../api/index.ts';
import type { State } from '../cluster/herder.ts';
import type { CompactedLog, LogEntry, LogValue } from './compacted-log.ts';
import { defaultLogger } from './logging.ts';

export const CONNECTOR_STATUS_PREFIX = 'status-connector-';
export const TASK_STATUS_PREFIX = 'status-task-';
export const TOPIC_STATUS_PREFIX = 'status-topic-';
export const TOPIC_STATUS_SEPARATOR = ':connector-';

export const connectorStatusKey = (name: string): string => `${CONNECTOR_STATUS_PREFIX}${name}`;
export const taskStatusKey = (name: string, task: number): string => `${TASK_STATUS_PREFIX}${name}-${task}`;
export const topicStatusKey = (connector: string, topic: string): string =>
  `${TOPIC_STATUS_PREFIX}${topic}${TOPIC_STATUS_SEPARATOR}${connector}`;

const STATES: ReadonlySet<string> = new Set<State>(['UNASSIGNED', 'RUNNING', 'PAUSED', 'STOPPED', 'FAILED', 'RESTARTING']);

export interface StatusEntry {
  state: State;
  /** Stack trace of a failure; absent when none. */
  trace?: string;
  workerId: string;
  /** The group generation the writer was in (0 in standalone mode). */
  generation: number;
  /** Tributary addition: progress a task reported (snapshot rows done, ...). */
  progress?: Record<string, unknown>;
}

export interface TaskStatusEntry extends StatusEntry {
  id: number;
}

export interface TopicStatus {
  topic: string;
  connector: string;
  task: number;
  /** Milliseconds since the epoch when the connector first used the topic. */
  discoverTimestamp: number;
}

export type StatusChange =
  | { type: 'connector'; connector: string; status: StatusEntry | null }
  | { type: 'task'; connector: string; task: number; status: StatusEntry | null }
  | { type: 'topic'; connector: string; topic: string; active: boolean };

export interface PutOptions {
  /** Skip the write when another worker with a newer generation wrote the current status. */
  safe?: boolean;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function encodeStatus(status: StatusEntry): JsonObject {
  const value: JsonObject = {
    state: status.state,
    trace: status.trace ?? null,
    worker_id: status.workerId,
    generation: status.generation,
  };
  if (status.progress !== undefined) value.progress = status.progress as JsonObject;
  return value;
}

function decodeStatus(value: LogValue): StatusEntry | undefined {
  if (!isObject(value)) return undefined;
  const { state, trace, worker_id: workerId, generation, progress } = value;
  if (typeof state !== 'string' || !STATES.has(state)) return undefined;
  if (typeof workerId !== 'string' || typeof generation !== 'number') return undefined;
  const status: StatusEntry = { state: state as State, workerId, generation };
  if (typeof trace === 'string') status.trace = trace;
  if (isObject(progress)) status.progress = progress;
  return status;
}

function copy(status: StatusEntry): StatusEntry {
  return structuredClone(status);
}

function canWriteSafely(current: StatusEntry | undefined, next: StatusEntry): boolean {
  return current === undefined || current.workerId === next.workerId || current.generation <= next.generation;
}

export interface StatusStoreOptions {
  logger?: Logger;
  /** For topic discovery timestamps; Date.now by default. */
  now?: () => number;
}

export class StatusStore {
  private readonly log: CompactedLog;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;
  private readonly listeners = new Set<(change: StatusChange) => void>();
  private started = false;

  private readonly connectors = new Map<string, StatusEntry>();
  private readonly tasks = new Map<string, Map<number, StatusEntry>>();
  /** connector -> topic -> status */
  private readonly topicsByConnector = new Map<string, Map<string, TopicStatus>>();

  constructor(log: CompactedLog, options: StatusStoreOptions = {}) {
    this.log = log;
    this.logger = options.logger ?? defaultLogger;
    this.now = options.now ?? Date.now;
    this.unsubscribe = log.subscribe((key, value) => this.read(key, value));
  }

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

  /** Listeners hear about records read after start() (our writes included), not the initial replay. */
  onChange(fn: (change: StatusChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves true when written, false when a safe put was skipped. */
  async putConnector(name: string, status: StatusEntry, options: PutOptions = {}): Promise<boolean> {
    if (options.safe && !canWriteSafely(this.connectors.get(name), status)) return false;
    await this.write([{ key: connectorStatusKey(name), value: encodeStatus(status) }]);
    return true;
  }

  async putTask(name: string, task: number, status: StatusEntry, options: PutOptions = {}): Promise<boolean> {
    if (!Number.isInteger(task) || task < 0) throw new TypeError(`a task id must be a non-negative integer, got ${task}`);
    if (options.safe && !canWriteSafely(this.tasks.get(name)?.get(task), status)) return false;
    await this.write([{ key: taskStatusKey(name, task), value: encodeStatus(status) }]);
    return true;
  }

  getConnector(name: string): StatusEntry | undefined {
    const status = this.connectors.get(name);
    return status && copy(status);
  }

  getTask(name: string, task: number): StatusEntry | undefined {
    const status = this.tasks.get(name)?.get(task);
    return status && copy(status);
  }

  /** Task statuses of the connector, by task id. */
  getTasks(name: string): TaskStatusEntry[] {
    return [...(this.tasks.get(name) ?? new Map<number, StatusEntry>())]
      .sort(([a], [b]) => a - b)
      .map(([id, status]) => ({ id, ...copy(status) }));
  }

  /** Connectors with a status. */
  connectorNames(): string[] {
    return [...this.connectors.keys()];
  }

  /** Delete the connector's status and its tasks' (topics stay: see resetTopics). */
  async removeConnector(name: string): Promise<void> {
    await this.log.readToEnd();
    const entries: LogEntry[] = [...(this.tasks.get(name)?.keys() ?? [])].map((task) => ({
      key: taskStatusKey(name, task),
      value: null,
    }));
    entries.push({ key: connectorStatusKey(name), value: null });
    await this.write(entries);
  }

  /** Delete one task's status (the connector now runs fewer tasks). */
  async removeTask(name: string, task: number): Promise<void> {
    await this.write([{ key: taskStatusKey(name, task), value: null }]);
  }

  /** Record that a task of the connector used a topic; a no-op when already recorded. */
  async putTopic(connector: string, topic: string, task: number): Promise<void> {
    if (this.topicsByConnector.get(connector)?.has(topic)) return;
    const value: JsonObject = {
      topic: { name: topic, connector, task, discoverTimestamp: this.now() },
    };
    await this.write([{ key: topicStatusKey(connector, topic), value }]);
  }

  /** Topics the connector used since the last reset, sorted. */
  topics(connector: string): string[] {
    return [...(this.topicsByConnector.get(connector)?.keys() ?? [])].sort();
  }

  topicStatuses(connector: string): TopicStatus[] {
    return [...(this.topicsByConnector.get(connector)?.values() ?? [])].map((t) => ({ ...t }));
  }

  async resetTopics(connector: string): Promise<void> {
    await this.log.readToEnd();
    const entries: LogEntry[] = this.topics(connector).map((topic) => ({ key: topicStatusKey(connector, topic), value: null }));
    if (entries.length > 0) await this.write(entries);
  }

  private async write(entries: LogEntry[]): Promise<void> {
    await this.log.appendAll(entries);
    await this.log.readToEnd();
  }

  private emit(change: StatusChange): void {
    if (!this.started) return;
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (err) {
        this.logger.error({ err, change }, 'a status change listener threw');
      }
    }
  }

  private read(key: string, value: LogValue): void {
    if (key.startsWith(CONNECTOR_STATUS_PREFIX)) this.readConnector(key.slice(CONNECTOR_STATUS_PREFIX.length), value);
    else if (key.startsWith(TASK_STATUS_PREFIX)) this.readTask(key, value);
    else if (key.startsWith(TOPIC_STATUS_PREFIX)) this.readTopic(key, value);
    else this.logger.warn({ key }, 'ignoring a status record with an unknown key');
  }

  private readConnector(name: string, value: LogValue): void {
    if (name.length === 0) {
      this.logger.warn({ value }, 'ignoring a connector status record without a connector name');
      return;
    }
    if (value === null) {
      const existed = this.connectors.delete(name);
      const tasks = this.tasks.get(name);
      this.tasks.delete(name);
      for (const task of tasks?.keys() ?? []) this.emit({ type: 'task', connector: name, task, status: null });
      if (existed) this.emit({ type: 'connector', connector: name, status: null });
      return;
    }
    const status = decodeStatus(value);
    if (!status) {
      this.logger.warn({ connector: name, value }, 'ignoring a connector status record in the wrong format');
      return;
    }
    this.connectors.set(name, status);
    this.emit({ type: 'connector', connector: name, status: copy(status) });
  }

  private readTask(key: string, value: LogValue): void {
    const rest = key.slice(TASK_STATUS_PREFIX.length);
    const dash = rest.lastIndexOf('-');
    const digits = rest.slice(dash + 1);
    if (dash <= 0 || !/^\d+$/.test(digits)) {
      this.logger.warn({ key }, 'ignoring a task status record whose key is not status-task-<connector>-<number>');
      return;
    }
    const name = rest.slice(0, dash);
    const task = Number(digits);
    if (value === null) {
      const tasks = this.tasks.get(name);
      if (tasks?.delete(task)) {
        if (tasks.size === 0) this.tasks.delete(name);
        this.emit({ type: 'task', connector: name, task, status: null });
      }
      return;
    }
    const status = decodeStatus(value);
    if (!status) {
      this.logger.warn({ key, value }, 'ignoring a task status record in the wrong format');
      return;
    }
    let tasks = this.tasks.get(name);
    if (!tasks) {
      tasks = new Map();
      this.tasks.set(name, tasks);
    }
    tasks.set(task, status);
    this.emit({ type: 'task', connector: name, task, status: copy(status) });
  }

  private readTopic(key: string, value: LogValue): void {
    // status-topic-<topic>:connector-<connector>; topic names cannot contain ':', connector names can.
    const rest = key.slice(TOPIC_STATUS_PREFIX.length);
    const sep = rest.indexOf(TOPIC_STATUS_SEPARATOR);
    const topic = sep > 0 ? rest.slice(0, sep) : '';
    const connector = sep > 0 ? rest.slice(sep + TOPIC_STATUS_SEPARATOR.length) : '';
    if (topic.length === 0 || connector.length === 0) {
      this.logger.warn({ key }, 'ignoring a topic status record whose key is not status-topic-<topic>:connector-<connector>');
      return;
    }
    if (value === null) {
      const topics = this.topicsByConnector.get(connector);
      if (topics?.delete(topic)) {
        if (topics.size === 0) this.topicsByConnector.delete(connector);
        this.emit({ type: 'topic', connector, topic, active: false });
      }
      return;
    }
    const inner = isObject(value) ? value.topic : undefined;
    if (!isObject(inner) || typeof inner.task !== 'number' || typeof inner.discoverTimestamp !== 'number') {
      this.logger.warn({ key, value }, 'ignoring a topic status record in the wrong format');
      return;
    }
    let topics = this.topicsByConnector.get(connector);
    if (!topics) {
      topics = new Map();
      this.topicsByConnector.set(connector, topics);
    }
    topics.set(topic, { topic, connector, task: inner.task, discoverTimestamp: inner.discoverTimestamp });
    this.emit({ type: 'topic', connector, topic, active: true });
  }
}
