import type { ConnectRecord, SinkRecord, SourceRecord } from '../../../runtime/api/index.ts';
import type { PredicatePlugin, TransformPlugin } from '../../../runtime/api/transform.ts';

export function transform(plugin: TransformPlugin, config: Record<string, string> = {}) {
  const fn = plugin.create(config);
  return <R extends ConnectRecord>(record: R): R | null => {
    const before = JSON.stringify(record, replacer);
    const out = fn(record);
    // Transforms never mutate their input.
    if (before !== JSON.stringify(record, replacer)) throw new Error('the transform mutated its input record');
    return out;
  };
}

export function predicate(plugin: PredicatePlugin, config: Record<string, string> = {}) {
  return plugin.create(config);
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

export function sourceRecord(fields: Partial<SourceRecord> = {}): SourceRecord {
  return { topic: 'orders', sourcePartition: { table: 'orders' }, sourceOffset: { lsn: 42 }, value: null, ...fields };
}

export function sinkRecord(fields: Partial<SinkRecord> = {}): SinkRecord {
  return {
    topic: 'orders', kafkaPartition: 3, kafkaOffset: 1234, originalTopic: 'orders', originalKafkaPartition: 3, originalKafkaOffset: 1234,
    value: null, timestamp: Date.UTC(2024, 0, 15, 10, 30), ...fields,
  };
}
