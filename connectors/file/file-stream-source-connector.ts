import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { fileSourceConfig } from './config.ts';

/** One task, as in Kafka Connect: a file is read by one reader. */
export class FileStreamSourceConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    fileSourceConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(_maxTasks: number): TaskConfig[] {
    return [{ ...this.props }];
  }

  stop(): void {}
}
