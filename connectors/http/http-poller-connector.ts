import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { httpPollerConfig } from './poller-config.ts';

/** One task: one API position. */
export class HttpPollerConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    httpPollerConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(_maxTasks: number): TaskConfig[] {
    return [{ ...this.props }];
  }

  stop(): void {}
}
