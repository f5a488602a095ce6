import type { ConnectorContext, SinkConnector, TaskConfig } from '../../runtime/api/index.ts';
import { fileSinkConfig } from './config.ts';

/** One task, whatever tasks.max says: one file has one writer, so lines of a partition stay in order. */
export class FileStreamSinkConnector implements SinkConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    fileSinkConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(_maxTasks: number): TaskConfig[] {
    return [{ ...this.props }];
  }

  stop(): void {}
}
