/**
 * The Herder is the one control plane (Kafka Connect's name): REST and CLI are thin wrappers over
 * it. Standalone and distributed modes implement the same interface; REST never knows which.
 *
 * Shapes below are Kafka Connect's REST JSON shapes, so handlers can return them as they are.
 * Methods throw HerderError (with an HTTP status) for not-found / conflict / bad-request, and
 * ConfigError (runtime/api) for invalid connector configs, which REST turns into 400 naming the fields.
 * Every config the Herder returns is already masked: password-typed values read `[hidden]`.
 */

export type ConnectorType = 'source' | 'sink';
export type TargetState = 'RUNNING' | 'PAUSED' | 'STOPPED';
export type State = 'UNASSIGNED' | 'RUNNING' | 'PAUSED' | 'STOPPED' | 'FAILED' | 'RESTARTING';

export type ConnectorConfig = Record<string, string>;

export interface ConnectorTaskId {
  connector: string;
  task: number;
}

export interface ConnectorInfo {
  name: string;
  config: ConnectorConfig;
  tasks: ConnectorTaskId[];
  type: ConnectorType;
}

export interface ConnectorStateEntry {
  state: State;
  worker_id: string;
  /** Omitted when empty, as in Kafka Connect. */
  trace?: string;
}

export interface TaskStateEntry extends ConnectorStateEntry {
  id: number;
  /** Tributary addition: progress the task reported (snapshot rows done, ...). Omitted when none. */
  progress?: Record<string, unknown>;
}

export interface ConnectorStateInfo {
  name: string;
  connector: ConnectorStateEntry;
  tasks: TaskStateEntry[];
  type: ConnectorType;
}

export interface TaskInfo {
  id: ConnectorTaskId;
  config: ConnectorConfig;
}

export interface ConnectorOffset {
  partition: Record<string, unknown>;
  /** null resets the partition (PATCH). */
  offset: Record<string, unknown> | null;
}

export interface PluginInfo {
  class: string;
  type: ConnectorType | 'transformation' | 'predicate' | 'converter';
  version: string;
}

export interface ServerInfo {
  version: string;
  commit: string;
  kafka_cluster_id: string | null;
}

export interface ConfigInfos {
  name: string;
  error_count: number;
  groups: string[];
  configs: Array<{ definition: Record<string, unknown>; value: Record<string, unknown> }>;
}

export interface SignalRequest {
  /** Given or generated; echoed in the answer and in the task's logs. */
  id?: string;
  type: string;
  data: Record<string, unknown>;
}

export interface SignalResult {
  id: string;
  /** Tasks that took the signal (standalone), or null when workers apply it asynchronously (distributed). */
  accepted: number | null;
}

export interface RestartRequest {
  includeTasks: boolean;
  onlyFailed: boolean;
}

export interface Herder {
  serverInfo(): Promise<ServerInfo>;
  /** Whether the worker can serve requests yet (GET /health answers 503 until then). Absent: always. */
  health?(): { ready: boolean; message: string };

  connectors(): Promise<string[]>;
  connectorInfo(name: string): Promise<ConnectorInfo>;
  connectorConfig(name: string): Promise<ConnectorConfig>;
  /**
   * Create (when absent) or replace a connector's config. `allowReplace: false` is POST
   * /connectors (409 when it exists). `initialState` applies only when creating.
   */
  putConnectorConfig(
    name: string,
    config: ConnectorConfig,
    options: { allowReplace: boolean; initialState?: TargetState },
  ): Promise<{ created: boolean; info: ConnectorInfo }>;
  /** Merge into the current config; a null value removes the key. 404 when absent. */
  patchConnectorConfig(name: string, patch: Record<string, string | null>): Promise<ConnectorInfo>;
  deleteConnector(name: string): Promise<void>;

  connectorStatus(name: string): Promise<ConnectorStateInfo>;
  taskStatus(name: string, task: number): Promise<TaskStateEntry>;
  taskConfigs(name: string): Promise<TaskInfo[]>;

  pauseConnector(name: string): Promise<void>;
  resumeConnector(name: string): Promise<void>;
  stopConnector(name: string): Promise<void>;
  /** Returns the status with affected instances RESTARTING when includeTasks or onlyFailed; otherwise null (204). */
  restartConnector(name: string, request: RestartRequest): Promise<ConnectorStateInfo | null>;
  restartTask(name: string, task: number): Promise<void>;

  /**
   * Send a signal (Debezium's shape: type and data) to every running task of a source connector,
   * e.g. `execute-snapshot` for a backfill. Resolves once the tasks took it (standalone) or once it
   * is recorded for the workers running them (distributed).
   */
  signalConnector(name: string, signal: SignalRequest): Promise<SignalResult>;

  /** Topics the connector has used since the last reset: `{"<name>": {"topics": [...]}}`. */
  connectorTopics(name: string): Promise<{ [name: string]: { topics: string[] } }>;
  resetConnectorTopics(name: string): Promise<void>;

  /** KIP-875 offsets. alter/reset require the connector to be STOPPED (else 400). */
  connectorOffsets(name: string): Promise<{ offsets: ConnectorOffset[] }>;
  alterConnectorOffsets(name: string, offsets: ConnectorOffset[]): Promise<{ message: string }>;
  resetConnectorOffsets(name: string): Promise<{ message: string }>;

  plugins(options: { connectorsOnly: boolean }): Promise<PluginInfo[]>;
  pluginConfig(pluginName: string): Promise<Array<Record<string, unknown>>>;
  validateConnectorConfig(pluginName: string, config: ConnectorConfig): Promise<ConfigInfos>;
}

/** An error with an HTTP status, for REST: `{"error_code": status, "message": ...}`. */
export class HerderError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'HerderError';
    this.status = status;
  }

  static notFound(message: string): HerderError {
    return new HerderError(404, message);
  }

  static conflict(message: string): HerderError {
    return new HerderError(409, message);
  }

  static badRequest(message: string): HerderError {
    return new HerderError(400, message);
  }
}

/**
 * A write reached a worker that is not the group's leader: the REST layer forwards the request
 * to `leaderUrl` (once; a forwarded request that meets this again answers 409, as Kafka Connect).
 */
export class NotLeaderError extends HerderError {
  readonly leaderUrl: string;

  constructor(leaderUrl: string) {
    super(409, leaderUrl
      ? `This worker is not the leader of the worker group; the request must go to the leader at ${leaderUrl}. Retry; a rebalance may be in progress.`
      : 'Cannot complete the request now: the leader of the worker group is not known (a rebalance is in progress). Retry in a few seconds.');
    this.name = 'NotLeaderError';
    this.leaderUrl = leaderUrl;
  }
}
