/**
 * What both Herders share (Kafka Connect's AbstractHerder): every read, answered from this
 * worker's copy of the stores, config validation, and the offset writes of KIP-875. The modes
 * differ only in how writes reach the stores and the Worker: the standalone Herder applies them
 * itself, the distributed one through the group leader and the config log.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError, type FieldError, type Logger, type TaskSignal } from '../api/index.ts';
import { runtimeSpecFor } from '../engine/connector-config.ts';
import type { ConnectorRegistry } from '../engine/registry.ts';
import { maskConfig, restoreMaskedValues, secretKeysFor } from '../engine/secrets.ts';
import type { TopicBus } from '../engine/topic-bus.ts';
import type { ConverterRegistry } from '../converters/index.ts';
import type { ConfigStore, OffsetStore, StatusStore } from '../store/index.ts';
import { validateTransforms, type TransformRegistry } from '../transforms/index.ts';
import { converterFromConfig } from '../converters/index.ts';
import {
  HerderError,
  type ConfigInfos,
  type ConnectorConfig,
  type ConnectorInfo,
  type ConnectorOffset,
  type ConnectorStateInfo,
  type Herder,
  type PluginInfo,
  type RestartRequest,
  type ServerInfo,
  type SignalRequest,
  type SignalResult,
  type TargetState,
  type TaskInfo,
  type TaskStateEntry,
} from './herder.ts';

export interface HerderOptions {
  configs: ConfigStore;
  offsets: OffsetStore;
  status: StatusStore;
  bus: TopicBus;
  registry: ConnectorRegistry;
  transforms: TransformRegistry;
  converters: ConverterRegistry;
  logger: Logger;
  version: string;
  commit: string;
  kafkaClusterId: string | null;
}

export abstract class BaseHerder<O extends HerderOptions = HerderOptions> implements Herder {
  protected readonly o: O;

  constructor(options: O) {
    this.o = options;
  }

  /** This worker's id, on statuses of work nobody has reported yet. */
  protected abstract get workerId(): string;

  // ---- writes, per mode ------------------------------------------------------------------------

  abstract putConnectorConfig(
    name: string,
    config: ConnectorConfig,
    options: { allowReplace: boolean; initialState?: TargetState },
  ): Promise<{ created: boolean; info: ConnectorInfo }>;
  abstract deleteConnector(name: string): Promise<void>;
  /** Write a connector's target state (RUNNING, PAUSED or STOPPED) and apply it. */
  protected abstract setTarget(name: string, target: TargetState): Promise<void>;
  abstract restartConnector(name: string, request: RestartRequest): Promise<ConnectorStateInfo | null>;
  abstract restartTask(name: string, task: number): Promise<void>;
  abstract resetConnectorTopics(name: string): Promise<void>;
  abstract alterConnectorOffsets(name: string, offsets: ConnectorOffset[]): Promise<{ message: string }>;
  abstract resetConnectorOffsets(name: string): Promise<{ message: string }>;
  abstract signalConnector(name: string, signal: SignalRequest): Promise<SignalResult>;

  pauseConnector(name: string): Promise<void> {
    return this.setTarget(name, 'PAUSED');
  }

  resumeConnector(name: string): Promise<void> {
    return this.setTarget(name, 'RUNNING');
  }

  stopConnector(name: string): Promise<void> {
    return this.setTarget(name, 'STOPPED');
  }

  async patchConnectorConfig(name: string, patch: Record<string, string | null>): Promise<ConnectorInfo> {
    const current = this.rawConfig(name);
    const next: ConnectorConfig = { ...current };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    const { info } = await this.putConnectorConfig(name, next, { allowReplace: true });
    return info;
  }

  // ---- reads -----------------------------------------------------------------------------------

  async serverInfo(): Promise<ServerInfo> {
    return { version: this.o.version, commit: this.o.commit, kafka_cluster_id: this.o.kafkaClusterId };
  }

  async connectors(): Promise<string[]> {
    return this.o.configs.connectorNames().sort();
  }

  protected rawConfig(name: string): ConnectorConfig {
    const config = this.o.configs.connectorConfig(name);
    if (!config) throw HerderError.notFound(`Connector ${name} not found`);
    return config;
  }

  protected typeOf(config: ConnectorConfig): 'source' | 'sink' {
    return this.o.registry.find(config['connector.class'] ?? '')?.type ?? (config.topics || config['topics.regex'] ? 'sink' : 'source');
  }

  protected mask(config: ConnectorConfig): ConnectorConfig {
    const plugin = this.o.registry.find(config['connector.class'] ?? '');
    return maskConfig(config, secretKeysFor(config, plugin?.config));
  }

  async connectorInfo(name: string): Promise<ConnectorInfo> {
    const config = this.rawConfig(name);
    const tasks = (this.o.configs.connectorTaskConfigs(name) ?? []).map((_, task) => ({ connector: name, task }));
    return { name, config: this.mask(config), tasks, type: this.typeOf(config) };
  }

  async connectorConfig(name: string): Promise<ConnectorConfig> {
    return this.mask(this.rawConfig(name));
  }

  async connectorStatus(name: string): Promise<ConnectorStateInfo> {
    const config = this.rawConfig(name);
    const target = this.o.configs.targetState(name) ?? 'RUNNING';
    const c = this.o.status.getConnector(name);
    const workerId = this.workerId;
    const connector = c
      ? { state: c.state, worker_id: c.workerId, ...(c.trace ? { trace: c.trace } : {}) }
      : { state: target === 'STOPPED' ? 'STOPPED' as const : 'UNASSIGNED' as const, worker_id: workerId };
    const count = (this.o.configs.connectorTaskConfigs(name) ?? []).length;
    const tasks: TaskStateEntry[] = [];
    for (let id = 0; id < count; id++) tasks.push(this.taskEntry(name, id));
    return { name, connector, tasks, type: this.typeOf(config) };
  }

  protected taskEntry(name: string, id: number): TaskStateEntry {
    const t = this.o.status.getTask(name, id);
    if (!t) return { id, state: 'UNASSIGNED', worker_id: this.workerId };
    return { id, state: t.state, worker_id: t.workerId, ...(t.trace ? { trace: t.trace } : {}), ...(t.progress ? { progress: t.progress } : {}) };
  }

  async taskStatus(name: string, task: number): Promise<TaskStateEntry> {
    this.rawConfig(name);
    const count = (this.o.configs.connectorTaskConfigs(name) ?? []).length;
    if (!Number.isInteger(task) || task < 0 || task >= count) throw HerderError.notFound(`Task ${name}-${task} not found`);
    return this.taskEntry(name, task);
  }

  async taskConfigs(name: string): Promise<TaskInfo[]> {
    const config = this.rawConfig(name);
    const plugin = this.o.registry.find(config['connector.class'] ?? '');
    return (this.o.configs.connectorTaskConfigs(name) ?? []).map((tc, task) => ({
      id: { connector: name, task },
      config: maskConfig(tc, secretKeysFor(tc, plugin?.config)),
    }));
  }

  async connectorTopics(name: string): Promise<{ [name: string]: { topics: string[] } }> {
    this.rawConfig(name);
    return { [name]: { topics: this.o.status.topics(name).sort() } };
  }

  async plugins(options: { connectorsOnly: boolean }): Promise<PluginInfo[]> {
    const out: PluginInfo[] = this.o.registry.all().map((p) => ({ class: p.className, type: p.type, version: p.version }));
    if (!options.connectorsOnly) {
      for (const t of this.o.transforms.transforms()) out.push({ class: t.className, type: 'transformation', version: this.o.version });
      for (const p of this.o.transforms.predicates()) out.push({ class: p.className, type: 'predicate', version: this.o.version });
      for (const c of this.o.converters.list()) out.push({ class: c.className, type: 'converter', version: this.o.version });
    }
    return out.sort((a, b) => (a.class < b.class ? -1 : 1));
  }

  async pluginConfig(pluginName: string): Promise<Array<Record<string, unknown>>> {
    // Connectors, and (as in Kafka Connect) transforms, predicates and converters too.
    const plugin = this.o.registry.find(pluginName) ?? this.o.transforms.findTransform(pluginName) ?? this.o.transforms.findPredicate(pluginName) ?? this.o.converters.get(pluginName);
    if (!plugin) throw HerderError.notFound(`Unknown plugin ${pluginName}. GET /connector-plugins?connectorsOnly=false lists them.`);
    return plugin.config.describe() as unknown as Array<Record<string, unknown>>;
  }

  async validateConnectorConfig(pluginName: string, config: ConnectorConfig): Promise<ConfigInfos> {
    const plugin = this.o.registry.find(pluginName);
    if (!plugin) throw HerderError.badRequest(`Unknown connector class ${pluginName}. Known: ${this.o.registry.knownNames().join(', ')}.`);
    const spec = runtimeSpecFor(plugin.type).extend(plugin.config.definition);
    const configs = spec.validate(config);
    const extra: FieldError[] = [...validateTransforms(config, this.o.transforms), ...this.validateConverters(config)];
    if (configs.every((c) => c.value.errors.length === 0) && plugin.validate) {
      try {
        extra.push(...(await plugin.validate(config)));
      } catch (e) {
        extra.push({ name: 'connector.class', message: `Validation of ${plugin.className} failed: ${(e as Error).message}` });
      }
    }
    if (plugin.type === 'sink' && !config.topics && !config['topics.regex']) {
      extra.push({ name: 'topics', message: 'Must configure one of topics or topics.regex.' });
    }
    for (const e of extra) {
      const existing = configs.find((c) => c.value.name === e.name);
      if (existing) existing.value.errors.push(e.message);
      else configs.push({
        definition: { name: e.name, type: 'STRING', required: false, default_value: null, importance: 'LOW', documentation: '', group: null, order: -1, width: 'NONE', display_name: e.name, dependents: [] },
        value: { name: e.name, value: config[e.name] ?? null, recommended_values: [], errors: [e.message], visible: true },
      });
    }
    const groups = [...new Set(configs.map((c) => c.definition.group).filter((g): g is string => !!g))];
    return {
      name: plugin.className,
      error_count: configs.reduce((n, c) => n + c.value.errors.length, 0),
      groups,
      configs: configs as unknown as ConfigInfos['configs'],
    };
  }

  protected validateConverters(config: ConnectorConfig): FieldError[] {
    const out: FieldError[] = [];
    for (const which of ['key', 'value'] as const) {
      if (!config[`${which}.converter`]) continue;
      try {
        converterFromConfig(config, which, {}, this.o.converters);
      } catch (e) {
        if (e instanceof ConfigError) out.push(...e.fields);
        else out.push({ name: `${which}.converter`, message: (e as Error).message });
      }
    }
    return out;
  }

  protected async validateOrThrow(name: string, config: ConnectorConfig): Promise<void> {
    if (!config['connector.class']) {
      throw ConfigError.fromFields([{ name: 'connector.class', message: 'Missing required configuration "connector.class". Set it to a connector class or alias (GET /connector-plugins lists them).' }], 'Connector configuration is invalid');
    }
    const result = await this.validateConnectorConfig(config['connector.class'], { ...config, name });
    if (result.error_count > 0) {
      const fields = result.configs.flatMap((c) => (c.value.errors as string[]).map((message) => ({ name: String(c.value.name), message })));
      throw ConfigError.fromFields(fields, `Connector configuration is invalid and contains ${result.error_count} error(s)`);
    }
  }


  /**
   * The config to store for a PUT: masked secrets restored from the stored config (a config
   * fetched masked and PUT back keeps its real secrets), and `unchanged` when it equals the stored
   * one (connector files re-applied at start, an idempotent deploy script: nothing restarts).
   * Validates a changed config (throws ConfigError naming the fields).
   */
  protected async prepareConfig(name: string, config: ConnectorConfig, allowReplace: boolean): Promise<{ full: ConnectorConfig; exists: boolean; unchanged: boolean }> {
    if (!name || name.includes('/')) throw HerderError.badRequest('Connector name must be non-empty and must not contain "/".');
    const stored = this.o.configs.connectorConfig(name);
    const exists = stored !== undefined;
    if (exists && !allowReplace) throw HerderError.conflict(`Connector ${name} already exists`);
    const plugin = this.o.registry.find(config['connector.class'] ?? '');
    const full = restoreMaskedValues({ ...config, name }, stored, secretKeysFor(config, plugin?.config));
    if (exists && sameConfig(stored, full)) return { full, exists, unchanged: true };
    await this.validateOrThrow(name, full);
    return { full, exists, unchanged: false };
  }

  /** The status answer of a restart with includeTasks/onlyFailed: what will restart, marked RESTARTING. */
  protected async restartPlan(name: string, request: RestartRequest): Promise<{ result: ConnectorStateInfo; connector: boolean; tasks: number[] }> {
    const status = await this.connectorStatus(name);
    const connector = !request.onlyFailed || status.connector.state === 'FAILED';
    const tasks = request.includeTasks ? status.tasks.filter((t) => !request.onlyFailed || t.state === 'FAILED').map((t) => t.id) : [];
    const result: ConnectorStateInfo = {
      ...status,
      connector: connector ? { ...status.connector, state: 'RESTARTING' } : status.connector,
      tasks: status.tasks.map((t) => (tasks.includes(t.id) ? { ...t, state: 'RESTARTING' } : t)),
    };
    return { result, connector, tasks };
  }

  /** The signal as tasks get it (an id generated when none was given); 400 for a sink connector. */
  protected taskSignal(name: string, signal: SignalRequest): TaskSignal {
    const config = this.rawConfig(name);
    if (this.typeOf(config) !== 'source') throw HerderError.badRequest(`Connector ${name} is a sink connector; signals go to source connectors' tasks.`);
    return { id: signal.id ?? randomUUID(), type: signal.type, data: signal.data as TaskSignal['data'] };
  }

  protected assertTaskExists(name: string, task: number): void {
    this.rawConfig(name);
    const count = (this.o.configs.connectorTaskConfigs(name) ?? []).length;
    if (!Number.isInteger(task) || task < 0 || task >= count) throw HerderError.notFound(`Task ${name}-${task} not found`);
  }

  // ---- offsets (KIP-875) -----------------------------------------------------------------------

  async connectorOffsets(name: string): Promise<{ offsets: ConnectorOffset[] }> {
    const config = this.rawConfig(name);
    if (this.typeOf(config) === 'sink') {
      const group = await this.o.bus.groupOffsets(`connect-${name}`);
      return {
        offsets: [...group.values()].map((o) => ({ partition: { kafka_topic: o.topic, kafka_partition: o.partition }, offset: { kafka_offset: o.offset } })),
      };
    }
    return { offsets: (await this.o.offsets.getAll(name)).map((o) => ({ partition: o.partition, offset: o.offset })) };
  }

  /** Write altered offsets (the connector is stopped: the caller checked). */
  protected async writeOffsets(name: string, offsets: ConnectorOffset[]): Promise<{ message: string }> {
    const config = this.rawConfig(name);
    if (!Array.isArray(offsets) || offsets.length === 0) throw HerderError.badRequest('The offsets to be altered are missing from the request body: send {"offsets": [{"partition": {...}, "offset": {...}}]}.');
    if (this.typeOf(config) === 'sink') {
      const entries = offsets.map((o, i) => {
        const p = o.partition as { kafka_topic?: unknown; kafka_partition?: unknown };
        const off = o.offset as { kafka_offset?: unknown } | null;
        if (typeof p?.kafka_topic !== 'string' || !Number.isInteger(p?.kafka_partition)) {
          throw HerderError.badRequest(`offsets[${i}].partition must be {"kafka_topic": string, "kafka_partition": int}.`);
        }
        if (off !== null && !(Number.isInteger(off?.kafka_offset) && (off!.kafka_offset as number) >= 0)) {
          throw HerderError.badRequest(`offsets[${i}].offset must be {"kafka_offset": non-negative int} or null.`);
        }
        return { topic: p.kafka_topic, partition: p.kafka_partition as number, offset: off === null ? null : (off.kafka_offset as number) };
      });
      await this.o.bus.alterGroupOffsets(`connect-${name}`, entries);
    } else {
      for (const [i, o] of offsets.entries()) {
        if (!o || typeof o.partition !== 'object' || o.partition === null) throw HerderError.badRequest(`offsets[${i}].partition must be a JSON object.`);
        if (o.offset !== null && typeof o.offset !== 'object') throw HerderError.badRequest(`offsets[${i}].offset must be a JSON object or null.`);
      }
      await this.o.offsets.set(name, offsets.map((o) => ({ partition: o.partition as never, offset: o.offset as never })));
    }
    return { message: 'The offsets for this connector have been altered successfully' };
  }

  /** Reset every offset of a stopped connector. */
  protected async clearOffsets(name: string): Promise<{ message: string }> {
    const config = this.rawConfig(name);
    if (this.typeOf(config) === 'sink') {
      const group = await this.o.bus.groupOffsets(`connect-${name}`);
      await this.o.bus.alterGroupOffsets(`connect-${name}`, [...group.values()].map((o) => ({ topic: o.topic, partition: o.partition, offset: null })));
    } else {
      await this.o.offsets.resetConnector(name);
    }
    return { message: 'The offsets for this connector have been reset successfully' };
  }

  protected static notStopped(name: string): HerderError {
    return HerderError.badRequest(`Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/${name}/stop' endpoint`);
  }
}

export function sameConfig(a: ConnectorConfig, b: ConnectorConfig): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
