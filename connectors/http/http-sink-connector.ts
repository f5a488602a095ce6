import type { ConnectorContext, SinkConnector, TaskConfig } from '../../runtime/api/index.ts';
import { httpSinkConfig } from './sink-config.ts';

/** Every task gets the same config; the runtime spreads topic-partitions over them. */
export class HttpSinkConnector implements SinkConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    httpSinkConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(maxTasks: number): TaskConfig[] {
    return Array.from({ length: Math.max(1, maxTasks) }, () => ({ ...this.props }));
  }

  stop(): void {}
}
