import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { taskConfigsFor } from './chunk-jobs.ts';
import { postgresCdcConfig } from './config.ts';

/**
 * One task: a replication slot has exactly one consumer, and the change stream's order is the
 * database's commit order. (Snapshot parallelism happens inside the task, over several connections.)
 * With redis.url and tasks.max > 1, task 0 is still that one task, and the others read the initial
 * snapshot's chunks as BullMQ jobs (chunk-jobs.ts).
 */
export class PostgresCdcConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    postgresCdcConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(maxTasks: number): TaskConfig[] {
    return taskConfigsFor(this.props, maxTasks);
  }

  stop(): void {}
}
