import type { JsonObject, SourceRecord, SourceTask, SourceTaskContext, TaskConfig, TaskSignal } from '../../runtime/api/index.ts';
import { taskRole } from './chunk-jobs.ts';
import { PostgresCdcTask } from './postgres-cdc-task.ts';

/**
 * The task the plugin creates: the slot's task (PostgresCdcTask), or, when taskConfigs made it
 * one, a snapshot chunk worker, loaded in start() with BullMQ only then (chunk-worker-task.ts).
 */
export class PostgresCdcRoleTask implements SourceTask {
  private task: SourceTask | undefined;

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    this.task = taskRole(config) === 'chunk-worker'
      ? new (await import('./chunk-worker-task.ts')).ChunkWorkerTask()
      : new PostgresCdcTask();
    await this.task.start(config, context);
  }

  poll(signal: AbortSignal): Promise<SourceRecord[]> {
    return this.task!.poll(signal);
  }

  commit(committed: Array<{ partition: JsonObject; offset: JsonObject }>): Promise<void> | void {
    return this.task?.commit?.(committed);
  }

  signal(signal: TaskSignal): Promise<boolean> | boolean {
    return this.task?.signal?.(signal) ?? false;
  }

  stop(): Promise<void> | void {
    return this.task?.stop();
  }
}
