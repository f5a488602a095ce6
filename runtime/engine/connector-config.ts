/**
 * The config keys every connector has (Kafka Connect's ConnectorConfig, SinkConnectorConfig and
 * SourceConnectorConfig), merged with the plugin's own spec for validation and docs.
 */
import { defineConfig, oneOf, range, regex, type ConfigSpec } from '../api/index.ts';

/** Kafka Connect's error-handling keys, plus Tributary's automatic restarts. */
export const errorsConfig = defineConfig({
  'errors.retry.timeout': { type: 'long', default: 0, validate: range(-1), doc: 'How long to retry a failed operation, in ms (0: no retries, -1: forever).', importance: 'medium', group: 'Error Handling' },
  'errors.retry.delay.max.ms': { type: 'long', default: 60000, validate: range(1), doc: 'Longest wait between retries, in ms.', importance: 'medium', group: 'Error Handling' },
  'errors.tolerance': { type: 'string', default: 'none', validate: oneOf(['none', 'all']), doc: 'none: an error fails the task; all: skip bad records (to the dead-letter queue when set).', importance: 'medium', group: 'Error Handling' },
  'errors.log.enable': { type: 'boolean', default: false, doc: 'Log each tolerated error.', importance: 'medium', group: 'Error Handling' },
  'errors.log.include.messages': { type: 'boolean', default: false, doc: 'Include the record (topic, partition, offset, key, value) in those logs.', importance: 'low', group: 'Error Handling' },
  'errors.deadletterqueue.topic.name': { type: 'string', default: '', doc: 'Topic for records that failed (sources too, unlike Kafka Connect). Without Kafka, a JSON-lines file of that name in the state dir.', importance: 'medium', group: 'Error Handling' },
  'errors.deadletterqueue.topic.replication.factor': { type: 'int', default: 3, doc: 'Replication factor of the dead-letter topic when it is created.', importance: 'low', group: 'Error Handling' },
  'errors.deadletterqueue.context.headers.enable': { type: 'boolean', default: false, doc: 'Add __connect.errors.* headers with the failure context.', importance: 'low', group: 'Error Handling' },
  'errors.restart.max.attempts': { type: 'int', default: 0, validate: range(-1), doc: 'Restart a FAILED task automatically this many times (0: never, as Kafka Connect; -1: always).', importance: 'medium', group: 'Error Handling' },
  'errors.restart.backoff.max.ms': { type: 'long', default: 60000, validate: range(100), doc: 'Longest wait before an automatic restart; waits double from 1 s.', importance: 'low', group: 'Error Handling' },
});

const baseConnectorConfig = defineConfig({
  name: { type: 'string', doc: 'Globally unique name of the connector.', importance: 'high', group: 'Common' },
  'connector.class': { type: 'class', doc: 'Class name or alias of the connector, e.g. demo or io.tributary.connect.demo.DemoSourceConnector.', importance: 'high', group: 'Common' },
  'tasks.max': { type: 'int', default: 1, validate: range(1), doc: 'Maximum number of tasks for this connector.', importance: 'high', group: 'Common' },
  'key.converter': { type: 'class', default: null, doc: 'Converter for record keys; the worker default when unset.', importance: 'low', group: 'Common' },
  'value.converter': { type: 'class', default: null, doc: 'Converter for record values; the worker default when unset.', importance: 'low', group: 'Common' },
  'header.converter': { type: 'class', default: null, doc: 'Accepted for compatibility; headers are kept as values.', importance: 'low', group: 'Common' },
  transforms: { type: 'list', default: [], doc: 'Aliases of the transforms to apply, in order.', importance: 'low', group: 'Transforms' },
  predicates: { type: 'list', default: [], doc: 'Aliases of predicates used by transforms.', importance: 'low', group: 'Predicates' },
});

export const commonConnectorConfig = baseConnectorConfig.extend(errorsConfig.definition);

export const sinkConnectorConfig = commonConnectorConfig.extend({
  topics: { type: 'list', default: [], doc: 'Topics to consume (this or topics.regex).', importance: 'high', group: 'Common' },
  'topics.regex': { type: 'string', default: '', validate: regex(), doc: 'A regular expression of topics to consume.', importance: 'high', group: 'Common' },
  'consumer.max.poll.records': { type: 'int', default: 2000, validate: range(1), doc: 'Most records handed to one put().', importance: 'low', group: 'Common' },
});

export const sourceConnectorConfig = commonConnectorConfig.extend({
  'exactly.once.support': { type: 'string', default: 'requested', validate: oneOf(['requested', 'required']), doc: 'Whether exactly-once delivery is required (distributed mode).', importance: 'medium', group: 'Exactly Once Support' },
  'transaction.boundary': { type: 'string', default: 'poll', validate: oneOf(['poll', 'interval']), doc: 'Exactly-once sources (worker exactly.once.source.support=enabled): poll commits a transaction per batch the task returns; interval one every transaction.boundary.interval.ms. (Connect\'s `connector`-defined boundaries are not supported.)', importance: 'medium', group: 'Exactly Once Support' },
  'transaction.boundary.interval.ms': { type: 'long', default: -1, validate: range(-1), doc: 'With transaction.boundary=interval: how often a transaction commits; -1: the worker\'s offset.flush.interval.ms.', importance: 'low', group: 'Exactly Once Support' },
  'offsets.storage.topic': { type: 'string', default: '', doc: 'A separate offsets topic for this connector (distributed mode).', importance: 'low', group: 'Offsets Topic' },
});

export function runtimeSpecFor(type: 'source' | 'sink'): ConfigSpec<any> {
  return type === 'sink' ? sinkConnectorConfig : sourceConnectorConfig;
}

export interface ErrorHandlingConfig {
  retryTimeoutMs: number;
  retryDelayMaxMs: number;
  tolerance: 'none' | 'all';
  logEnable: boolean;
  logIncludeMessages: boolean;
  dlqTopic: string;
  dlqContextHeaders: boolean;
  restartMaxAttempts: number;
  restartBackoffMaxMs: number;
}

export function errorHandlingConfig(config: Record<string, string>): ErrorHandlingConfig {
  const c = errorsConfig.parse(config);
  return {
    retryTimeoutMs: c['errors.retry.timeout'],
    retryDelayMaxMs: c['errors.retry.delay.max.ms'],
    tolerance: c['errors.tolerance'] as 'none' | 'all',
    logEnable: c['errors.log.enable'],
    logIncludeMessages: c['errors.log.include.messages'],
    dlqTopic: c['errors.deadletterqueue.topic.name'],
    dlqContextHeaders: c['errors.deadletterqueue.context.headers.enable'],
    restartMaxAttempts: c['errors.restart.max.attempts'],
    restartBackoffMaxMs: c['errors.restart.backoff.max.ms'],
  };
}
