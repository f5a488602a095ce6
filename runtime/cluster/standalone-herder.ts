/**
 * The standalone Herder: one worker, all connectors and tasks in this process, state in the
 * stores (files under the state dir, or any CompactedLog). It is the only writer of its stores, so
 * it drives the Worker directly after each write; mutations run one at a time.
 */
import type { Worker } from '../engine/worker.ts';
import { BaseHerder, type HerderOptions } from './base-herder.ts';
import { HerderError } from './herder.ts';
import type { ConnectorInfo, ConnectorConfig, ConnectorOffset, ConnectorStateInfo, RestartRequest, SignalRequest, SignalResult, TargetState } from './herder.ts';

export interface StandaloneHerderOptions extends HerderOptions {
  worker: Worker;
}

export class StandaloneHerder extends BaseHerder<StandaloneHerderOptions> {
  private queue: Promise<unknown> = Promise.resolve();

  protected get workerId(): string {
    return this.o.worker.workerId;
  }

  /** Bring back every stored connector in its last target state. */
  async start(): Promise<void> {
    for (const name of this.o.configs.connectorNames()) {
      await this.serial(() => this.startConnectorAndTasks(name));
    }
  }

  async stop(): Promise<void> {
    await this.serial(() => this.o.worker.stop());
  }

  /** Run mutations one at a time, in order of arrival. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  // ---- writes ----------------------------------------------------------------------------------

  putConnectorConfig(name: string, config: ConnectorConfig, options: { allowReplace: boolean; initialState?: TargetState }): Promise<{ created: boolean; info: ConnectorInfo }> {
    return this.serial(async () => {
      const { full, exists, unchanged } = await this.prepareConfig(name, config, options.allowReplace);
      if (unchanged) return { created: false, info: await this.connectorInfo(name) };
      const target = exists ? this.o.configs.targetState(name) ?? 'RUNNING' : options.initialState ?? 'RUNNING';
      await this.o.configs.putConnectorConfig(name, full, exists ? undefined : target);
      await this.startConnectorAndTasks(name);
      return { created: !exists, info: await this.connectorInfo(name) };
    });
  }

  deleteConnector(name: string): Promise<void> {
    return this.serial(async () => {
      const config = this.rawConfig(name);
      await this.o.worker.stopTasks(name);
      await this.o.worker.deleteConnector(name, config);
      await this.o.configs.removeConnector(name);
      await this.o.status.removeConnector(name);
      await this.o.worker.forgetConnector(name);
      // KIP-558: a deleted connector's active topics go with it.
      await this.o.status.resetTopics(name);
      if (this.typeOf(config) === 'sink') await this.o.bus.deleteGroup(`connect-${name}`).catch(() => {});
      this.o.logger.info({ connector: name }, `connector ${name} deleted`);
    });
  }

  protected setTarget(name: string, target: TargetState): Promise<void> {
    return this.serial(async () => {
      this.rawConfig(name);
      const before = this.o.configs.targetState(name) ?? 'RUNNING';
      if (before === target) return;
      await this.o.configs.putTargetState(name, target);
      if (target === 'STOPPED' || before === 'STOPPED') {
        await this.startConnectorAndTasks(name);
      } else {
        this.o.worker.setConnectorTargetState(name, target);
      }
    });
  }

  restartConnector(name: string, request: RestartRequest): Promise<ConnectorStateInfo | null> {
    return this.serial(async () => {
      this.rawConfig(name);
      const target = this.o.configs.targetState(name) ?? 'RUNNING';
      if (!request.includeTasks && !request.onlyFailed) {
        await this.restartConnectorInstance(name, target);
        return null;
      }
      const plan = await this.restartPlan(name, request);
      if (plan.connector) await this.restartConnectorInstance(name, target);
      for (const id of plan.tasks) await this.restartTaskNow(name, id, target);
      return plan.result;
    });
  }

  restartTask(name: string, task: number): Promise<void> {
    return this.serial(async () => {
      this.assertTaskExists(name, task);
      await this.restartTaskNow(name, task, this.o.configs.targetState(name) ?? 'RUNNING');
    });
  }

  resetConnectorTopics(name: string): Promise<void> {
    return this.serial(async () => {
      this.rawConfig(name);
      await this.o.status.resetTopics(name);
    });
  }

  private assertStopped(name: string): void {
    if ((this.o.configs.targetState(name) ?? 'RUNNING') !== 'STOPPED' || this.o.worker.runningTasks(name).length > 0) {
      throw BaseHerder.notStopped(name);
    }
  }

  alterConnectorOffsets(name: string, offsets: ConnectorOffset[]): Promise<{ message: string }> {
    return this.serial(async () => {
      this.rawConfig(name);
      this.assertStopped(name);
      return this.writeOffsets(name, offsets);
    });
  }

  async signalConnector(name: string, signal: SignalRequest): Promise<SignalResult> {
    const taskSignal = this.taskSignal(name, signal);
    if (this.o.worker.runningTasks(name).length === 0) throw HerderError.conflict(`Connector ${name} has no running task to take the signal; resume or restart it first.`);
    const accepted = await this.o.worker.signalTasks(name, taskSignal);
    if (accepted === 0) throw HerderError.badRequest(`No task of connector ${name} handles signals of type "${signal.type}".`);
    this.o.logger.info({ connector: name, signal: taskSignal.id, type: taskSignal.type, tasks: accepted }, 'signal delivered');
    return { id: taskSignal.id, accepted };
  }

  resetConnectorOffsets(name: string): Promise<{ message: string }> {
    return this.serial(async () => {
      this.rawConfig(name);
      this.assertStopped(name);
      return this.clearOffsets(name);
    });
  }

  // ---- reconciliation --------------------------------------------------------------------------

  /** Called by the worker when a connector asks for new task configs. */
  requestTaskReconfiguration(name: string): void {
    void this.serial(async () => {
      if (!this.o.configs.connectorConfig(name)) return;
      await this.reconfigureTasks(name, this.o.configs.targetState(name) ?? 'RUNNING', false);
    }).catch((e: Error) => this.o.logger.error({ connector: name, err: e.message }, 'task reconfiguration failed'));
  }

  /** (Re)start a connector and its tasks per its stored config and target state. Caller holds the queue. */
  private async startConnectorAndTasks(name: string): Promise<void> {
    const config = this.rawConfig(name);
    const target = this.o.configs.targetState(name) ?? 'RUNNING';
    await this.o.worker.stopTasks(name);
    if (target === 'STOPPED') {
      await this.o.worker.stopConnector(name);
      await this.o.status.putConnector(name, { state: 'STOPPED', workerId: this.o.worker.workerId, generation: 0 });
      for (let i = 0; i < (this.o.configs.connectorTaskConfigs(name) ?? []).length; i++) await this.o.status.removeTask(name, i);
      // Kafka Connect writes an empty set of task configs for a stopped connector.
      await this.o.configs.putTaskConfigs(name, []);
      return;
    }
    const started = await this.o.worker.startConnector(name, config, target);
    if (!started) return;
    await this.reconfigureTasks(name, target, true);
  }

  private async reconfigureTasks(name: string, target: TargetState, force: boolean): Promise<void> {
    const config = this.rawConfig(name);
    const fresh = await this.o.worker.connectorTaskConfigs(name);
    const stored = this.o.configs.connectorTaskConfigs(name) ?? [];
    const changed = JSON.stringify(fresh) !== JSON.stringify(stored);
    if (changed) {
      await this.o.worker.stopTasks(name);
      for (let i = fresh.length; i < stored.length; i++) await this.o.status.removeTask(name, i);
      await this.o.configs.putTaskConfigs(name, fresh);
    }
    if (changed || force) {
      for (const [i, tc] of fresh.entries()) await this.o.worker.startTask(name, i, config, tc, target);
    }
  }

  private async restartConnectorInstance(name: string, target: TargetState): Promise<void> {
    if (target === 'STOPPED') return;
    await this.o.worker.startConnector(name, this.rawConfig(name), target);
  }

  private async restartTaskNow(name: string, task: number, target: TargetState): Promise<void> {
    if (target === 'STOPPED') return;
    const tc = (this.o.configs.connectorTaskConfigs(name) ?? [])[task];
    if (!tc) return;
    await this.o.status.putTask(name, task, { state: 'RESTARTING', workerId: this.o.worker.workerId, generation: 0 });
    await this.o.worker.startTask(name, task, this.rawConfig(name), tc, target);
  }
}
