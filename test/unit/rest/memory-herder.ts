/**
 * A small in-memory Herder for REST and CLI tests: configs, target states, tasks, status, offsets
 * and topics, with the Herder contract's errors (HerderError 404/409/400, ConfigError) and masking.
 * Tasks start RUNNING (or PAUSED/STOPPED per target state); `failTask` simulates a failure.
 */
import { ConfigError, defineConfig, range } from '../../../runtime/api/index.ts';
import type { ConfigSpec } from '../../../runtime/api/index.ts';
import { HerderError } from '../../../runtime/cluster/herder.ts';
import type {
  ConfigInfos,
  ConnectorConfig,
  ConnectorInfo,
  ConnectorOffset,
  ConnectorStateInfo,
  ConnectorType,
  Herder,
  PluginInfo,
  RestartRequest,
  SignalRequest,
  SignalResult,
  ServerInfo,
  State,
  TargetState,
  TaskInfo,
  TaskStateEntry,
} from '../../../runtime/cluster/herder.ts';

interface Plugin {
  info: PluginInfo;
  aliases: string[];
  spec?: ConfigSpec;
}

interface Connector {
  config: ConnectorConfig;
  type: ConnectorType;
  target: TargetState;
  connectorState: State;
  connectorTrace?: string;
  tasks: Array<{ state: State; trace?: string; progress?: Record<string, unknown> }>;
  offsets: ConnectorOffset[];
  topics: string[];
}

const COMMON = defineConfig({
  name: { type: 'string', doc: 'Connector name.' },
  'connector.class': { type: 'class', doc: 'Connector class or alias.' },
  'tasks.max': { type: 'int', default: 1, validate: range(1), doc: 'Maximum number of tasks.' },
});

export const DEMO_SOURCE = 'io.tributary.connect.demo.DemoSourceConnector';
export const LOG_SINK = 'io.tributary.connect.demo.LogSinkConnector';

export class MemoryHerder implements Herder {
  readonly workerId: string;
  readonly connectorsByName = new Map<string, Connector>();
  readonly plugin: Plugin[] = [
    {
      info: { class: DEMO_SOURCE, type: 'source', version: '0.1.0' },
      aliases: ['demo', 'DemoSource'],
      spec: COMMON.extend({
        topic: { type: 'string', doc: 'Topic to write to.', importance: 'high' },
        'rate.per.sec': { type: 'int', default: 10, validate: range(1, 10_000), doc: 'Records per second.' },
        'api.password': { type: 'password', default: null, doc: 'A secret.' },
      }),
    },
    {
      info: { class: LOG_SINK, type: 'sink', version: '0.1.0' },
      aliases: ['log', 'LogSink'],
      spec: COMMON.extend({ topics: { type: 'list', doc: 'Topics to read.' } }),
    },
    { info: { class: 'io.tributary.transforms.InsertField', type: 'transformation', version: '0.1.0' }, aliases: [] },
    { info: { class: 'io.tributary.transforms.predicates.TopicNameMatches', type: 'predicate', version: '0.1.0' }, aliases: [] },
    { info: { class: 'io.tributary.converters.JsonConverter', type: 'converter', version: '0.1.0' }, aliases: [] },
  ];
  /** Calls made, for tests that check what REST asked for. */
  readonly calls: Array<{ method: string; args: unknown[] }> = [];

  constructor(workerId = 'worker-1:8083') {
    this.workerId = workerId;
  }

  // ---- helpers for tests ----

  failTask(name: string, task: number, trace = 'org.example.Boom: it broke\n\tat somewhere'): void {
    const c = this.get(name);
    c.tasks[task] = { state: 'FAILED', trace };
  }

  failConnector(name: string, trace = 'java.lang.RuntimeException: connector broke'): void {
    const c = this.get(name);
    c.connectorState = 'FAILED';
    c.connectorTrace = trace;
  }

  setProgress(name: string, task: number, progress: Record<string, unknown>): void {
    this.get(name).tasks[task].progress = progress;
  }

  // ---- Herder ----

  async serverInfo(): Promise<ServerInfo> {
    return { version: '0.1.0', commit: 'abc123', kafka_cluster_id: null };
  }

  async connectors(): Promise<string[]> {
    return [...this.connectorsByName.keys()];
  }

  async connectorInfo(name: string): Promise<ConnectorInfo> {
    const c = this.get(name);
    return { name, config: this.mask(c), tasks: c.tasks.map((_, task) => ({ connector: name, task })), type: c.type };
  }

  async connectorConfig(name: string): Promise<ConnectorConfig> {
    return this.mask(this.get(name));
  }

  async putConnectorConfig(
    name: string,
    config: ConnectorConfig,
    options: { allowReplace: boolean; initialState?: TargetState },
  ): Promise<{ created: boolean; info: ConnectorInfo }> {
    this.calls.push({ method: 'putConnectorConfig', args: [name, config, options] });
    const existing = this.connectorsByName.get(name);
    if (existing && !options.allowReplace) throw HerderError.conflict(`Connector ${name} already exists`);
    const plugin = this.validate(config);
    const tasksMax = Number(config['tasks.max'] ?? '1');
    const target = existing ? existing.target : (options.initialState ?? 'RUNNING');
    const taskState = stateFor(target);
    this.connectorsByName.set(name, {
      config: { ...config },
      type: plugin.info.type as ConnectorType,
      target,
      connectorState: stateFor(target),
      tasks: target === 'STOPPED' ? [] : Array.from({ length: tasksMax }, () => ({ state: taskState })),
      offsets: existing?.offsets ?? [],
      topics: existing?.topics ?? [],
    });
    return { created: !existing, info: await this.connectorInfo(name) };
  }

  async patchConnectorConfig(name: string, patch: Record<string, string | null>): Promise<ConnectorInfo> {
    this.calls.push({ method: 'patchConnectorConfig', args: [name, patch] });
    const c = this.get(name);
    const next: ConnectorConfig = { ...c.config };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    return (await this.putConnectorConfig(name, next, { allowReplace: true })).info;
  }

  async deleteConnector(name: string): Promise<void> {
    this.get(name);
    this.connectorsByName.delete(name);
  }

  async connectorStatus(name: string): Promise<ConnectorStateInfo> {
    const c = this.get(name);
    return {
      name,
      connector: entry(c.connectorState, this.workerId, c.connectorTrace),
      tasks: c.tasks.map((t, id) => this.taskEntry(id, t)),
      type: c.type,
    };
  }

  async taskStatus(name: string, task: number): Promise<TaskStateEntry> {
    const c = this.get(name);
    const t = c.tasks[task];
    if (!t) throw HerderError.notFound(`Task ${name}-${task} not found`);
    return this.taskEntry(task, t);
  }

  async taskConfigs(name: string): Promise<TaskInfo[]> {
    const c = this.get(name);
    return c.tasks.map((_, task) => ({ id: { connector: name, task }, config: { ...this.mask(c), 'task.id': String(task) } }));
  }

  async pauseConnector(name: string): Promise<void> {
    this.setTarget(name, 'PAUSED');
  }

  async resumeConnector(name: string): Promise<void> {
    this.setTarget(name, 'RUNNING');
  }

  async stopConnector(name: string): Promise<void> {
    this.setTarget(name, 'STOPPED');
  }

  async restartConnector(name: string, request: RestartRequest): Promise<ConnectorStateInfo | null> {
    this.calls.push({ method: 'restartConnector', args: [name, request] });
    const c = this.get(name);
    if (!request.includeTasks && !request.onlyFailed) {
      c.connectorState = stateFor(c.target);
      c.connectorTrace = undefined;
      return null;
    }
    const status = await this.connectorStatus(name);
    if (!request.onlyFailed || status.connector.state === 'FAILED') {
      status.connector = { state: 'RESTARTING', worker_id: this.workerId };
    }
    if (request.includeTasks) {
      status.tasks = status.tasks.map((t) => (!request.onlyFailed || t.state === 'FAILED' ? { id: t.id, state: 'RESTARTING', worker_id: t.worker_id } : t));
      c.tasks = c.tasks.map((t) => (!request.onlyFailed || t.state === 'FAILED' ? { state: stateFor(c.target) } : t));
    }
    return status;
  }

  async restartTask(name: string, task: number): Promise<void> {
    const c = this.get(name);
    if (!c.tasks[task]) throw HerderError.notFound(`Task ${name}-${task} not found`);
    c.tasks[task] = { state: stateFor(c.target) };
  }

  async signalConnector(name: string, signal: SignalRequest): Promise<SignalResult> {
    this.get(name);
    this.calls.push({ method: 'signalConnector', args: [name, signal] });
    return { id: signal.id ?? 'generated-id', accepted: 1 };
  }

  async connectorTopics(name: string): Promise<{ [name: string]: { topics: string[] } }> {
    return { [name]: { topics: [...this.get(name).topics] } };
  }

  async resetConnectorTopics(name: string): Promise<void> {
    this.get(name).topics = [];
  }

  async connectorOffsets(name: string): Promise<{ offsets: ConnectorOffset[] }> {
    return { offsets: this.get(name).offsets.map((o) => ({ ...o })) };
  }

  async alterConnectorOffsets(name: string, offsets: ConnectorOffset[]): Promise<{ message: string }> {
    const c = this.requireStopped(name);
    for (const o of offsets) {
      const key = JSON.stringify(o.partition);
      c.offsets = c.offsets.filter((x) => JSON.stringify(x.partition) !== key);
      if (o.offset !== null) c.offsets.push(o);
    }
    return { message: 'The offsets for this connector have been altered successfully' };
  }

  async resetConnectorOffsets(name: string): Promise<{ message: string }> {
    const c = this.requireStopped(name);
    c.offsets = [];
    return { message: 'The offsets for this connector have been reset successfully' };
  }

  async plugins(options: { connectorsOnly: boolean }): Promise<PluginInfo[]> {
    return this.plugin.filter((p) => !options.connectorsOnly || p.info.type === 'source' || p.info.type === 'sink').map((p) => ({ ...p.info }));
  }

  async pluginConfig(pluginName: string): Promise<Array<Record<string, unknown>>> {
    const p = this.find(pluginName);
    if (!p?.spec) throw HerderError.notFound(`Unknown plugin ${pluginName}.`);
    return p.spec.describe() as unknown as Array<Record<string, unknown>>;
  }

  async validateConnectorConfig(pluginName: string, config: ConnectorConfig): Promise<ConfigInfos> {
    const p = this.find(pluginName);
    if (!p?.spec) throw HerderError.notFound(`Unknown plugin ${pluginName}.`);
    const named = config['connector.class'] ? config : { ...config, 'connector.class': p.info.class };
    const configs = p.spec.validate(named);
    return {
      name: p.info.class,
      error_count: configs.reduce((n, c) => n + c.value.errors.length, 0),
      groups: ['Common'],
      configs: configs as unknown as ConfigInfos['configs'],
    };
  }

  // ---- internals ----

  private get(name: string): Connector {
    const c = this.connectorsByName.get(name);
    if (!c) throw HerderError.notFound(`Connector ${name} not found`);
    return c;
  }

  private find(nameOrAlias: string): Plugin | undefined {
    return this.plugin.find((p) => p.info.class === nameOrAlias || p.aliases.includes(nameOrAlias) || p.info.class.endsWith(`.${nameOrAlias}`));
  }

  private validate(config: ConnectorConfig): Plugin {
    const cls = config['connector.class'];
    if (!cls) throw ConfigError.fromFields([{ name: 'connector.class', message: 'Missing required configuration "connector.class" which has no default value.' }]);
    const p = this.find(cls);
    if (!p?.spec) throw ConfigError.fromFields([{ name: 'connector.class', message: `Failed to find any class that implements Connector and which name matches ${cls}` }]);
    const errors = p.spec.errors(config);
    if (errors.length > 0) throw ConfigError.fromFields(errors);
    return p;
  }

  private mask(c: Connector): ConnectorConfig {
    const p = this.find(c.config['connector.class']);
    const secret = new Set(p?.spec?.secretKeys() ?? []);
    return Object.fromEntries(Object.entries(c.config).map(([k, v]) => [k, secret.has(k) ? '[hidden]' : v]));
  }

  private setTarget(name: string, target: TargetState): void {
    const c = this.get(name);
    c.target = target;
    c.connectorState = stateFor(target);
    if (target === 'STOPPED') c.tasks = [];
    else if (c.tasks.length === 0) c.tasks = Array.from({ length: Number(c.config['tasks.max'] ?? '1') }, () => ({ state: stateFor(target) }));
    else c.tasks = c.tasks.map((t) => (t.state === 'FAILED' ? t : { ...t, state: stateFor(target) }));
  }

  private requireStopped(name: string): Connector {
    const c = this.get(name);
    if (c.target !== 'STOPPED') {
      throw HerderError.badRequest(`Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/${name}/stop' endpoint`);
    }
    return c;
  }

  private taskEntry(id: number, t: Connector['tasks'][number]): TaskStateEntry {
    const e: TaskStateEntry = { id, state: t.state, worker_id: this.workerId };
    if (t.trace) e.trace = t.trace;
    if (t.progress) e.progress = t.progress;
    return e;
  }
}

function stateFor(target: TargetState): State {
  return target;
}

function entry(state: State, workerId: string, trace?: string): { state: State; worker_id: string; trace?: string } {
  return trace ? { state, worker_id: workerId, trace } : { state, worker_id: workerId };
}
