/** FileStreamSink and FileStreamSource, config-compatible with Kafka Connect's file connectors. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { defineSinkConnector, defineSourceConnector } from '../../runtime/api/index.ts';
import type { ConnectorPlugin, TaskConfig } from '../../runtime/api/index.ts';
import { STDOUT, fileSinkConfig, fileSourceConfig } from './config.ts';
import { FileStreamSinkConnector } from './file-stream-sink-connector.ts';
import { FileStreamSinkTask } from './file-stream-sink-task.ts';
import { FileStreamSourceConnector } from './file-stream-source-connector.ts';
import { FileStreamSourceTask } from './file-stream-source-task.ts';

export const fileStreamSink = defineSinkConnector({
  className: 'io.tributary.connect.file.FileStreamSinkConnector',
  aliases: ['org.apache.kafka.connect.file.FileStreamSinkConnector', 'FileStreamSink', 'file-sink'],
  version: '0.1.0',
  description: 'Appends each record value to a file (or standard output) as one line of JSON or text; flush fsyncs.',
  config: fileSinkConfig,
  validate: validateSinkFile,
  createConnector: () => new FileStreamSinkConnector(),
  createTask: () => new FileStreamSinkTask(),
});

export const fileStreamSource = defineSourceConnector({
  className: 'io.tributary.connect.file.FileStreamSourceConnector',
  aliases: ['org.apache.kafka.connect.file.FileStreamSourceConnector', 'FileStreamSource', 'file-source'],
  version: '0.1.0',
  description: 'Reads a file line by line into a topic and keeps tailing it; resumes from the stored byte position.',
  config: fileSourceConfig,
  createConnector: () => new FileStreamSourceConnector(),
  createTask: () => new FileStreamSourceTask(),
});

export const plugins: ConnectorPlugin[] = [fileStreamSink, fileStreamSource];

/** At validation, catch a sink file in a folder that does not exist or cannot be written. */
async function validateSinkFile(config: TaskConfig): Promise<Array<{ name: string; message: string }>> {
  const file = config.file;
  if (!file || file === STDOUT) return [];
  const folder = dirname(resolve(file));
  try {
    await access(folder, constants.W_OK);
    return [];
  } catch (e) {
    return [{ name: 'file', message: `The folder ${folder} does not exist or is not writable (${(e as NodeJS.ErrnoException).code ?? 'error'}). Create it or choose another path.` }];
  }
}

export { fileSinkConfig, fileSourceConfig, FileStreamSinkConnector, FileStreamSinkTask, FileStreamSourceConnector, FileStreamSourceTask };
