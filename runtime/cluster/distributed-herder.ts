/**
 * The distributed Herder (Kafka Connect's DistributedHerder): a group of workers over one Kafka
 * cluster. Every worker reads the config, offset and status topics; the group coordinator elects a
 * leader, which assigns connectors and tasks (assignor.ts) through membership/.
 *
 * How state moves:
 * - REST writes go to the leader (followers throw NotLeaderError; the REST layer forwards the
 *   request to the leader's URL with the caller's credentials). The leader validates and writes
 *   the config topic. It never drives another worker directly: every worker reads the record
 *   back and reacts to what concerns the work it owns (a changed connector config restarts that
 *   connector, a target state pauses or stops, a restart record restarts).
 * - Task configs are written by the worker that runs the connector (one owner per connector, so
 *   one writer per connector's task configs); Kafka Connect forwards them to the leader instead.
 * - Any change to the set of connectors or to a task count makes every worker rejoin the group
 *   (each reads the same log, so each sees it), and the leader's next assignment hands out the
 *   new work. Creating a connector takes two rounds: one places the connector, whose owner then
 *   writes its task configs; the second places the tasks.
 * - All local reactions (assignments, revocations, config events) run one at a time in arrival
 *   order, so a task is never started and stopped concurrently.
 */
import type { Logger, TaskSignal } from '../api/index.ts';
import type { KafkaConnectionOptions } from '../engine/kafka-bus.ts';
import type { Worker } from '../engine/worker.ts';
import { ConfigStore } from '../store/config-store.ts';
import type { ConfigChange, ConfigSnapshot } from '../store/config-store.ts';
import type { RawKafkaRecord } from '../engine/topic-bus.ts';
import { KafkaCompactedLog } from '../store/kafka-compacted-log.ts';
import { defaultLogger } from '../store/logging.ts';
import { OffsetStore, type SourceOffsetUpdate } from '../store/offset-store.ts';
import { StatusStore } from '../store/status-store.ts';
import type { ConnectorWork, WorkSet } from './assignor.ts';
import { BaseHerder, sameConfig, type HerderOptions } from './base-herder.ts';
import {
  HerderError,
  NotLeaderError,
  type ConnectorConfig,
  type ConnectorInfo,
  type ConnectorOffset,
  type ConnectorStateInfo,
  type RestartRequest,
  type SignalRequest,
  type SignalResult,
  type TargetState,
} from './herder.ts';
import { GroupMember, type LeaderState } from './membership/group-member.ts';
import type { Assignment } from './membership/protocol.ts';

/** Kafka Connect's partition counts of its internal topics; the config topic must keep one order. */
export const INTERNAL_TOPIC_PARTITIONS = { configs: 1, offsets: 25, status: 5 } as const;

export interface KafkaStoresOptions {
  bootstrapBrokers: string[];
  /** Topic names (Connect's `config.storage.topic`, `offset.storage.topic`, `status.storage.topic`). */
  topics: { configs: string; offsets: string; status: string };
  /** Replication factor of the topics this worker creates; -1 = the broker's default. */
  replicationFactor: number;
  /** Partitions of the offsets and status topics when created (the config topic always has 1). */
  partitions?: { offsets?: number; status?: number };
  clientId?: string;
  connection?: KafkaConnectionOptions;
  logger?: Logger;
}

export interface KafkaStores {
  readonly configs: ConfigStore;
  readonly offsets: OffsetStore;
  readonly status: StatusStore;
  /** Offset of the last config record this worker has read (-1: none): what it reports in JoinGroup. */
  configOffset(): number;
  /** Read the config log to its end; resolves with the offset reached. */
  readConfigToEnd(): Promise<number>;
  /** The Kafka records that store these source offsets, for a transaction of an exactly-once source task. */
  offsetRecords(connector: string, entries: readonly SourceOffsetUpdate[]): RawKafkaRecord[];
  close(): Promise<void>;
}

/**
 * Open the config, offset and status stores over Kafka (creating the internal topics when
 * missing, refusing ones that are not compacted) and read each to its end.
 */
export async function openKafkaStores(options: KafkaStoresOptions): Promise<KafkaStores> {
  const logger = options.logger ?? defaultLogger;
  const base = {
    bootstrapBrokers: options.bootstrapBrokers,
    replicationFactor: options.replicationFactor,
    connection: options.connection,
    logger,
  };
  const prefix = options.clientId ?? 'tributary';
  const configLog = new KafkaCompactedLog({ ...base, topic: options.topics.configs, partitions: INTERNAL_TOPIC_PARTITIONS.configs, clientId: `${prefix}-configs` });
  const offsetLog = new KafkaCompactedLog({
    ...base,
    // Exactly-once source tasks write offsets in their transactions: an aborted one must not count.
    readCommitted: true,
    topic: options.topics.offsets,
    partitions: options.partitions?.offsets ?? INTERNAL_TOPIC_PARTITIONS.offsets,
    clientId: `${prefix}-offsets`,
  });
  const statusLog = new KafkaCompactedLog({
    ...base,
    topic: options.topics.status,
    partitions: options.partitions?.status ?? INTERNAL_TOPIC_PARTITIONS.status,
    clientId: `${prefix}-status`,
  });
  let configOffset = -1;
  // Subscribed before the store, so the offset is current when the store hears of a record.
  configLog.subscribe((_key, _value, meta) => {
    configOffset = meta.offset;
  });
  const configs = new ConfigStore(configLog, { logger });
  const offsets = new OffsetStore(offsetLog, { logger });
  const status = new StatusStore(statusLog, { logger });
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([configs.close(), offsets.close(), status.close()]);
  };
  const started = await Promise.allSettled([configs.start(), offsets.start(), status.start()]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await closeAll();
    throw failed.reason;
  }
  let closing: Promise<void> | undefined;
  return {
    configs,
    offsets,
    status,
    configOffset: () => configOffset,
    async readConfigToEnd() {
      await configLog.readToEnd();
      return configOffset;
    },
    offsetRecords: (connector, entries) =>
      offsetLog.messagesFor(OffsetStore.entriesFor(connector, entries)).map((m) => ({ topic: m.topic, partition: m.partition!, key: m.key!, value: (m.value as Buffer | undefined) ?? null })),
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}

/**
 * The work the leader assigns: every connector, with its committed task count (0 for a stopped
 * connector, or one whose task configs are not committed yet or are inconsistent). Paused
 * connectors keep their tasks assigned (paused on their workers), as in Kafka Connect.
 */
export function workFromConfig(snapshot: ConfigSnapshot): ConnectorWork[] {
  return [...snapshot.connectors.keys()].sort().map((connector) => ({
    connector,
    tasks: snapshot.targetStates.get(connector) === 'STOPPED' ? 0 : (snapshot.taskConfigs.get(connector)?.length ?? 0),
  }));
}

const workKey = (work: readonly ConnectorWork[]): string => work.map((w) => `${w.connector}\0${w.tasks}`).join('\n');

export interface MembershipOptions {
  bootstrapBrokers: string[];
  groupId: string;
  connection?: KafkaConnectionOptions;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  lostWorkDelayMs?: number;
}

export interface DistributedHerderOptions extends HerderOptions {
  worker: Worker;
  /** The config log's position, and a way to read it to its end (openKafkaStores gives both). */
  configOffset(): number;
  readConfigToEnd(): Promise<number>;
  membership: MembershipOptions;
}

export class DistributedHerder extends BaseHerder<DistributedHerderOptions> {
  private member: GroupMember | undefined;
  private assignment: Assignment | null = null;
  private generation = -1;
  /** The work (connectors and task counts) as of the last assignment; a change means rejoin. */
  private assignedWork = '';
  private local: Promise<unknown> = Promise.resolve();
  private writes: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  protected get workerId(): string {
    return this.o.worker.workerId;
  }

  /**
   * Join the worker group, telling it `restUrl` (where the others forward writes: known only once
   * REST listens); work starts as assignments arrive.
   */
  start(restUrl: string): void {
    this.unsubscribe = this.o.configs.onChange((change) => this.onConfigChange(change));
    this.member = new GroupMember({
      ...this.o.membership,
      restUrl,
      workerId: this.o.worker.workerId,
      logger: this.o.logger,
      configOffset: () => this.o.configOffset(),
      leaderState: () => this.leaderState(),
      onAssigned: (assignment, generation) => this.inOrder(() => this.onAssigned(assignment, generation)),
      onRevoked: (revoked) => this.inOrder(() => this.stopWork(revoked)),
    });
    this.member.start();
  }

  /**
   * Stop every task (they flush and commit), then leave the group so the others take the work at
   * once. In this order no task ever runs on two workers.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    await this.inOrder(() => this.o.worker.stop());
    await this.member?.close();
  }

  health(): { ready: boolean; message: string } {
    if (this.stopped) return { ready: false, message: 'The worker is shutting down.' };
    if (!this.assignment) return { ready: false, message: 'The worker has not joined the worker group yet.' };
    return { ready: true, message: `Worker is ready (generation ${this.generation}${this.isLeader() ? ', leader' : ''}).` };
  }

  isLeader(): boolean {
    return this.assignment !== null && this.member !== undefined && this.assignment.leaderId === this.member.id;
  }

  private inOrder<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.local.then(fn, fn);
    this.local = next.catch((e: Error) => this.o.logger.error({ err: e.message }, 'applying a change to this worker\'s work failed'));
    return next;
  }

  /** Leader-side writes, one at a time (so a create cannot race another create of the same name). */
  private asLeader<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.assignment) {
      return Promise.reject(HerderError.conflict('Cannot complete the request now: this worker has not joined the worker group yet (a rebalance is in progress). Retry in a few seconds.'));
    }
    if (!this.isLeader()) return Promise.reject(new NotLeaderError(this.assignment.leaderUrl));
    const next = this.writes.then(fn, fn);
    this.writes = next.catch(() => {});
    return next;
  }

  // ---- membership callbacks --------------------------------------------------------------------

  private async leaderState(): Promise<LeaderState> {
    const configOffset = await this.o.readConfigToEnd();
    return { configOffset, work: workFromConfig(this.o.configs.snapshot()) };
  }

  private async onAssigned(assignment: Assignment, generation: number): Promise<void> {
    if (this.stopped) return;
    this.generation = generation;
    this.o.worker.setGeneration(generation);
    if (assignment.error !== null || assignment.catchUp) await this.o.readConfigToEnd();
    this.assignment = assignment;
    this.assignedWork = workKey(workFromConfig(this.o.configs.snapshot()));
    if (assignment.error !== null) return;
    for (const connector of assignment.assigned.connectors) await this.startOwnedConnector(connector);
    for (const t of assignment.assigned.tasks) await this.startOwnedTask(t.connector, t.task);
    // The config may have changed while this round ran (a record read before we caught up).
    this.rejoinIfWorkChanged();
  }

  private async stopWork(revoked: WorkSet): Promise<void> {
    await Promise.all(revoked.tasks.map((t) => this.o.worker.stopTask(t.connector, t.task)));
    await Promise.all(revoked.connectors.map((c) => this.o.worker.stopConnector(c)));
  }

  // ---- reacting to the config log ----------------------------------------------------------------

  private rejoinIfWorkChanged(): void {
    if (this.stopped || !this.assignment) return;
    const now = workKey(workFromConfig(this.o.configs.snapshot()));
    if (now !== this.assignedWork) {
      this.assignedWork = now;
      this.member?.requestRejoin();
    }
  }

  private ownsConnector(name: string): boolean {
    return this.assignment?.connectors.includes(name) ?? false;
  }

  private ownedTasks(name: string): number[] {
    return (this.assignment?.tasks ?? []).filter((t) => t.connector === name).map((t) => t.task);
  }

  private onConfigChange(change: ConfigChange): void {
    if (this.stopped) return;
    // Every worker reads the same log, so every worker asks for the rebalance a change needs.
    this.rejoinIfWorkChanged();
    void this.inOrder(async () => {
      if (this.stopped) return;
      switch (change.type) {
        case 'connector-config':
          if (this.ownsConnector(change.connector)) await this.startOwnedConnector(change.connector);
          for (const task of this.ownedTasks(change.connector)) await this.startOwnedTask(change.connector, task);
          return;
        case 'connector-removed':
          await this.forget(change.connector);
          return;
        case 'tasks-committed':
          await this.applyTaskConfigs(change.connector, change.tasks, change.consistent);
          return;
        case 'target-state':
          await this.applyTargetState(change.connector, change.state);
          return;
        case 'restart':
          await this.applyRestart(change);
          return;
        case 'signal':
          await this.applySignal(change.connector, change.signal);
          return;
      }
    });
  }

  /** Start (or restart) a connector this worker owns, per its stored config and target state. */
  private async startOwnedConnector(name: string): Promise<void> {
    const config = this.o.configs.connectorConfig(name);
    if (!config) return;
    const target = this.o.configs.targetState(name) ?? 'RUNNING';
    if (target === 'STOPPED') {
      await this.o.worker.stopConnector(name);
      await this.o.status.putConnector(name, { state: 'STOPPED', workerId: this.workerId, generation: this.generation }, { safe: true });
      // Kafka Connect writes an empty set of task configs for a stopped connector; its tasks are then revoked.
      if ((this.o.configs.connectorTaskConfigs(name) ?? []).length > 0) await this.o.configs.putTaskConfigs(name, []);
      return;
    }
    const started = await this.o.worker.startConnector(name, config, target);
    if (started) await this.reconfigureTasks(name);
  }

  /** Ask the running connector for task configs and write them when they differ from the stored ones. */
  private async reconfigureTasks(name: string): Promise<void> {
    if (!this.ownsConnector(name) || !this.o.worker.isConnectorRunning(name)) return;
    let fresh: ConnectorConfig[];
    try {
      fresh = await this.o.worker.connectorTaskConfigs(name);
    } catch (e) {
      this.o.logger.error({ connector: name, err: (e as Error).message }, 'the connector could not generate task configs');
      return;
    }
    const stored = this.o.configs.connectorTaskConfigs(name);
    if (stored !== undefined && JSON.stringify(fresh) === JSON.stringify(stored)) return;
    await this.o.configs.putTaskConfigs(name, fresh);
  }

  /** Start (or restart) a task this worker owns with the stored configs; nothing when they are gone. */
  private async startOwnedTask(name: string, task: number): Promise<void> {
    const config = this.o.configs.connectorConfig(name);
    const taskConfig = this.o.configs.connectorTaskConfigs(name)?.[task];
    const target = this.o.configs.targetState(name) ?? 'RUNNING';
    if (!config || !taskConfig || target === 'STOPPED') {
      await this.o.worker.stopTask(name, task);
      return;
    }
    await this.o.worker.startTask(name, task, config, taskConfig, target);
  }

  private async applyTaskConfigs(name: string, count: number, consistent: boolean): Promise<void> {
    if (!consistent && this.ownsConnector(name)) await this.reconfigureTasks(name);
    const config = this.o.configs.connectorConfig(name);
    const taskConfigs = this.o.configs.connectorTaskConfigs(name) ?? [];
    for (const task of this.ownedTasks(name)) {
      if (task >= count || !config) {
        await this.o.worker.stopTask(name, task);
        continue;
      }
      const running = this.o.worker.taskConfigsOf(name, task);
      if (!running || !sameConfig(running.taskConfig, taskConfigs[task]!) || !sameConfig(running.connectorConfig, config)) {
        await this.startOwnedTask(name, task);
      }
    }
    // Statuses of tasks beyond the new count: written by whoever ran them, removed by the connector's owner.
    if (this.ownsConnector(name)) {
      for (const t of this.o.status.getTasks(name)) if (t.id >= count) await this.o.status.removeTask(name, t.id);
    }
  }

  private async applyTargetState(name: string, target: TargetState): Promise<void> {
    const running = this.o.worker.isConnectorRunning(name);
    if (this.ownsConnector(name)) {
      // Into or out of STOPPED the connector restarts (stopped connectors write empty task configs).
      if (target === 'STOPPED' || !running) await this.startOwnedConnector(name);
      else this.o.worker.setConnectorTargetState(name, target);
    }
    if (target === 'STOPPED') {
      for (const task of this.ownedTasks(name)) await this.o.worker.stopTask(name, task);
    } else {
      // Pause or resume this worker's tasks of the connector (its connector instance was handled above).
      for (const task of this.ownedTasks(name)) {
        if (!this.o.worker.taskConfigsOf(name, task)) await this.startOwnedTask(name, task);
      }
      if (!this.ownsConnector(name)) this.o.worker.setConnectorTargetState(name, target);
    }
  }

  private async applyRestart(request: Extract<ConfigChange, { type: 'restart' }>): Promise<void> {
    const name = request.connector;
    if (!this.o.configs.connectorConfig(name)) return;
    if (request.task !== undefined) {
      if (this.ownedTasks(name).includes(request.task)) await this.restartOwnedTask(name, request.task);
      return;
    }
    if (this.ownsConnector(name) && (!request.onlyFailed || this.o.status.getConnector(name)?.state === 'FAILED')) {
      await this.startOwnedConnector(name);
    }
    if (!request.includeTasks) return;
    for (const task of this.ownedTasks(name)) {
      if (request.onlyFailed && this.o.status.getTask(name, task)?.state !== 'FAILED') continue;
      await this.restartOwnedTask(name, task);
    }
  }

  /** Hand a recorded signal to this worker's tasks of the connector; a task's refusal is logged. */
  private async applySignal(name: string, signal: TaskSignal): Promise<void> {
    const tasks = this.ownedTasks(name);
    if (tasks.length === 0) return;
    try {
      const accepted = await this.o.worker.signalTasks(name, signal, tasks);
      this.o.logger.info({ connector: name, signal: signal.id, type: signal.type, tasks: accepted }, accepted > 0 ? 'signal delivered' : 'no task here handles this signal type');
    } catch (e) {
      this.o.logger.warn({ connector: name, signal: signal.id, type: signal.type, err: (e as Error).message }, 'a task refused the signal');
    }
  }

  private async restartOwnedTask(name: string, task: number): Promise<void> {
    if ((this.o.configs.targetState(name) ?? 'RUNNING') === 'STOPPED') return;
    await this.o.status.putTask(name, task, { state: 'RESTARTING', workerId: this.workerId, generation: this.generation }, { safe: true });
    await this.startOwnedTask(name, task);
  }

  /** A deleted connector: stop what this worker runs of it and drop its statuses and metrics. */
  private async forget(name: string): Promise<void> {
    const tasks = this.o.worker.runningTasks(name);
    await Promise.all(tasks.map((t) => this.o.worker.stopTask(t.connector, t.task)));
    // The connector's owner runs its plugin's cleanup (with the config the instance ran with; the
    // stored one is gone). Its tasks on other workers may still be stopping: a plugin that needs
    // them gone (a replication slot in use) must wait for that itself.
    if (this.ownsConnector(name)) await this.o.worker.deleteConnector(name);
    else await this.o.worker.stopConnector(name);
    for (const t of tasks) await this.o.status.removeTask(name, t.task);
    await this.o.worker.forgetConnector(name);
  }

  /** A connector's owner asked for new task configs (ConnectorContext.requestTaskReconfiguration). */
  requestTaskReconfiguration(name: string): void {
    void this.inOrder(() => this.reconfigureTasks(name));
  }

  // ---- writes (on the leader) ------------------------------------------------------------------

  putConnectorConfig(name: string, config: ConnectorConfig, options: { allowReplace: boolean; initialState?: TargetState }): Promise<{ created: boolean; info: ConnectorInfo }> {
    return this.asLeader(async () => {
      const { full, exists, unchanged } = await this.prepareConfig(name, config, options.allowReplace);
      if (!unchanged) {
        const target = exists ? undefined : options.initialState ?? 'RUNNING';
        await this.o.configs.putConnectorConfig(name, full, target);
      }
      return { created: !exists, info: await this.connectorInfo(name) };
    });
  }

  deleteConnector(name: string): Promise<void> {
    return this.asLeader(async () => {
      this.rawConfig(name);
      await this.o.configs.removeConnector(name);
      // Owners drop the statuses of what they ran; this catches those of work nobody runs now.
      await this.o.status.removeConnector(name);
      await this.o.status.resetTopics(name);
      this.o.logger.info({ connector: name }, `connector ${name} deleted`);
    });
  }

  protected setTarget(name: string, target: TargetState): Promise<void> {
    return this.asLeader(async () => {
      this.rawConfig(name);
      if ((this.o.configs.targetState(name) ?? 'RUNNING') === target) return;
      await this.o.configs.putTargetState(name, target);
    });
  }

  restartConnector(name: string, request: RestartRequest): Promise<ConnectorStateInfo | null> {
    return this.asLeader(async () => {
      this.rawConfig(name);
      const plain = !request.includeTasks && !request.onlyFailed;
      const plan = plain ? undefined : await this.restartPlan(name, request);
      await this.o.configs.requestRestart(name, request);
      return plan?.result ?? null;
    });
  }

  restartTask(name: string, task: number): Promise<void> {
    return this.asLeader(async () => {
      this.assertTaskExists(name, task);
      await this.o.configs.requestTaskRestart(name, task);
    });
  }

  /**
   * Recorded in the config topic, which every worker reads: the workers running the connector's
   * tasks hand it over (the answer cannot carry their verdict; a refusal is in their logs).
   */
  signalConnector(name: string, signal: SignalRequest): Promise<SignalResult> {
    return this.asLeader(async () => {
      const taskSignal = this.taskSignal(name, signal);
      if ((this.o.configs.connectorTaskConfigs(name) ?? []).length === 0) throw HerderError.conflict(`Connector ${name} has no tasks to take the signal; resume or restart it first.`);
      await this.o.configs.putSignal(name, taskSignal);
      return { id: taskSignal.id, accepted: null };
    });
  }

  resetConnectorTopics(name: string): Promise<void> {
    return this.asLeader(async () => {
      this.rawConfig(name);
      await this.o.status.resetTopics(name);
    });
  }

  /** Stopped everywhere: the target state is STOPPED and no task config (hence no task) is left. */
  private assertStopped(name: string): void {
    const stopped = (this.o.configs.targetState(name) ?? 'RUNNING') === 'STOPPED' && (this.o.configs.connectorTaskConfigs(name) ?? []).length === 0;
    if (!stopped) throw BaseHerder.notStopped(name);
  }

  alterConnectorOffsets(name: string, offsets: ConnectorOffset[]): Promise<{ message: string }> {
    return this.asLeader(async () => {
      this.rawConfig(name);
      this.assertStopped(name);
      return this.writeOffsets(name, offsets);
    });
  }

  resetConnectorOffsets(name: string): Promise<{ message: string }> {
    return this.asLeader(async () => {
      this.rawConfig(name);
      this.assertStopped(name);
      return this.clearOffsets(name);
    });
  }
}
