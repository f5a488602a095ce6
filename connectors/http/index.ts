/** HTTP connectors: a sink that calls an API per record or per batch, and sources that receive webhooks or poll an API. */
import { defineSinkConnector, defineSourceConnector, lazySinkTask, lazySourceTask } from '../../runtime/api/index.ts';
import type { ConnectorPlugin } from '../../runtime/api/index.ts';
import { HttpPollerConnector } from './http-poller-connector.ts';
import { HttpReceiverConnector } from './http-receiver-connector.ts';
import { HttpReceiverTask } from './http-receiver-task.ts';
import { HttpSinkConnector } from './http-sink-connector.ts';
import { httpPollerConfig } from './poller-config.ts';
import { httpReceiverConfig } from './receiver-config.ts';
import { httpSinkConfig } from './sink-config.ts';

export const httpSink = defineSinkConnector({
  className: 'io.tributary.connect.http.HttpSinkConnector',
  aliases: ['io.aiven.kafka.connect.http.HttpSinkConnector', 'HttpSink', 'http-sink'],
  version: '0.1.0',
  description: 'Sends records to an HTTP endpoint, one per request or batched (NDJSON or a JSON array), with retries, auth and an address allowlist.',
  config: httpSinkConfig,
  createConnector: () => new HttpSinkConnector(),
  // The HTTP client (undici) loads with the first task, not with every worker.
  createTask: () => lazySinkTask(async () => new (await import('./http-sink-task.ts')).HttpSinkTask()),
});

export const httpReceiver = defineSourceConnector({
  className: 'io.tributary.connect.http.HttpReceiverSourceConnector',
  aliases: ['HttpReceiver', 'http-receiver', 'webhook'],
  version: '0.1.0',
  description: 'Receives events POSTed as JSON, NDJSON or raw text on a port and path it owns; answers once they are durably committed; 429 when full.',
  config: httpReceiverConfig,
  createConnector: () => new HttpReceiverConnector(),
  createTask: () => new HttpReceiverTask(),
});

export const httpPoller = defineSourceConnector({
  className: 'io.tributary.connect.http.HttpPollerSourceConnector',
  aliases: ['HttpPoller', 'http-poller'],
  version: '0.1.0',
  description: 'Calls an API on an interval and follows cursor, page or timestamp pagination; the position is its offset, so a restart resumes where it stopped.',
  config: httpPollerConfig,
  createConnector: () => new HttpPollerConnector(),
  createTask: () => lazySourceTask(async () => new (await import('./http-poller-task.ts')).HttpPollerTask()),
});

export const plugins: ConnectorPlugin[] = [httpSink, httpReceiver, httpPoller];

export { httpPollerConfig, HttpPollerConnector, httpReceiverConfig, httpSinkConfig, HttpReceiverConnector, HttpReceiverTask, HttpSinkConnector };
