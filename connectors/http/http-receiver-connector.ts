import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { httpReceiverConfig } from './receiver-config.ts';

/** One task, whatever tasks.max says: one task owns the listening port. */
export class HttpReceiverConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    httpReceiverConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(_maxTasks: number): TaskConfig[] {
    return [{ ...this.props }];
  }

  stop(): void {}
}
