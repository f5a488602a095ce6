/** HTTP connectors: a sink that calls an API per record or per batch, and sources that receive webhooks or poll an API. */
import { defineSinkConnector } from '../../runtime/api/index.ts';
import type { ConnectorPlugin } from '../../runtime/api/index.ts';
import { HttpSinkConnector } from './http-sink-connector.ts';
import { HttpSinkTask } from './http-sink-task.ts';
import { httpSinkConfig } from './sink-config.ts';

export const httpSink = defineSinkConnector({
  className: 'io.tributary.connect.http.HttpSinkConnector',
  aliases: ['io.aiven.kafka.connect.http.HttpSinkConnector', 'HttpSink', 'http-sink'],
  version: '0.1.0',
  description: 'Sends records to an HTTP endpoint, one per request or batched (NDJSON or a JSON array), with retries, auth and an address allowlist.',
  config: httpSinkConfig,
  createConnector: () => new HttpSinkConnector(),
  createTask: () => new HttpSinkTask(),
});

export const plugins: ConnectorPlugin[] = [httpSink];

export { httpSinkConfig, HttpSinkConnector, HttpSinkTask };
