/**
 * The dead-letter queue without Kafka: a JSON-lines file per DLQ topic under the state dir,
 * appended and fsynced before the failed record is skipped, so nothing tolerated is lost.
 * With Kafka, the DLQ is a topic written through the bus instead.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectRecord, Header } from '../api/index.ts';
import type { DeadLetterQueue } from './error-handler.ts';
import type { BusProducer } from './topic-bus.ts';

export class FileDeadLetterQueue implements DeadLetterQueue {
  readonly path: string;
  private handle: Promise<FileHandle> | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(stateDir: string, topic: string) {
    this.path = join(stateDir, 'dlq', `${topic.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`);
  }

  write(record: ConnectRecord, headers: Header[]): Promise<void> {
    const line = JSON.stringify({
      ts: Date.now(),
      topic: record.topic,
      key: jsonSafe(record.key),
      value: jsonSafe(record.value),
      headers: [...(record.headers ?? []), ...headers].map((h) => ({ key: h.key, value: jsonSafe(h.value) })),
      ...(hasKafkaPosition(record) ? { partition: record.kafkaPartition, offset: record.kafkaOffset } : {}),
    }) + '\n';
    this.chain = this.chain.then(async () => {
      this.handle ??= mkdir(join(this.path, '..'), { recursive: true }).then(() => open(this.path, 'a'));
      const fh = await this.handle;
      await fh.write(line);
      await fh.datasync();
    });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
    if (this.handle) await (await this.handle).close();
  }
}

/** The DLQ as a topic on the bus (Kafka): the failed record as it was, plus the context headers. */
export class TopicDeadLetterQueue implements DeadLetterQueue {
  private readonly producer: BusProducer;
  private readonly topic: string;

  constructor(producer: BusProducer, topic: string) {
    this.producer = producer;
    this.topic = topic;
  }

  async write(record: ConnectRecord, headers: Header[]): Promise<void> {
    const { durable } = await this.producer.send([{ ...record, topic: this.topic, kafkaPartition: undefined, headers: [...(record.headers ?? []), ...headers] }]);
    await durable;
  }
}

function hasKafkaPosition(r: ConnectRecord): r is ConnectRecord & { kafkaPartition: number; kafkaOffset: number } {
  return typeof (r as { kafkaOffset?: unknown }).kafkaOffset === 'number';
}

function jsonSafe(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return { base64: v.toString('base64') };
  if (typeof v === 'bigint') return v.toString();
  return v;
}
