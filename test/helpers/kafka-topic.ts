/**
 * Reading a whole Kafka topic in tests, as a consumer written against Kafka Connect's output
 * would: from the earliest offset to the end that the broker reports when the read starts.
 */
import { Admin, Consumer, FetchIsolationLevels, ListOffsetTimestamps, MessagesStreamModes } from '@platformatic/kafka';
import { uniqueName } from '../infra/env.ts';

export interface TopicRecord {
  partition: number;
  offset: bigint;
  key: Buffer | undefined;
  value: Buffer | undefined;
}

/**
 * Every record of `topic` up to its current end. With `readCommitted`, records of aborted or open
 * transactions are skipped (transaction markers take offsets too, so the read ends when no record
 * arrives for `idleMs` after the last one before the end).
 */
export async function readTopic(brokers: string[], topic: string, options: { readCommitted?: boolean; idleMs?: number } = {}): Promise<TopicRecord[]> {
  const admin = new Admin({ clientId: uniqueName('read-topic-admin'), bootstrapBrokers: brokers });
  let ends: Map<number, bigint>;
  try {
    const meta = await admin.metadata({ topics: [topic] });
    const partitions = meta.topics.get(topic)?.partitionsCount ?? 1;
    const listed = await admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })) }],
    });
    ends = new Map(listed[0]!.partitions.map((p) => [p.partitionIndex, BigInt(p.offset)]));
  } finally {
    await admin.close();
  }
  const records: TopicRecord[] = [];
  const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  if (pending.size === 0) return records;
  const consumer = new Consumer({
    clientId: uniqueName('read-topic'),
    groupId: uniqueName('read-topic-group'),
    bootstrapBrokers: brokers,
    maxWaitTime: 200,
    isolationLevel: options.readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
  });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
    const idleMs = options.idleMs ?? 3000;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => void stream.close(), idleMs);
    };
    armIdle();
    for await (const m of stream) {
      records.push({ partition: m.partition, offset: m.offset, key: m.key as Buffer | undefined, value: m.value as Buffer | undefined });
      if (m.offset + 1n >= (ends.get(m.partition) ?? 0n)) pending.delete(m.partition);
      if (pending.size === 0) break;
      armIdle();
    }
    clearTimeout(idle);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return records;
}
