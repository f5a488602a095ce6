/**
 * The data plane over real Kafka topics (distributed mode, or standalone with brokers configured),
 * on @platformatic/kafka.
 *
 * - Records travel as bytes: runners convert keys and values (`needsBytes`) and the bus sends
 *   `keyBytes`/`valueBytes`; header values are sent as bytes and read back as strings when they
 *   are UTF-8 (else Buffers), see kafka/codec.ts. Timestamps pass through.
 * - Producers are idempotent (acks=all) and pipelined: `send` returns once records are queued and
 *   `durable` resolves on the broker's acknowledgement; they encode their record batches
 *   themselves and send them on the client's connections; see kafka/producer.ts. Topics that do not
 *   exist are created on first use with `defaultPartitions` and `replicationFactor`.
 * - Consumers are members of a consumer group (`connect-<connector>` for sinks) with manual
 *   commits and cooperative rebalancing; `onAssign` runs inside `poll`; see kafka/consumer.ts.
 * - Group offsets (KIP-875) are read, altered and deleted through the Admin API; altering needs
 *   the group to be empty, as in Kafka Connect.
 *
 * `start()` connects and learns the cluster id (for `GET /`); producers and consumers connect
 * lazily, so creating them before `start()` is allowed. `close()` closes every producer (after
 * their queued records were acknowledged, bounded) and consumer, then the admin client.
 */
import { Admin, Producer } from '@platformatic/kafka';
import type { BaseOptions } from '@platformatic/kafka';
import type { SinkOffsets } from '../api/index.ts';
import { ConfigError, topicPartitionKey } from '../api/index.ts';
import { KafkaBusConsumer } from './kafka/consumer.ts';
import type { ConsumerSettings } from './kafka/consumer.ts';
import { hasProtocolError } from './kafka/errors.ts';
import { KafkaBusProducer } from './kafka/producer.ts';
import type { ProducerLimits } from './kafka/producer.ts';
import { TopicCatalog } from './kafka/topics.ts';
import { KafkaTransactionalProducer } from './kafka/transactional-producer.ts';
import { getLogger } from './logging.ts';
import type { Logger } from './logging.ts';
import type { BusConsumer, BusProducer, ConsumerOptions, TopicBus, TransactionalBusProducer } from './topic-bus.ts';

/** Connection settings passed to every client: TLS, SASL, timeouts. */
export type KafkaConnectionOptions = Pick<BaseOptions, 'tls' | 'tlsServerName' | 'sasl' | 'connectTimeout' | 'requestTimeout'>;

export interface KafkaBusOptions {
  /** `host:port` of one or more brokers. */
  bootstrapServers: string[];
  /** Prefix of every client id this bus creates. */
  clientId: string;
  logger?: Logger;
  /** Partitions of topics the bus creates. Default 1; -1 = the broker's `num.partitions`. */
  defaultPartitions?: number;
  /** Replication factor of topics the bus creates. Default -1 = the broker's `default.replication.factor`. */
  replicationFactor?: number;
  connection?: KafkaConnectionOptions;
  /** Producer tuning; the defaults suit most loads. */
  producer?: Partial<ProducerLimits> & {
    compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
  };
  /** Consumer tuning; the defaults suit most loads. */
  consumer?: Partial<ConsumerSettings>;
}

// The client sends one produce request at a time, each at most half the in-flight budget (and
// maxBatchBytes per partition): a budget of a few requests keeps the connection busy, and more
// only queues records in memory (as JS objects, about 3-4x their bytes). Not less, though: a poll
// bigger than what is left of the budget waits until all in flight is acknowledged (2 MB cost a
// Postgres snapshot, whose polls are 8192 rows, 5-25% of its rows/s).
const PRODUCER_DEFAULTS: ProducerLimits = {
  maxInFlightBytes: 4 * 1024 * 1024,
  maxInFlightRecords: 25_000,
  maxBatchBytes: 900 * 1024,
  maxRequestBytes: 16 * 1024 * 1024,
  closeTimeoutMs: 30_000,
  deliveryTimeoutMs: 120_000,
};

const CONSUMER_DEFAULTS: ConsumerSettings = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 60_000,
  fetchMaxWaitMs: 500,
  fetchMaxBytes: 8 * 1024 * 1024,
  partitionMaxBytes: 1024 * 1024,
  maxBufferedBytes: 8 * 1024 * 1024,
  metadataRefreshMs: 5_000,
  isolationLevel: 'read_committed',
};

const RETRY_DELAY_MS = 250;

export class KafkaBus implements TopicBus {
  readonly kind = 'kafka' as const;
  readonly needsBytes = true;
  private readonly o: KafkaBusOptions;
  private readonly logger: Logger;
  private readonly admin: Admin;
  private readonly topics: TopicCatalog;
  private readonly producers = new Set<BusProducer>();
  private readonly consumers = new Set<KafkaBusConsumer>();
  private cluster: Promise<string> | null = null;
  private closed = false;

  constructor(options: KafkaBusOptions) {
    if (options.bootstrapServers.length === 0) {
      throw new ConfigError('The Kafka bus needs at least one bootstrap server.', [{ name: 'bootstrap.servers', message: 'is empty; give host:port of a broker' }]);
    }
    this.o = options;
    this.logger = options.logger ?? getLogger('tributary.engine.kafka-bus');
    // Short retry delays: a topic created a moment ago needs a few hundred milliseconds to show up everywhere.
    this.admin = new Admin({
      ...options.connection,
      clientId: `${options.clientId}-admin`,
      bootstrapBrokers: options.bootstrapServers,
      retries: 10,
      retryDelay: RETRY_DELAY_MS,
    });
    this.topics = new TopicCatalog({
      admin: this.admin,
      defaultPartitions: options.defaultPartitions ?? 1,
      replicationFactor: options.replicationFactor ?? -1,
      logger: this.logger,
    });
  }

  /** Connect to the cluster; fails when no broker answers. */
  async start(): Promise<void> {
    await this.clusterId();
  }

  /** The Kafka cluster id (`kafka_cluster_id` of `GET /`). */
  clusterId(): Promise<string> {
    this.cluster ??= this.admin.metadata({ topics: [] }).then(
      (md) => md.id,
      (e: unknown) => {
        this.cluster = null;
        throw e;
      },
    );
    return this.cluster;
  }

  producer(clientId: string, options: { transactionalId?: string } = {}): BusProducer {
    this.checkOpen();
    const p = this.o.producer ?? {};
    const client = new Producer({
      ...this.o.connection,
      clientId: safeClientId(`${this.o.clientId}-${clientId}`),
      bootstrapBrokers: this.o.bootstrapServers,
      idempotent: true,
      transactionalId: options.transactionalId,
      compression: p.compression ?? 'none',
      // The broker-side wait for acks=all (also the producer's own requests', below). The client
      // retries until the delivery timeout stops it.
      timeout: 30_000,
      retries: Number.MAX_SAFE_INTEGER,
      retryDelay: RETRY_DELAY_MS,
    });
    const limits: ProducerLimits = {
      maxInFlightBytes: p.maxInFlightBytes ?? PRODUCER_DEFAULTS.maxInFlightBytes,
      maxInFlightRecords: p.maxInFlightRecords ?? PRODUCER_DEFAULTS.maxInFlightRecords,
      maxBatchBytes: p.maxBatchBytes ?? PRODUCER_DEFAULTS.maxBatchBytes,
      maxRequestBytes: p.maxRequestBytes ?? PRODUCER_DEFAULTS.maxRequestBytes,
      closeTimeoutMs: p.closeTimeoutMs ?? PRODUCER_DEFAULTS.closeTimeoutMs,
      deliveryTimeoutMs: p.deliveryTimeoutMs ?? PRODUCER_DEFAULTS.deliveryTimeoutMs,
    };
    const producer: KafkaBusProducer = new KafkaBusProducer({
      client,
      topics: this.topics,
      limits,
      logger: this.logger.child({ producer: clientId }),
      onClose: () => this.producers.delete(producer),
      compression: p.compression ?? 'none',
      ackTimeoutMs: 30_000,
      retryDelayMs: RETRY_DELAY_MS,
    });
    this.producers.add(producer);
    return producer;
  }

  transactionalProducer(clientId: string, transactionalId: string): TransactionalBusProducer {
    this.checkOpen();
    const client = new Producer({
      ...this.o.connection,
      clientId: safeClientId(`${this.o.clientId}-${clientId}`),
      bootstrapBrokers: this.o.bootstrapServers,
      idempotent: true,
      transactionalId,
      // InitProducerId as a new producer (KIP-360: -1/-1). The client's default (0/0) claims to be
      // producer 0, which the coordinator fences once the transactional id has a history.
      producerId: -1n,
      producerEpoch: -1,
      compression: this.o.producer?.compression ?? 'none',
      timeout: 30_000,
      retries: 10,
      retryDelay: RETRY_DELAY_MS,
    });
    const producer: KafkaTransactionalProducer = new KafkaTransactionalProducer({
      client,
      topics: this.topics,
      transactionalId,
      logger: this.logger.child({ producer: clientId, transactionalId }),
      onClose: () => this.producers.delete(producer),
    });
    this.producers.add(producer);
    return producer;
  }

  consumer(options: ConsumerOptions): BusConsumer {
    this.checkOpen();
    if (!options.topics?.length && !options.topicsRegex) {
      throw new ConfigError(`Consumer ${options.memberId} subscribes to nothing: give topics or a topics regex.`, [
        { name: 'topics', message: 'set topics or topics.regex' },
      ]);
    }
    const consumer: KafkaBusConsumer = new KafkaBusConsumer({
      consumer: options,
      bootstrapBrokers: this.o.bootstrapServers,
      connection: this.o.connection ?? {},
      admin: this.admin,
      settings: { ...CONSUMER_DEFAULTS, ...this.o.consumer },
      logger: this.logger.child({ group: options.groupId, member: options.memberId }),
      onClose: () => this.consumers.delete(consumer),
    });
    this.consumers.add(consumer);
    return consumer;
  }

  async groupOffsets(groupId: string): Promise<SinkOffsets> {
    const out: SinkOffsets = new Map();
    let groups;
    try {
      groups = await this.admin.listConsumerGroupOffsets({ groups: [groupId] });
    } catch (e) {
      if (hasProtocolError(e, 'GROUP_ID_NOT_FOUND')) return out;
      throw e;
    }
    for (const g of groups) {
      for (const t of g.topics) {
        for (const p of t.partitions) {
          if (p.committedOffset < 0n) continue;
          out.set(topicPartitionKey({ topic: t.name, partition: p.partitionIndex }), {
            topic: t.name,
            partition: p.partitionIndex,
            offset: Number(p.committedOffset),
          });
        }
      }
    }
    return out;
  }

  /**
   * Set committed offsets of a group with no active members; a null offset deletes the partition's
   * committed offset, so a sink starts it over from the earliest offset (Kafka Connect's KIP-875 reset).
   */
  async alterGroupOffsets(groupId: string, offsets: Array<{ topic: string; partition: number; offset: number | null }>): Promise<void> {
    await this.requireEmptyGroup(groupId);
    const set = offsets.filter((o): o is { topic: string; partition: number; offset: number } => o.offset !== null);
    const reset = offsets.filter((o) => o.offset === null);
    if (set.length > 0) {
      const byTopic = new Map<string, Array<{ partition: number; offset: bigint }>>();
      for (const o of set) {
        let ps = byTopic.get(o.topic);
        if (!ps) byTopic.set(o.topic, (ps = []));
        ps.push({ partition: o.partition, offset: BigInt(o.offset) });
      }
      await this.admin.alterConsumerGroupOffsets({
        groupId,
        topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })),
      });
    }
    if (reset.length > 0) {
      const byTopic = new Map<string, number[]>();
      for (const o of reset) {
        let ps = byTopic.get(o.topic);
        if (!ps) byTopic.set(o.topic, (ps = []));
        ps.push(o.partition);
      }
      try {
        await this.admin.deleteConsumerGroupOffsets({
          groupId,
          topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        });
      } catch (e) {
        // Nothing committed for the group at all: nothing to reset.
        if (!hasProtocolError(e, 'GROUP_ID_NOT_FOUND')) throw e;
      }
    }
  }

  async deleteGroup(groupId: string): Promise<void> {
    try {
      await this.admin.deleteGroups({ groups: [groupId] });
    } catch (e) {
      if (hasProtocolError(e, 'GROUP_ID_NOT_FOUND')) return;
      if (hasProtocolError(e, 'NON_EMPTY_GROUP')) throw new Error(`Consumer group ${groupId} has active members.`, { cause: e });
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([...[...this.producers].map((p) => p.close()), ...[...this.consumers].map((c) => c.close())]);
    for (const r of results) if (r.status === 'rejected') this.logger.warn({ err: String(r.reason) }, 'closing a Kafka client failed');
    await this.admin.close();
  }

  private async requireEmptyGroup(groupId: string): Promise<void> {
    const groups = await this.admin.describeGroups({ groups: [groupId] });
    const g = groups.get(groupId);
    if (g && g.state !== 'EMPTY' && g.state !== 'DEAD') {
      throw new Error(`Consumer group ${groupId} has active members (${g.members.size}, state ${g.state}); stop the connector first.`);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('The Kafka bus is closed.');
  }
}

/** Client ids may not contain whitespace. */
function safeClientId(id: string): string {
  return id.replace(/\s+/g, '_');
}
