import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { s3SourceConfig } from './config.ts';

/** Splits the keys over tasks by a hash of the key; each task keeps its own cursor. */
export class S3SourceConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    s3SourceConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(maxTasks: number): TaskConfig[] {
    const n = Math.max(1, maxTasks);
    return Array.from({ length: n }, (_, i) => ({ ...this.props, 'task.index': String(i), 'task.count': String(n) }));
  }

  stop(): void {}
}
