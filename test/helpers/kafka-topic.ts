/**
 * Reading a whole Kafka topic in tests, as a consumer written against Kafka Connect's output
 * would: from the earliest offset to the end that the broker reports when the read starts.
 */
import { Admin, Consumer, FetchIsolationLevels, ListOffsetTimestamps, MessagesStreamModes } from '@platformatic/kafka';
import { committedBatches } from '../../runtime/engine/kafka/transactions.ts';
import { uniqueName } from '../infra/env.ts';

export interface TopicRecord {
  partition: number;
  offset: bigint;
  key: Buffer | undefined;
  value: Buffer | undefined;
}

/**
 * Every record of `topic` up to its current end. With `readCommitted`, up to the last stable
 * offset and without the records of aborted transactions (read with raw fetches: the client's own
 * read_committed stream cannot read a log with several aborted transactions of one producer).
 */
export async function readTopic(brokers: string[], topic: string, options: { readCommitted?: boolean; idleMs?: number } = {}): Promise<TopicRecord[]> {
  if (options.readCommitted) return readCommitted(brokers, topic);
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
    isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
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

async function readCommitted(brokers: string[], topic: string): Promise<TopicRecord[]> {
  const consumer = new Consumer({ clientId: uniqueName('read-committed'), groupId: uniqueName('read-committed-group'), bootstrapBrokers: brokers });
  const records: TopicRecord[] = [];
  try {
    const meta = await consumer.metadata({ topics: [topic] });
    const t = meta.topics.get(topic)!;
    const stable = (await consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.LATEST, isolationLevel: FetchIsolationLevels.READ_COMMITTED })).get(topic) ?? [];
    for (let partition = 0; partition < t.partitionsCount; partition++) {
      const end = stable[partition] ?? 0n;
      let position = 0n;
      while (position < end) {
        const response = await consumer.fetch({
          node: t.partitions[partition]!.leader,
          topics: [{ topicId: t.id, partitions: [{ partition, fetchOffset: position, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 8 << 20,
          isolationLevel: FetchIsolationLevels.READ_COMMITTED,
        });
        const p = response.responses[0]!.partitions[0]!;
        const batches = p.records ?? [];
        if (batches.length === 0) throw new Error(`no records at ${topic}-${partition} offset ${position} below the last stable offset ${end}`);
        for (const batch of committedBatches(batches, p.abortedTransactions)) {
          for (const r of batch.records) {
            const offset = batch.firstOffset + BigInt(r.offsetDelta);
            if (offset >= position && offset < end) records.push({ partition, offset, key: r.key ?? undefined, value: r.value ?? undefined });
          }
        }
        for (const b of batches) {
          const next = b.firstOffset + BigInt(b.lastOffsetDelta) + 1n;
          if (next > position) position = next;
        }
      }
    }
  } finally {
    await consumer.close(true);
  }
  return records;
}
