/**
 * The connector contract. A connector is a small async interface; the runtime owns everything
 * cross-cutting (polling loops, batching, retries, converters, transforms, offset storage, status,
 * metrics). Connectors import only `runtime/api`, and hold no Kafka clients.
 *
 * Lifecycle and concurrency:
 * - `Connector.start` is called once, before `taskConfigs`; `stop` once, after its tasks stopped.
 * - Task methods are never called concurrently with each other, except `stop()`, which may arrive
 *   while `poll()` or `put()` is pending. A pending `poll` is also told through its AbortSignal;
 *   it should return promptly (an empty array is fine) when the signal aborts.
 * - Errors mean what `errors.ts` says: RetriableError is retried with backoff; DataError sends the
 *   record to the dead-letter queue or fails the task, per `errors.tolerance`; anything else fails
 *   the task with its trace in the status.
 */
import type { ConfigSpec } from './config-spec.ts';
import type { JsonObject, SinkOffsets, SinkRecord, SourceRecord, TopicPartition } from './records.ts';

/** Configs travel as flat string maps, as in Kafka Connect; parse them with the connector's ConfigSpec. */
export type TaskConfig = Record<string, string>;

/** The subset of a pino logger that connectors may use; it carries connector and task context. */
export interface Logger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface ConnectorContext {
  readonly connectorName: string;
  readonly logger: Logger;
  /** Ask the runtime to call `taskConfigs` again (e.g. the set of tables changed). */
  requestTaskReconfiguration(): void;
  /** Fail the connector from a background activity, with this error as the trace. */
  raiseError(error: unknown): void;
}

export interface OffsetStorageReader {
  /** The last committed offset of one source partition, or null when none was committed. */
  offset(partition: JsonObject): Promise<JsonObject | null>;
  /** Every committed source partition of this connector with its offset. */
  offsets(): Promise<Array<{ partition: JsonObject; offset: JsonObject }>>;
}

export interface TaskContext {
  readonly connectorName: string;
  readonly taskId: number;
  readonly logger: Logger;
  /** Aborted when the task is being stopped. */
  readonly signal: AbortSignal;
  /**
   * Progress to show in the task's status and metrics (a snapshot's rows done and estimated,
   * say). Shallow-merged into what was reported before.
   */
  reportProgress(progress: Record<string, unknown>): void;
}

export interface SourceTaskContext extends TaskContext {
  readonly offsetStorageReader: OffsetStorageReader;
}

export interface SinkTaskContext extends TaskContext {
  /** Topic-partitions currently assigned to this task. */
  assignment(): TopicPartition[];
  /** Stop delivering records of these partitions until `resume` (backpressure from the target). */
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** Ask for `flush` and an offset commit soon. */
  requestCommit(): void;
  /**
   * Send one record to the dead-letter queue (KIP-610's errant record reporter) and go on, when
   * `errors.tolerance=all`; throws the error back (failing the task) when tolerance is none.
   */
  reportError(record: SinkRecord, error: unknown): Promise<void>;
}

export interface SourceTask {
  start(config: TaskConfig, context: SourceTaskContext): Promise<void> | void;
  /**
   * Return the next records, waiting a little when there are none (the runtime calls again at
   * once). Return `[]` when `signal` aborts.
   */
  poll(signal: AbortSignal): Promise<SourceRecord[]>;
  /**
   * Called after the offsets of records already returned by `poll` were durably committed (and
   * every record up to them acknowledged by the topic, or by every standalone sink). `committed`
   * holds the newest committed offset per source partition. Postgres CDC confirms its LSN here.
   */
  commit?(committed: Array<{ partition: JsonObject; offset: JsonObject }>): Promise<void> | void;
  /**
   * An ad-hoc instruction sent through the REST API (`POST /connectors/<name>/signals`) to every
   * running task of the connector, in Debezium's signal shape: e.g. `execute-snapshot` with
   * `{"data-collections": [...], "additional-conditions": [...]}` for a backfill while streaming.
   * Ignore signals of other types (return false); throw ConfigError for a malformed one of
   * yours. Called concurrently with `poll`; act through what `poll` returns next.
   */
  signal?(signal: TaskSignal): Promise<boolean> | boolean;
  stop(): Promise<void> | void;
}

/** A signal to a connector's tasks (Debezium's signal: an id, a type, and data). */
export interface TaskSignal {
  id: string;
  type: string;
  data: JsonObject;
}

export interface SinkTask {
  start(config: TaskConfig, context: SinkTaskContext): Promise<void> | void;
  /** Partitions were assigned to this task (open writers, read what was already written, ...). */
  open?(partitions: TopicPartition[]): Promise<void> | void;
  /**
   * Take these records. May buffer them; they only count as delivered after `flush`. A
   * RetriableError makes the runtime call `put` again with the same records after a backoff.
   */
  put(records: SinkRecord[]): Promise<void>;
  /**
   * Make everything `put` so far durable. `offsets` is the next offset to read per partition.
   * Return the offsets actually safe to commit when they are behind (a sink that writes files
   * on rotation, say); return nothing to commit `offsets` as they are.
   */
  flush(offsets: SinkOffsets): Promise<SinkOffsets | void>;
  /** Partitions were taken away; finish with them (their offsets were already flushed). */
  close?(partitions: TopicPartition[]): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface SourceConnector {
  start(config: TaskConfig, context: ConnectorContext): Promise<void> | void;
  /** Split the work into at most `maxTasks` task configs. */
  taskConfigs(maxTasks: number): Promise<TaskConfig[]> | TaskConfig[];
  stop(): Promise<void> | void;
}

export interface SinkConnector {
  start(config: TaskConfig, context: ConnectorContext): Promise<void> | void;
  taskConfigs(maxTasks: number): Promise<TaskConfig[]> | TaskConfig[];
  stop(): Promise<void> | void;
}

/** The version of this API. A plugin built for another major version is refused at load. */
export const CONNECTOR_API_VERSION = 1;

interface PluginBase {
  /** CONNECTOR_API_VERSION the plugin was built against. */
  apiVersion: number;
  /** Fully qualified class name, as used in `connector.class`, e.g. `io.tributary.connect.demo.DemoSourceConnector`. */
  className: string;
  /** Short names that also work in `connector.class`, e.g. `demo`. */
  aliases?: string[];
  version: string;
  description?: string;
  /** The connector's own config keys (the runtime adds the common ones: name, tasks.max, transforms, ...). */
  config: ConfigSpec<any>;
  /**
   * Further checks across fields or against the outside world (can I reach the database?),
   * run at validation after the spec passed. Return field errors; an empty list means valid.
   */
  validate?(config: TaskConfig): Promise<Array<{ name: string; message: string }>> | Array<{ name: string; message: string }>;
  /**
   * Called once when the connector is deleted, after its tasks and connector instance stopped,
   * with its (resolved) config: release what outlives it outside Tributary, when its config asks
   * for it (a replication slot, say). Errors are logged; the deletion goes on.
   */
  onDelete?(config: TaskConfig, logger: Logger): Promise<void> | void;
}

export interface SourceConnectorPlugin extends PluginBase {
  type: 'source';
  createConnector(): SourceConnector;
  createTask(): SourceTask;
}

export interface SinkConnectorPlugin extends PluginBase {
  type: 'sink';
  createConnector(): SinkConnector;
  createTask(): SinkTask;
}

export type ConnectorPlugin = SourceConnectorPlugin | SinkConnectorPlugin;

/** Identity helpers that make plugin objects type-check without ceremony. */
export function defineSourceConnector(plugin: Omit<SourceConnectorPlugin, 'type' | 'apiVersion'>): SourceConnectorPlugin {
  return { ...plugin, type: 'source', apiVersion: CONNECTOR_API_VERSION };
}

export function defineSinkConnector(plugin: Omit<SinkConnectorPlugin, 'type' | 'apiVersion'>): SinkConnectorPlugin {
  return { ...plugin, type: 'sink', apiVersion: CONNECTOR_API_VERSION };
}
