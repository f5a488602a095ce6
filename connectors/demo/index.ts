/** The demo source: deterministic fake data with no external service, so `npm start` shows data moving. */
import { defineSourceConnector } from '../../runtime/api/index.ts';
import type { ConnectorPlugin } from '../../runtime/api/index.ts';
import { demoSourceConfig } from './config.ts';
import { DemoSourceConnector } from './demo-source-connector.ts';
import { DemoSourceTask } from './demo-source-task.ts';

export const demoSource = defineSourceConnector({
  className: 'io.tributary.connect.demo.DemoSourceConnector',
  aliases: ['demo', 'DemoSource'],
  version: '0.1.0',
  description: 'Generates deterministic orders, users, pageviews or a plain sequence at a given rate; needs no external service.',
  config: demoSourceConfig,
  createConnector: () => new DemoSourceConnector(),
  createTask: () => new DemoSourceTask(),
});

export const plugins: ConnectorPlugin[] = [demoSource];

export { demoSourceConfig, DemoSourceConnector, DemoSourceTask };
