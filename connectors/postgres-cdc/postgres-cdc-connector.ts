import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { postgresCdcConfig } from './config.ts';

/**
 * One task: a replication slot has exactly one consumer, and the change stream's order is the
 * database's commit order. (Snapshot parallelism happens inside the task, over several connections.)
 */
export class PostgresCdcConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    postgresCdcConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(_maxTasks: number): TaskConfig[] {
    return [{ ...this.props }];
  }

  stop(): void {}
}
