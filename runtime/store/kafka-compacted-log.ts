/**
 * A CompactedLog over a Kafka compacted topic (Kafka Connect's `KafkaBasedLog`): the store of
 * distributed mode. See compacted-log.ts for the contract; here is how Kafka meets it.
 *
 * - `start` creates the topic when it is missing (`cleanup.policy=compact`, the given partition
 *   count and replication factor) and refuses an existing one that is not compacted (or, for a
 *   one-partition log such as the config log, that has more partitions: its records need one
 *   order). Then it reads every partition from its earliest offset to its end, delivering records
 *   to subscribers in partition order, and follows from there.
 * - Records are keyed by the UTF-8 bytes of the key and valued by the UTF-8 bytes of the JSON
 *   text (a tombstone has a null value), exactly what Kafka Connect's JsonConverter-free string
 *   keys and JSON values look like on its internal topics. A key goes to the partition the Java
 *   producer would choose (murmur2), so Connect and Tributary agree on where a key lives.
 * - Appends go through an idempotent producer (acks=all), one request in flight at a time;
 *   appends issued while a request is out go together in the next one. `append` resolves once
 *   its records are acknowledged; they are delivered when the log's own reader reads them.
 * - `readToEnd` waits for appends issued before it, takes every partition's end offset (the high
 *   watermark) and resolves once the reader has delivered up to there.
 * - Reading uses no consumer group: this log reads all partitions itself, from a connection
 *   pool of its own (long-polling fetches do not hold up other requests).
 * - With `readCommitted` (the offsets log: exactly-once source tasks write their offsets in the
 *   transactions of their records) the end is the last stable offset, and records of aborted
 *   transactions are skipped (kafka/transactions.ts).
 */
import { Admin, ConfigResourceTypes, ConnectionPool, Consumer, FetchIsolationLevels, IS_CONTROL, ListOffsetTimestamps, Producer } from '@platformatic/kafka';
import type { MessageToProduce, RecordsBatch, fetchV17 } from '@platformatic/kafka';
import type { Logger } from '../api/index.ts';
import { keyPartition } from '../engine/kafka/codec.ts';
import { errorResponse, hasProtocolError, message } from '../engine/kafka/errors.ts';
import { committedBatches, type AbortedTransaction } from '../engine/kafka/transactions.ts';
import type { KafkaConnectionOptions } from '../engine/kafka-bus.ts';
import type { CompactedLog, LogEntry, LogSubscriber, LogValue } from './compacted-log.ts';
import { deliver, encodeEntry } from './compacted-log.ts';
import { LogClosedError } from './errors.ts';
import { defaultLogger } from './logging.ts';

export interface KafkaCompactedLogOptions {
  bootstrapBrokers: string[];
  topic: string;
  /** Partitions of the topic when this log creates it: configs 1, offsets 25, status 5 (Connect's defaults). */
  partitions: number;
  /** Replication factor when this log creates the topic; -1 = the broker's `default.replication.factor`. */
  replicationFactor: number;
  clientId?: string;
  connection?: KafkaConnectionOptions;
  logger?: Logger;
  /** How long a fetch waits at the broker for new records. */
  fetchMaxWaitMs?: number;
  /** Read only committed transactional records (see above). */
  readCommitted?: boolean;
}

/** An internal topic that cannot be used as it is. */
export class InternalTopicError extends Error {
  readonly topic: string;
  constructor(topic: string, text: string) {
    super(text);
    this.name = 'InternalTopicError';
    this.topic = topic;
  }
}

export type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
type FetchResponse = fetchV17.FetchResponse;

interface Pending {
  messages: Message[];
  resolve(): void;
  reject(e: Error): void;
}

interface EndWaiter {
  ends: number[];
  resolve(): void;
  reject(e: Error): void;
}

const OFFSET_OUT_OF_RANGE = 1;
const ERROR_BACKOFF_MS = 500;
const VISIBLE_TIMEOUT_MS = 15_000;

export class KafkaCompactedLog implements CompactedLog {
  readonly name: string;
  private readonly o: KafkaCompactedLogOptions;
  private readonly logger: Logger;
  private readonly clientId: string;
  private readonly subscribers = new Set<LogSubscriber>();
  private readonly admin: Admin;
  private readonly reader: Consumer;
  private readonly fetcher: Consumer;
  private readonly fetchPool: ConnectionPool;
  private producer: Producer | null = null;
  private state: 'new' | 'starting' | 'started' | 'closed' = 'new';
  private partitionCount = 0;
  private topicId = '';
  /** Next offset to deliver, per partition. */
  private positions: number[] = [];
  private endWaiters: EndWaiter[] = [];
  private queue: Pending[] = [];
  private sending: Promise<void> | null = null;
  private fetchLoop: Promise<void> | null = null;
  private lastWarn = 0;

  constructor(options: KafkaCompactedLogOptions) {
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new TypeError(`the log over topic ${options.topic} needs a positive partition count, got ${options.partitions}`);
    }
    this.o = options;
    this.name = options.topic;
    this.logger = options.logger ?? defaultLogger;
    this.clientId = (options.clientId ?? `tributary-log-${options.topic}`).replace(/\s+/g, '_');
    const common = { ...options.connection, bootstrapBrokers: options.bootstrapBrokers, retries: 10, retryDelay: 250 };
    this.admin = new Admin({ ...common, clientId: `${this.clientId}-admin` });
    // Used for metadata, list offsets and fetch only; it never joins its (unused) group.
    this.reader = new Consumer({ ...common, clientId: `${this.clientId}-reader`, groupId: `${this.clientId}-unused`, autocommit: false });
    // Fetches fail fast (the fetch loop retries), so closing the pool ends a long poll at once.
    this.fetcher = new Consumer({ ...common, retries: 0, clientId: `${this.clientId}-fetcher`, groupId: `${this.clientId}-unused`, autocommit: false });
    this.fetchPool = new ConnectionPool(`${this.clientId}-fetch`, {
      ...options.connection,
      requestTimeout: Math.max(30_000, (options.fetchMaxWaitMs ?? 500) + 10_000),
    });
  }

  subscribe(fn: LogSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`log ${this.name} was already started`);
    this.state = 'starting';
    try {
      await this.ensureTopic();
      const earliest = await this.listOffsets(ListOffsetTimestamps.EARLIEST);
      this.positions = earliest;
      this.state = 'started';
      this.fetchLoop = this.runFetchLoop();
      await this.readToEnd();
    } catch (e) {
      await this.close().catch(() => {});
      throw e;
    }
  }

  async append(key: string, value: LogValue): Promise<void> {
    return this.appendAll([{ key, value }]);
  }

  appendAll(entries: readonly LogEntry[]): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new LogClosedError(this.name));
    if (this.state !== 'started') return Promise.reject(new Error(`log ${this.name} is not started; call start() first`));
    let messages: Message[];
    try {
      messages = this.messagesFor(entries);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ messages, resolve, reject });
      this.pump();
    });
  }

  /**
   * The Kafka records an append of these entries writes (topic, partition, key and value bytes),
   * for a producer of someone else's that writes them in its own transaction.
   */
  messagesFor(entries: readonly LogEntry[]): Message[] {
    if (this.state !== 'started') throw new Error(`log ${this.name} is not started; call start() first`);
    return entries.map((e) => {
      const { key, json } = encodeEntry(e);
      const keyBytes = Buffer.from(key, 'utf8');
      return {
        topic: this.name,
        partition: keyPartition(keyBytes, this.partitionCount),
        key: keyBytes,
        value: (json === null ? null : Buffer.from(json, 'utf8')) as Buffer,
      };
    });
  }

  async readToEnd(): Promise<void> {
    if (this.state === 'closed') throw new LogClosedError(this.name);
    if (this.state === 'new') throw new Error(`log ${this.name} is not started; call start() first`);
    // Appends issued before this call are part of "everything written before".
    while (this.sending) await this.sending.catch(() => {});
    const ends = await this.listOffsets(ListOffsetTimestamps.LATEST);
    if (this.reached(ends)) return;
    await new Promise<void>((resolve, reject) => this.endWaiters.push({ ends, resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    // Appends already queued are finished (or fail) before the producer goes.
    while (this.sending) await this.sending.catch(() => {});
    for (const w of this.endWaiters.splice(0)) w.reject(new LogClosedError(this.name));
    await this.fetchPool.close().catch(() => {});
    await this.fetchLoop;
    await Promise.allSettled([this.producer?.close(true), this.fetcher.close(true), this.reader.close(true), this.admin.close()]);
    this.producer = null;
  }

  // ---- topic ------------------------------------------------------------------------------------

  private async ensureTopic(): Promise<void> {
    const topic = this.name;
    const names = await this.admin.listTopics();
    if (!names.includes(topic)) {
      try {
        await this.admin.createTopics({
          topics: [topic],
          partitions: this.o.partitions,
          replicas: this.o.replicationFactor,
          configs: [{ name: 'cleanup.policy', value: 'compact' }],
        });
        this.logger.info({ topic, partitions: this.o.partitions, replicationFactor: this.o.replicationFactor }, 'created internal topic');
      } catch (e) {
        if (!hasProtocolError(e, 'TOPIC_ALREADY_EXISTS')) {
          throw new InternalTopicError(topic, `Could not create the internal topic ${topic}: ${message(e)}. Create it with cleanup.policy=compact, or check the worker's access to the cluster.`);
        }
      }
    }
    const [description] = await this.admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['cleanup.policy'] }],
    });
    const policy = description?.configs.find((c) => c.name === 'cleanup.policy')?.value ?? '';
    const policies = policy.split(',').map((p) => p.trim()).filter(Boolean);
    if (policies.length !== 1 || policies[0] !== 'compact') {
      throw new InternalTopicError(
        topic,
        `The internal topic ${topic} has cleanup.policy=${policy || '(none)'}, but Tributary keeps its state there and needs ` +
          `cleanup.policy=compact (only): with deletion, configs and offsets would be lost once they age out. Change the topic's ` +
          `policy (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config cleanup.policy=compact), ` +
          'or configure another topic name and let Tributary create it.',
      );
    }
    const deadline = Date.now() + VISIBLE_TIMEOUT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const md = await this.reader.metadata({ topics: [topic], forceUpdate: true });
        const t = md.topics.get(topic);
        if (!t) throw new Error(`topic ${topic} is not in the cluster metadata yet`);
        if (t.partitions.some((p) => p === undefined || p.leader < 0)) throw new Error(`topic ${topic} has partitions without a leader`);
        this.partitionCount = t.partitionsCount;
        this.topicId = t.id;
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(Math.min(50 * attempt, 500));
      }
    }
    if (this.o.partitions === 1 && this.partitionCount !== 1) {
      throw new InternalTopicError(
        topic,
        `The internal topic ${topic} has ${this.partitionCount} partitions, but it must have exactly 1 so that its records keep ` +
          'one order (task configs before their commit). Configure another topic name and let Tributary create it.',
      );
    }
  }

  // ---- writing ----------------------------------------------------------------------------------

  private getProducer(): Producer {
    this.producer ??= new Producer({
      ...this.o.connection,
      clientId: `${this.clientId}-producer`,
      bootstrapBrokers: this.o.bootstrapBrokers,
      idempotent: true,
      timeout: 30_000,
      retries: 10,
      retryDelay: 250,
    });
    return this.producer;
  }

  private pump(): void {
    if (this.sending) return;
    this.sending = this.drain().finally(() => {
      this.sending = null;
      if (this.queue.length > 0) this.pump();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        await this.getProducer().send({ messages: batch.flatMap((p) => p.messages) });
      } catch (e) {
        const error = new Error(`Writing to the internal topic ${this.name} failed: ${message(e)}`, { cause: e });
        for (const p of batch) p.reject(error);
        // The outcome is unknown: a new producer id, so later records are not dropped as duplicates.
        const failed = this.producer;
        this.producer = null;
        failed?.close(true, () => {});
        continue;
      }
      for (const p of batch) p.resolve();
    }
  }

  // ---- reading ----------------------------------------------------------------------------------

  private reached(ends: number[]): boolean {
    for (let p = 0; p < ends.length; p++) if ((this.positions[p] ?? 0) < ends[p]) return false;
    return true;
  }

  private checkWaiters(): void {
    if (this.endWaiters.length === 0) return;
    const still: EndWaiter[] = [];
    for (const w of this.endWaiters) {
      if (this.reached(w.ends)) w.resolve();
      else still.push(w);
    }
    this.endWaiters = still;
  }

  private async listOffsets(timestamp: bigint): Promise<number[]> {
    const partitions = Array.from({ length: this.partitionCount }, (_, i) => i);
    const res = await this.reader.listOffsets({
      topics: [this.name],
      partitions: { [this.name]: partitions },
      timestamp,
      isolationLevel: this.isolation,
    });
    const offsets = res.get(this.name) ?? [];
    return partitions.map((p) => Number(offsets[p] ?? 0n));
  }

  private async runFetchLoop(): Promise<void> {
    while (this.state === 'started') {
      try {
        await this.fetchOnce();
      } catch (e) {
        if (this.state !== 'started') break;
        const now = Date.now();
        if (now - this.lastWarn > 30_000) {
          this.lastWarn = now;
          this.logger.warn({ err: message(e), topic: this.name }, 'reading the internal topic failed; retrying');
        }
        this.reader.clearMetadata();
        await sleep(ERROR_BACKOFF_MS);
      }
    }
  }

  private async fetchOnce(): Promise<void> {
    const md = await this.reader.metadata({ topics: [this.name] });
    const t = md.topics.get(this.name);
    if (!t) throw new Error(`topic ${this.name} is not in the cluster metadata`);
    this.topicId = t.id;
    const byNode = new Map<number, fetchV17.FetchRequestPartition[]>();
    for (let p = 0; p < this.partitionCount; p++) {
      const leader = t.partitions[p]?.leader;
      if (leader === undefined || leader < 0) continue;
      let list = byNode.get(leader);
      if (!list) byNode.set(leader, (list = []));
      list.push({ partition: p, currentLeaderEpoch: -1, fetchOffset: BigInt(this.positions[p]), lastFetchedEpoch: -1, partitionMaxBytes: 1 << 20 });
    }
    if (byNode.size === 0) throw new Error(`topic ${this.name} has no partition leaders`);
    await Promise.all([...byNode].map(([node, partitions]) => this.fetchFrom(node, partitions)));
  }

  private async fetchFrom(node: number, partitions: fetchV17.FetchRequestPartition[]): Promise<void> {
    const asked = new Map(partitions.map((p) => [p.partition, Number(p.fetchOffset)]));
    let response: FetchResponse;
    try {
      response = await this.fetcher.fetch({
        node,
        topics: [{ topicId: this.topicId, partitions }],
        maxWaitTime: this.o.fetchMaxWaitMs ?? 500,
        minBytes: 1,
        maxBytes: 8 << 20,
        isolationLevel: this.isolation,
        connectionPool: this.fetchPool,
      });
    } catch (e) {
      if (this.state !== 'started') return;
      const partial = errorResponse<FetchResponse>(e, (r) => Array.isArray(r?.responses));
      if (!partial) throw e;
      response = partial;
    }
    if (this.state !== 'started') return;
    let stale = false;
    for (const topicResponse of response.responses) {
      for (const p of topicResponse.partitions) {
        const from = asked.get(p.partitionIndex);
        if (from === undefined || this.positions[p.partitionIndex] !== from) continue;
        if (p.errorCode === OFFSET_OUT_OF_RANGE) {
          const earliest = await this.listOffsets(ListOffsetTimestamps.EARLIEST);
          this.logger.warn({ topic: this.name, partition: p.partitionIndex, from, to: earliest[p.partitionIndex] }, 'offset out of range; reading from the earliest offset');
          this.positions[p.partitionIndex] = earliest[p.partitionIndex];
          continue;
        }
        if (p.errorCode !== 0) {
          stale = true;
          continue;
        }
        if (p.records) this.deliverBatches(p.partitionIndex, p.records, p.abortedTransactions);
      }
    }
    this.checkWaiters();
    if (stale) {
      this.reader.clearMetadata();
      await sleep(ERROR_BACKOFF_MS);
    }
  }

  private get isolation(): number {
    return this.o.readCommitted ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED;
  }

  private deliverBatches(partition: number, batches: RecordsBatch[], aborted: readonly AbortedTransaction[] = []): void {
    // read_committed: records of aborted transactions are skipped, but still move the position.
    const committed = this.o.readCommitted ? new Set(committedBatches(batches, aborted)) : undefined;
    for (const batch of batches) {
      const base = Number(batch.firstOffset);
      const next = base + batch.lastOffsetDelta + 1;
      if ((batch.attributes & IS_CONTROL) === 0 && (!committed || committed.has(batch))) {
        for (const r of batch.records) {
          const offset = base + r.offsetDelta;
          if (offset < this.positions[partition]) continue;
          this.positions[partition] = offset + 1;
          if (!r.key) {
            this.logger.warn({ topic: this.name, partition, offset }, 'ignoring a record without a key');
            continue;
          }
          const json = r.value === null || r.value === undefined ? null : r.value.toString('utf8');
          if (json !== null && !isJson(json)) {
            this.logger.warn({ topic: this.name, partition, offset }, 'ignoring a record whose value is not JSON');
            continue;
          }
          deliver(this.subscribers, r.key.toString('utf8'), json, { partition, offset }, this.logger, this.name);
        }
      }
      if (next > this.positions[partition]) this.positions[partition] = next;
    }
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
