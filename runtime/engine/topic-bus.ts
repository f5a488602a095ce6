/**
 * The data plane between source and sink tasks: in-process topics (standalone, no Kafka) or real
 * Kafka topics. Runners see only this interface.
 *
 * Delivery contract: `send` resolves once the records are accepted (waiting for room:
 * backpressure) and hands back `durable`, which resolves once they can no longer be lost: for
 * Kafka when the broker acknowledged them; for in-process topics when every consumer group
 * subscribed to the topic has committed past them (end-to-end acknowledgement). A source runner
 * commits a source offset only after `durable` resolved for every record up to it.
 */
import type { ConnectRecord, SinkOffsets, TopicPartition } from '../api/index.ts';

/** A record on the bus. Kafka carries bytes (converters run in the runners); in-process topics carry the record itself. */
export interface BusRecord extends ConnectRecord {
  keyBytes?: Buffer | null;
  valueBytes?: Buffer | null;
}

/** A record read from the bus, with where it was read from. */
export interface ConsumedRecord extends BusRecord {
  kafkaPartition: number;
  kafkaOffset: number;
}

export interface SendResult {
  durable: Promise<void>;
}

export interface BusProducer {
  send(records: BusRecord[], signal?: AbortSignal): Promise<SendResult>;
  close(): Promise<void>;
}

/** A Kafka record already serialised and partitioned (source offsets a transaction carries with the data). */
export interface RawKafkaRecord {
  topic: string;
  partition: number;
  key: Buffer;
  value: Buffer | null;
}

/**
 * A producer whose sends form transactions (exactly-once sources): what was sent since the last
 * commit becomes visible to read_committed readers atomically with `commit`'s extra records, or
 * never. `begin` fences every older producer of the same transactional id (a zombie task on a
 * worker the group gave up on) and aborts its open transaction; call it before reading offsets.
 * `send`'s `durable` resolves once the records are in the open transaction.
 */
export interface TransactionalBusProducer extends BusProducer {
  begin(): Promise<void>;
  commit(extra: RawKafkaRecord[]): Promise<void>;
}

export interface ConsumerOptions {
  /** Consumer group, `connect-<connector>` for sinks. */
  groupId: string;
  /** Member id within the group (the task id). */
  memberId: string;
  topics?: string[];
  topicsRegex?: RegExp;
  /** Called when partitions are assigned or revoked, so the runner can open/close them on the task. */
  onAssign?(assigned: TopicPartition[], revoked: TopicPartition[]): Promise<void> | void;
}

export interface BusConsumer {
  /** Wait up to `maxWaitMs` for records; [] on timeout or abort. */
  poll(maxRecords: number, maxWaitMs: number, signal: AbortSignal): Promise<ConsumedRecord[]>;
  /** Commit the next offset to read, per partition. */
  commit(offsets: SinkOffsets): Promise<void>;
  assignment(): TopicPartition[];
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** Start reading these partitions from these offsets (after `flush` returned offsets behind, say). */
  seek(offsets: SinkOffsets): void;
  /** Records not yet committed by the group: end offset minus committed offset, per `topic-partition`. */
  lag(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export interface TopicBus {
  readonly kind: 'memory' | 'kafka';
  /** Whether records must be converted to bytes before `send` (true for Kafka). */
  readonly needsBytes: boolean;
  producer(clientId: string, options?: { transactionalId?: string }): BusProducer;
  /** Kafka only: a transactional producer (exactly-once sources). */
  transactionalProducer?(clientId: string, transactionalId: string): TransactionalBusProducer;
  consumer(options: ConsumerOptions): BusConsumer;
  /** The committed offsets of a consumer group (KIP-875 sink offsets). */
  groupOffsets(groupId: string): Promise<SinkOffsets>;
  /** Replace committed offsets of a group whose members are all stopped; null entries reset a partition. */
  alterGroupOffsets(groupId: string, offsets: Array<{ topic: string; partition: number; offset: number | null }>): Promise<void>;
  deleteGroup(groupId: string): Promise<void>;
  close(): Promise<void>;
}
