import type { ConnectorContext, SinkConnector, TaskConfig } from '../../runtime/api/index.ts';
import { s3SinkConfig } from './config.ts';

/** Every task gets the same config; the runtime spreads the topic-partitions over them. */
export class S3SinkConnector implements SinkConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    s3SinkConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(maxTasks: number): TaskConfig[] {
    return Array.from({ length: Math.max(1, maxTasks) }, () => ({ ...this.props }));
  }

  stop(): void {}
}
