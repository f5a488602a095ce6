/** The S3 sink (Confluent S3 sink layout and keys) and the S3 source. */
// The tasks and the store (AWS SDK, Parquet writer) load when a task starts, not with every worker.
import { ConfigError, defineSinkConnector, defineSourceConnector, lazySinkTask, lazySourceTask } from '../../runtime/api/index.ts';
import type { ConnectorPlugin, TaskConfig } from '../../runtime/api/index.ts';
import { s3SinkConfig, s3SourceConfig } from './config.ts';
import { S3SinkConnector } from './s3-sink-connector.ts';
import { S3SourceConnector } from './s3-source-connector.ts';

export const s3Sink = defineSinkConnector({
  className: 'io.tributary.connect.s3.S3SinkConnector',
  aliases: ['io.confluent.connect.s3.S3SinkConnector', 'S3SinkConnector', 's3-sink'],
  version: '0.1.0',
  description: 'Writes topics to S3 (or a local folder) as JSON lines, Parquet or bytes, in the Confluent S3 sink layout; exactly once by object name.',
  config: s3SinkConfig,
  validate: validateStore,
  createConnector: () => new S3SinkConnector(),
  createTask: () => lazySinkTask(async () => new (await import('./s3-sink-task.ts')).S3SinkTask()),
});

export const s3Source = defineSourceConnector({
  className: 'io.tributary.connect.s3.S3SourceConnector',
  aliases: ['S3SourceConnector', 's3-source'],
  version: '0.1.0',
  description: 'Reads objects under a prefix in key order as JSON lines, text lines or bytes; resumes mid-object from {key, position}; picks up new objects.',
  config: s3SourceConfig,
  createConnector: () => new S3SourceConnector(),
  createTask: () => lazySourceTask(async () => new (await import('./s3-source-task.ts')).S3SourceTask()),
});

export const plugins: ConnectorPlugin[] = [s3Sink, s3Source];

/**
 * At validation: the bucket must exist and the credentials must be accepted (one attempt, no
 * retries). An endpoint that cannot be reached right now is not a config error: the task retries.
 */
async function validateStore(config: TaskConfig): Promise<Array<{ name: string; message: string }>> {
  const cfg = s3SinkConfig.parse(config);
  const [{ openStore }, { storeOptions }] = await Promise.all([import('./store.ts'), import('./s3-sink-task.ts')]);
  const store = openStore({ ...storeOptions(cfg), retries: 0 });
  try {
    await store.check();
    return [];
  } catch (e) {
    if (e instanceof ConfigError) return e.fields.length > 0 ? e.fields : [{ name: 's3.bucket.name', message: e.message }];
    return [];
  } finally {
    store.close();
  }
}

export { s3SinkConfig, s3SourceConfig, S3SinkConnector, S3SourceConnector };
