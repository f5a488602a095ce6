/**
 * The Worker runs connector instances and tasks in this process (Kafka Connect's Worker). It
 * decides nothing about placement: a Herder tells it what to start and stop. It owns per-task
 * wiring (config providers, converters, transforms, error handling, DLQ, metrics, logging
 * context), status reporting, and automatic restarts of failed tasks when configured.
 */
import {
  ConfigError,
  traceOf,
  type ConnectorContext,
  type ConnectorPlugin,
  type Logger,
  type SinkConnector,
  type SourceConnector,
  type TaskConfig,
  type TaskSignal,
} from '../api/index.ts';
import type { ConnectorConfig, State, TargetState } from '../cluster/herder.ts';
import type { OffsetStore, SourceOffsetUpdate, StatusStore } from '../store/index.ts';
import { applyStages, transformStages, type TransformRegistry } from '../transforms/index.ts';
import { converterFromConfig, type ConverterRegistry } from '../converters/index.ts';
import { resolveConfig } from './config-providers.ts';
import { secretRedactor, setRedactor } from './logging.ts';
import { secretKeysFor, secretValues } from './secrets.ts';
import { errorHandlingConfig, sinkConnectorConfig, sourceConnectorConfig } from './connector-config.ts';
import { FileDeadLetterQueue, TopicDeadLetterQueue } from './dead-letter-file.ts';
import { ErrorHandler, type DeadLetterQueue } from './error-handler.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ConnectorRegistry } from './registry.ts';
import type { TaskStatusListener } from './task-status.ts';
import type { RawKafkaRecord, TopicBus } from './topic-bus.ts';
import { SinkTaskRunner } from './worker-sink-task.ts';
import { SourceTaskRunner } from './worker-source-task.ts';

export interface WorkerOptions {
  workerId: string;
  registry: ConnectorRegistry;
  transforms: TransformRegistry;
  converters: ConverterRegistry;
  bus: TopicBus;
  offsets: OffsetStore;
  status: StatusStore;
  stateDir: string;
  logger: Logger;
  metrics: WorkerMetrics;
  offsetFlushIntervalMs: number;
  /** Sink runners flush early past this many uncommitted records (half an in-process partition's capacity). */
  sinkFlushMaxRecords: number;
  /** task.shutdown.graceful.timeout.ms (default 5000). */
  taskShutdownGracefulTimeoutMs?: number;
  defaultKeyConverter: string;
  defaultValueConverter: string;
  /** The herder's hook for ConnectorContext.requestTaskReconfiguration. */
  onTaskReconfiguration?(connector: string): void;
  /**
   * Distributed mode: status writes carry the group generation and are skipped when a worker of a
   * newer generation wrote the current status (a zombie must not overwrite its successor's state).
   */
  safeStatusWrites?: boolean;
  /**
   * Distributed mode with exactly.once.source.support=enabled: source tasks produce in
   * transactions with transactional id `<transactionalIdPrefix>-<connector>-<task>` (Connect's
   * `<group.id>-<connector>-<task>`), their offsets written in the same transactions.
   */
  exactlyOnceSource?: {
    transactionalIdPrefix: string;
    offsetRecords(connector: string, entries: SourceOffsetUpdate[]): RawKafkaRecord[];
  };
}

interface ConnectorInstance {
  name: string;
  plugin: ConnectorPlugin;
  connector: SourceConnector | SinkConnector;
  config: ConnectorConfig;
  resolved: Record<string, string>;
  state: State;
}

interface TaskInstance {
  connector: string;
  task: number;
  runner: SourceTaskRunner | SinkTaskRunner;
  connectorConfig: ConnectorConfig;
  taskConfig: TaskConfig;
  dlq?: DeadLetterQueue & { close?(): Promise<void> };
  restartAttempts: number;
  restartTimer?: NodeJS.Timeout;
  stopped: boolean;
}

const taskKey = (connector: string, task: number) => `${connector}-${task}`;

export class Worker {
  private readonly o: WorkerOptions;
  private readonly connectors = new Map<string, ConnectorInstance>();
  private readonly tasks = new Map<string, TaskInstance>();
  private generation = 0;

  constructor(options: WorkerOptions) {
    this.o = options;
  }

  get workerId(): string {
    return this.o.workerId;
  }

  /** Set once the REST listener knows its port (rest.port=0). */
  setWorkerId(id: string): void {
    this.o.workerId = id;
  }

  /** The worker group's generation this worker's work belongs to (distributed mode), on every status it writes. */
  setGeneration(generation: number): void {
    this.generation = generation;
  }

  private statusMeta(): { workerId: string; generation: number } {
    return { workerId: this.o.workerId, generation: this.generation };
  }

  private get statusOptions(): { safe: boolean } {
    return { safe: this.o.safeStatusWrites === true };
  }

  findPlugin(config: ConnectorConfig): ConnectorPlugin {
    const cls = config['connector.class'];
    const plugin = cls ? this.o.registry.find(cls) : undefined;
    if (!plugin) {
      throw ConfigError.fromFields([{ name: 'connector.class', message: cls ? `Unknown connector class ${cls}. Known: ${this.o.registry.knownNames().join(', ')}.` : 'Missing required configuration "connector.class".' }]);
    }
    return plugin;
  }

  // ---- connectors ------------------------------------------------------------------------------

  /** Start a connector instance (idempotent: a running one is stopped first). STOPPED starts nothing. */
  async startConnector(name: string, config: ConnectorConfig, target: TargetState): Promise<boolean> {
    await this.stopConnector(name);
    if (target === 'STOPPED') {
      await this.putConnectorStatus(name, 'STOPPED');
      return false;
    }
    const logger = this.o.logger.child({ connector: name });
    let instance: ConnectorInstance | undefined;
    try {
      const plugin = this.findPlugin(config);
      const { resolved, secretKeys } = await resolveConfig(config);
      this.rememberSecrets(resolved, secretKeysFor(resolved, plugin.config, secretKeys));
      const connector = plugin.createConnector();
      instance = { name, plugin, connector, config, resolved, state: 'UNASSIGNED' };
      this.connectors.set(name, instance);
      const context: ConnectorContext = {
        connectorName: name,
        logger,
        requestTaskReconfiguration: () => this.o.onTaskReconfiguration?.(name),
        raiseError: (e) => void this.failConnector(name, e),
      };
      await connector.start(resolved, context);
      instance.state = target === 'PAUSED' ? 'PAUSED' : 'RUNNING';
      await this.putConnectorStatus(name, instance.state);
      logger.info({ class: plugin.className }, `connector ${name} started`);
      return true;
    } catch (e) {
      logger.error({ err: (e as Error).message }, `connector ${name} failed to start`);
      await this.failConnector(name, e);
      return false;
    }
  }

  private readonly secrets = new Set<string>();

  /** Resolved secret values never reach a log line: the process-wide redactor replaces them. */
  private rememberSecrets(resolved: Record<string, string>, keys: Set<string>): void {
    const before = this.secrets.size;
    for (const v of secretValues(resolved, keys)) this.secrets.add(v);
    if (this.secrets.size !== before) setRedactor(secretRedactor(this.secrets));
  }

  isConnectorRunning(name: string): boolean {
    const c = this.connectors.get(name);
    return c !== undefined && (c.state === 'RUNNING' || c.state === 'PAUSED');
  }

  /** The connector's task configs, with resolved secrets put back as their `${...}` placeholders. */
  async connectorTaskConfigs(name: string): Promise<TaskConfig[]> {
    const c = this.connectors.get(name);
    if (!c || !this.isConnectorRunning(name)) throw new Error(`Connector ${name} is not running on this worker.`);
    const maxTasks = Number(c.resolved['tasks.max'] ?? '1');
    const configs = await c.connector.taskConfigs(maxTasks);
    if (configs.length > maxTasks) throw new Error(`Connector ${name} returned ${configs.length} task configs, more than tasks.max=${maxTasks}.`);
    return configs.map((tc) => reverseResolve(tc, c.config, c.resolved));
  }

  async stopConnector(name: string): Promise<void> {
    const c = this.connectors.get(name);
    if (!c) return;
    this.connectors.delete(name);
    try {
      await c.connector.stop();
    } catch (e) {
      this.o.logger.warn({ connector: name, err: (e as Error).message }, 'connector stop() threw');
    }
  }

  setConnectorTargetState(name: string, target: TargetState): void {
    const c = this.connectors.get(name);
    if (c && (c.state === 'RUNNING' || c.state === 'PAUSED')) {
      c.state = target === 'PAUSED' ? 'PAUSED' : 'RUNNING';
      void this.putConnectorStatus(name, c.state);
    }
    for (const t of this.tasks.values()) {
      if (t.connector !== name || t.runner.hasFailed) continue;
      if (target === 'PAUSED') t.runner.pause();
      else if (target === 'RUNNING') t.runner.resume();
    }
  }

  private async failConnector(name: string, e: unknown): Promise<void> {
    const c = this.connectors.get(name);
    if (c) c.state = 'FAILED';
    await this.putConnectorStatus(name, 'FAILED', e);
  }

  private async putConnectorStatus(name: string, state: State, error?: unknown): Promise<void> {
    await this.o.status.putConnector(name, { state, ...(error === undefined ? {} : { trace: traceOf(error) }), ...this.statusMeta() }, this.statusOptions);
  }

  // ---- tasks -----------------------------------------------------------------------------------

  /** The configs a running task was started with (to tell whether new ones differ). */
  taskConfigsOf(connector: string, task: number): { connectorConfig: ConnectorConfig; taskConfig: TaskConfig } | undefined {
    const t = this.tasks.get(taskKey(connector, task));
    return t && { connectorConfig: t.connectorConfig, taskConfig: t.taskConfig };
  }

  runningTasks(connector?: string): Array<{ connector: string; task: number }> {
    return [...this.tasks.values()].filter((t) => connector === undefined || t.connector === connector).map((t) => ({ connector: t.connector, task: t.task }));
  }

  async startTask(connector: string, task: number, connectorConfig: ConnectorConfig, taskConfig: TaskConfig, target: TargetState): Promise<void> {
    await this.stopTask(connector, task);
    const instance: TaskInstance = { connector, task, connectorConfig, taskConfig, restartAttempts: 0, stopped: false, runner: undefined as never };
    this.tasks.set(taskKey(connector, task), instance);
    await this.launch(instance, target);
  }

  private async launch(t: TaskInstance, target: TargetState): Promise<void> {
    const { connector: name, task } = t;
    const logger = this.o.logger.child({ connector: name, task });
    const status = this.statusListener(t, logger);
    try {
      const plugin = this.findPlugin(t.connectorConfig);
      const { resolved: cfg } = await resolveConfig(t.connectorConfig);
      const { resolved: taskConfig } = await resolveConfig(t.taskConfig);
      const errorsCfg = errorHandlingConfig(cfg);
      t.dlq = errorsCfg.dlqTopic ? this.deadLetterQueue(errorsCfg.dlqTopic) : undefined;
      const errors = new ErrorHandler({ config: errorsCfg, logger, dlq: t.dlq, connectorName: name, taskId: task, metrics: this.o.metrics.errorHandlerMetrics(name, task) });
      const stages = transformStages(cfg, this.o.transforms);
      const transform = applyStages(stages);
      const converters = this.o.bus.needsBytes
        ? {
            key: converterFromConfig(cfg, 'key', this.workerConverterDefaults(), this.o.converters),
            value: converterFromConfig(cfg, 'value', this.workerConverterDefaults(), this.o.converters),
          }
        : undefined;
      if (plugin.type === 'source') {
        const transactions = this.transactionsFor(name, task, cfg);
        t.runner = new SourceTaskRunner({
          connectorName: name, taskId: task, task: plugin.createTask(), taskConfig, producer: transactions?.producer ?? this.o.bus.producer(`${name}-${task}`),
          transactions,
          converters, transform: transform as never, offsets: this.o.offsets, errors, logger, metrics: this.o.metrics, status,
          offsetFlushIntervalMs: this.o.offsetFlushIntervalMs,
          // On stop, in-flight records are worth waiting for only as long as they can become durable:
          // Kafka acks within Connect's offset.flush.timeout.ms; in-process topics once sinks flush,
          // about one flush interval (and never, for a topic no sink reads).
          offsetFlushTimeoutMs: this.o.bus.kind === 'memory' ? Math.min(5000, 2 * this.o.offsetFlushIntervalMs) : 5000,
          shutdownGracefulTimeoutMs: this.o.taskShutdownGracefulTimeoutMs,
        });
      } else {
        const sinkCfg = sinkConnectorConfig.parse(cfg);
        const topics = sinkCfg.topics as string[];
        const regex = sinkCfg['topics.regex'] as string;
        if (topics.length === 0 && !regex) throw ConfigError.fromFields([{ name: 'topics', message: 'A sink connector needs topics or topics.regex.' }]);
        t.runner = new SinkTaskRunner({
          connectorName: name, taskId: task, task: plugin.createTask(), taskConfig, bus: this.o.bus, topics,
          topicsRegex: regex ? new RegExp(regex) : undefined, converters, transform: transform as never, untransformed: stages.length === 0, errors, logger,
          metrics: this.o.metrics, status, offsetFlushIntervalMs: this.o.offsetFlushIntervalMs,
          flushMaxRecords: this.o.sinkFlushMaxRecords, maxPollRecords: sinkCfg['consumer.max.poll.records'] as number,
          shutdownGracefulTimeoutMs: this.o.taskShutdownGracefulTimeoutMs,
        });
      }
      if (t.stopped) return;
      await t.runner.start(target === 'PAUSED');
    } catch (e) {
      status.onState('FAILED', e);
    }
  }

  /** The exactly-once wiring of a source task, when the worker runs exactly-once sources. */
  private transactionsFor(connector: string, task: number, cfg: Record<string, string>) {
    const eos = this.o.exactlyOnceSource;
    if (!eos || !this.o.bus.transactionalProducer) return undefined;
    const parsed = sourceConnectorConfig.parse(cfg);
    const interval = parsed['transaction.boundary.interval.ms'] as number;
    return {
      producer: this.o.bus.transactionalProducer(`${connector}-${task}`, `${eos.transactionalIdPrefix}-${connector}-${task}`),
      offsetRecords: (entries: SourceOffsetUpdate[]) => eos.offsetRecords(connector, entries),
      boundary: parsed['transaction.boundary'] as 'poll' | 'interval',
      intervalMs: interval > 0 ? interval : this.o.offsetFlushIntervalMs,
    };
  }

  private workerConverterDefaults(): Record<string, string> {
    return { 'key.converter': this.o.defaultKeyConverter, 'value.converter': this.o.defaultValueConverter };
  }

  private deadLetterQueue(topic: string): DeadLetterQueue & { close?(): Promise<void> } {
    if (this.o.bus.kind === 'memory') return new FileDeadLetterQueue(this.o.stateDir, topic);
    return new TopicDeadLetterQueue(this.o.bus.producer(`dlq-${topic}`), topic);
  }

  private statusListener(t: TaskInstance, logger: Logger): TaskStatusListener {
    const { connector, task } = t;
    let progress: Record<string, unknown> | undefined;
    let state: State = 'UNASSIGNED';
    let trace: string | undefined;
    const write = () =>
      this.o.status
        .putTask(connector, task, { state, ...(trace ? { trace } : {}), ...this.statusMeta(), ...(progress ? { progress } : {}) }, this.statusOptions)
        .catch((e: Error) => logger.error({ err: e.message }, 'status write failed'));
    // Progress is written at most once a second; an update inside that second is written when it
    // ends (trailing), so the last progress of a burst (say `done: true`) is never dropped.
    let lastProgressWrite = 0;
    let trailing: NodeJS.Timeout | undefined;
    const writeProgress = () => {
      trailing = undefined;
      if (t.stopped) return;
      lastProgressWrite = Date.now();
      void write();
    };
    return {
      onState: (s, error) => {
        if (t.stopped && s !== 'FAILED') return;
        state = s;
        trace = error === undefined ? undefined : traceOf(error);
        this.o.metrics.setTaskState(connector, task, s);
        void write();
        if (s === 'FAILED') this.scheduleRestart(t, logger);
      },
      onProgress: (p) => {
        progress = { ...progress, ...p };
        this.o.metrics.setProgress(connector, task, progress);
        if (trailing !== undefined) return;
        const wait = lastProgressWrite + 1000 - Date.now();
        if (wait <= 0) writeProgress();
        else {
          trailing = setTimeout(writeProgress, wait);
          trailing.unref();
        }
      },
      onTopic: (topic) => void this.o.status.putTopic(connector, topic, task).catch(() => {}),
    };
  }

  /** errors.restart.max.attempts: restart a failed task after 1 s, 2 s, 4 s ... (capped). Kafka Connect never does. */
  private scheduleRestart(t: TaskInstance, logger: Logger): void {
    let max = 0;
    let cap = 60_000;
    try {
      const cfg = errorHandlingConfig(t.connectorConfig);
      max = cfg.restartMaxAttempts;
      cap = cfg.restartBackoffMaxMs;
    } catch {
      return;
    }
    if (t.stopped || max === 0 || (max > 0 && t.restartAttempts >= max)) return;
    const delay = Math.min(1000 * 2 ** t.restartAttempts, cap);
    t.restartAttempts++;
    logger.warn({ attempt: t.restartAttempts, delayMs: delay }, 'task failed; restarting automatically');
    t.restartTimer = setTimeout(async () => {
      if (t.stopped) return;
      await this.o.status.putTask(t.connector, t.task, { state: 'RESTARTING', ...this.statusMeta() }, this.statusOptions);
      await t.runner?.stop().catch(() => {});
      await t.dlq?.close?.();
      if (t.stopped) return;
      const paused = this.connectors.get(t.connector)?.state === 'PAUSED';
      await this.launch(t, paused ? 'PAUSED' : 'RUNNING');
    }, delay);
    t.restartTimer.unref();
  }

  async stopTask(connector: string, task: number): Promise<void> {
    const t = this.tasks.get(taskKey(connector, task));
    if (!t) return;
    t.stopped = true;
    if (t.restartTimer) clearTimeout(t.restartTimer);
    this.tasks.delete(taskKey(connector, task));
    await t.runner?.stop().catch((e: Error) => this.o.logger.warn({ connector, task, err: e.message }, 'task stop failed'));
    await t.dlq?.close?.();
  }

  /**
   * Send a signal to this worker's running source tasks of the connector (only `tasks` when
   * given); resolves with how many took it. A task's ConfigError (a malformed signal) rejects.
   */
  async signalTasks(connector: string, signal: TaskSignal, tasks?: number[]): Promise<number> {
    let accepted = 0;
    for (const t of this.tasks.values()) {
      if (t.connector !== connector || (tasks && !tasks.includes(t.task)) || !(t.runner instanceof SourceTaskRunner)) continue;
      if (await t.runner.signal(signal)) accepted++;
    }
    return accepted;
  }

  /** A deleted connector: its metric series go too. */
  async forgetConnector(connector: string): Promise<void> {
    await this.o.metrics.removeConnector(connector);
  }

  /**
   * A connector is being deleted: stop its instance here, then run its plugin's `onDelete` with
   * the config it ran with (`config` when it does not run here). Call after its tasks stopped.
   */
  async deleteConnector(name: string, config?: ConnectorConfig): Promise<void> {
    const running = this.connectors.get(name)?.config;
    await this.stopConnector(name);
    const raw = running ?? config;
    if (!raw) return;
    const logger = this.o.logger.child({ connector: name });
    try {
      const plugin = this.findPlugin(raw);
      if (!plugin.onDelete) return;
      const { resolved } = await resolveConfig(raw);
      await plugin.onDelete(resolved, logger);
    } catch (e) {
      logger.warn({ err: (e as Error).message }, `cleaning up after deleted connector ${name} failed`);
    }
  }

  async stopTasks(connector: string): Promise<void> {
    await Promise.all(this.runningTasks(connector).map((t) => this.stopTask(t.connector, t.task)));
  }

  /**
   * Stop everything: source tasks first, while sinks still run, so what sources already sent can
   * still be flushed and their offsets committed; then sink tasks (they flush and commit); then
   * connectors.
   */
  async stop(): Promise<void> {
    const all = [...this.tasks.values()];
    await Promise.all(all.filter((t) => t.runner instanceof SourceTaskRunner).map((t) => this.stopTask(t.connector, t.task)));
    await Promise.all(all.filter((t) => !(t.runner instanceof SourceTaskRunner)).map((t) => this.stopTask(t.connector, t.task)));
    await Promise.all([...this.connectors.keys()].map((n) => this.stopConnector(n)));
  }
}

/**
 * Connectors see resolved configs, and often copy values into task configs; before those are
 * stored, put each resolved secret back as the placeholder it came from (Kafka Connect's
 * reverseTransform), so no secret is written to the config store.
 */
function reverseResolve(taskConfig: TaskConfig, raw: ConnectorConfig, resolved: Record<string, string>): TaskConfig {
  const out: TaskConfig = {};
  for (const [k, v] of Object.entries(taskConfig)) {
    out[k] = raw[k] !== undefined && raw[k] !== resolved[k] && resolved[k] === v ? raw[k] : v;
  }
  return out;
}
