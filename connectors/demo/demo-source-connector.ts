import type { ConnectorContext, SourceConnector, TaskConfig } from '../../runtime/api/index.ts';
import { TASK_COUNT, TASK_INDEX, demoSourceConfig } from './config.ts';

/**
 * Splits generation into `maxTasks` independent tasks. Task i of n owns source partition
 * `{generator, task: i}`, emits its own seq 0, 1, 2, ..., gets rate/n records a second and its
 * share of max.records, so tasks never overlap.
 */
export class DemoSourceConnector implements SourceConnector {
  private props: TaskConfig = {};

  start(config: TaskConfig, _context: ConnectorContext): void {
    demoSourceConfig.parse(config);
    this.props = { ...config };
  }

  taskConfigs(maxTasks: number): TaskConfig[] {
    const n = Math.max(1, Math.floor(maxTasks));
    return Array.from({ length: n }, (_, i) => ({ ...this.props, [TASK_INDEX]: String(i), [TASK_COUNT]: String(n) }));
  }

  stop(): void {}
}
