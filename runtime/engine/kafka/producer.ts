/**
 * A pipelined, idempotent producer behind `BusProducer`.
 *
 * `send` partitions and queues the records and returns as soon as they are queued; `durable`
 * resolves when the broker acknowledged every one of them (acks=all). One produce request is in
 * flight at a time (the client's idempotent sequence numbers are only correct that way); while it
 * is out, later sends queue up and go together in the next request, so batches grow with load.
 * Queued plus in-flight records are bounded in bytes and count: beyond that `send` waits (the
 * caller's backpressure) until acknowledgements make room, or its signal aborts.
 *
 * When the broker rejects a request, or it is not acknowledged within `deliveryTimeoutMs` (the
 * client retrying meanwhile), the producer is failed: that request's and every queued record's
 * `durable` rejects, and later sends throw. Reusing the
 * producer id after an unknown outcome could make the broker drop new records as duplicates, so a
 * failed producer is replaced, not retried (Kafka Connect fails the task the same way).
 *
 * Partitioning is done here, as the Java client does it: an explicit `kafkaPartition`, else
 * murmur2 of the key bytes, else a partition kept for ~64 KB of keyless records at a time.
 *
 * Requests are encoded here too (record-batch.ts: one RecordBatch v2 per partition, written into a
 * reused arena) and sent on the client's connections, with the client's metadata (leaders),
 * connection pool, ApiVersions and InitProducerId: the client's own path builds writers, Maps and
 * a message object per record and copies every request twice, which cost about a quarter of the
 * worker's event loop on a CDC stream. The producer id and epoch are the client's (InitProducerId
 * once); the per-partition sequence numbers are ours and advance only when the broker acknowledged
 * the partition's batch. A retriable error (NOT_LEADER_OR_FOLLOWER, a lost connection, ...) resends
 * the unacknowledged batches as they were, same sequence numbers (so the broker drops what it
 * already has), to the leaders of fresh metadata, until `deliveryTimeoutMs`. With compression
 * configured the client's path is used instead.
 */
import {
  kGetApi, kGetConnection, kMetadata, NetworkError, ProtocolError, produceV7, produceV8, produceV9, Writer,
} from '@platformatic/kafka';
import type { Broker, ClusterMetadata, Connection, MessageToProduce, Producer } from '@platformatic/kafka';
import type { Header } from '../../api/index.ts';
import { DataError, FatalError, RetriableError } from '../../api/index.ts';
import type { Logger } from '../logging.ts';
import type { BusProducer, BusRecord, SendResult } from '../topic-bus.ts';
import { encodeHeaders, keyPartition, toBytes } from './codec.ts';
import { isRetriable, message } from './errors.ts';
import { nextSequence, produceRequestBody, RecordBatchEncoder } from './record-batch.ts';
import type { BatchRecord, PartitionBatch } from './record-batch.ts';
import type { TopicCatalog } from './topics.ts';

export interface ProducerLimits {
  /** Bytes queued or in flight before `send` waits. */
  maxInFlightBytes: number;
  /** Records queued or in flight before `send` waits. */
  maxInFlightRecords: number;
  /** Bytes of one partition in one request; keep under the broker's `message.max.bytes` (1 MiB by default). */
  maxBatchBytes: number;
  /** Bytes of one produce request. */
  maxRequestBytes: number;
  /** How long `close` waits for queued records to be acknowledged. */
  closeTimeoutMs: number;
  /** How long one request may take, retries included, before the producer fails (Java's `delivery.timeout.ms`). */
  deliveryTimeoutMs: number;
}

export type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/** The records of one `send` call, acknowledged when the last of them is. */
interface SendBatch {
  remaining: number;
  resolve(): void;
  reject(e: Error): void;
}

/**
 * A queued record: its bytes as the encoder reads them (the record's own header array, encoded
 * when its request is), its partition, its approximate size and its send's batch. One object per
 * queued record.
 */
export interface Entry extends BatchRecord {
  topic: string;
  partition: number;
  bytes: number;
  batch: SendBatch | undefined;
}

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Produce response parsers by request version: 7 to 9, the versions we send (see `produce`). */
const PRODUCE_PARSERS: Record<number, typeof produceV9.parseResponse> = {
  7: produceV7.parseResponse,
  8: produceV8.parseResponse,
  9: produceV9.parseResponse,
};
const ACKS_ALL = -1;
type ProduceResponse = ReturnType<typeof produceV9.parseResponse>;

/** Approximate per-record framing (lengths, deltas, attributes) on top of key, value and headers. */
const RECORD_OVERHEAD = 24;
const STICKY_BYTES = 64 * 1024;

/**
 * Keyless records go to one partition for ~64 KB at a time, then the next (the Java client's
 * sticky partitioner): big batches without a hot partition.
 */
export class StickyPartitioner {
  private readonly current = new Map<string, { partition: number; bytes: number }>();
  private counter = Math.floor(Math.random() * 1024);

  partition(topic: string, count: number, bytes: number): number {
    let s = this.current.get(topic);
    if (!s || s.bytes >= STICKY_BYTES || s.partition >= count) {
      s = { partition: this.counter++ % count, bytes: 0 };
      this.current.set(topic, s);
    }
    s.bytes += bytes;
    return s.partition;
  }
}

function headersBytes(headers: Header[] | undefined): number {
  if (headers === undefined) return 0;
  let bytes = 0;
  for (const h of headers) {
    const v = h.value;
    bytes += h.key.length + 4 + (v === null || v === undefined ? 0 : typeof v === 'string' ? v.length : v instanceof Uint8Array ? v.length : 16);
  }
  return bytes;
}

/**
 * A bus record as a queued entry: its bytes, and its partition (explicit, else murmur2 of the
 * key as the Java client, else sticky). `count` is the topic's partition count.
 */
export function toEntry(r: BusRecord, count: number, sticky: StickyPartitioner, batch?: SendBatch): Entry {
  const key = r.keyBytes !== undefined ? r.keyBytes : toBytes(r.key);
  const value = r.valueBytes !== undefined ? r.valueBytes : toBytes(r.value);
  const headers = r.headers !== undefined && r.headers.length > 0 ? r.headers : undefined;
  const bytes = (key?.length ?? 0) + (value?.length ?? 0) + headersBytes(headers) + RECORD_OVERHEAD;
  let partition: number;
  if (r.kafkaPartition !== undefined && r.kafkaPartition !== null) {
    if (!Number.isInteger(r.kafkaPartition) || r.kafkaPartition < 0) {
      throw new DataError(`Partition ${r.kafkaPartition} is not a valid partition number (topic ${r.topic}).`);
    }
    if (r.kafkaPartition >= count) {
      throw new DataError(`Partition ${r.kafkaPartition} does not exist for topic ${r.topic} (it has ${count}).`);
    }
    partition = r.kafkaPartition;
  } else if (key) {
    partition = keyPartition(key, count);
  } else {
    partition = sticky.partition(r.topic, count, bytes);
  }
  let timestamp: number | undefined;
  if (r.timestamp !== undefined && r.timestamp !== null) {
    timestamp = Math.trunc(r.timestamp);
    if (!Number.isSafeInteger(timestamp)) throw new DataError(`Timestamp ${r.timestamp} is not a valid time in milliseconds (topic ${r.topic}).`);
  }
  return { topic: r.topic, partition, key: key ?? null, value: value ?? null, headers, timestamp, bytes, batch };
}

/** An entry as the client's message (its own path: transactions, compression). */
export function toClientMessage(e: Entry): Message {
  return {
    topic: e.topic,
    partition: e.partition,
    key: e.key ?? undefined,
    value: e.value ?? undefined,
    headers: encodeHeaders(e.headers).map,
    timestamp: e.timestamp !== undefined ? BigInt(e.timestamp) : undefined,
  };
}

/** A bus record as the client's message, partitioned as `toEntry` does. */
export function toMessage(r: BusRecord, count: number, sticky: StickyPartitioner): Message {
  return toClientMessage(toEntry(r, count, sticky));
}

/** The outcome of one Produce request to one broker: the batches it acknowledged, and the others with why. */
interface Delivery {
  done: PartitionBatch[];
  failed: PartitionBatch[];
  error: unknown;
}

export class KafkaBusProducer implements BusProducer {
  private readonly client: Producer;
  private readonly topics: TopicCatalog;
  private readonly limits: ProducerLimits;
  private readonly logger: Logger;
  private readonly onClose: () => void;
  private queue: Entry[] = [];
  private head = 0;
  private inFlightBytes = 0;
  private inFlightRecords = 0;
  private sending: Promise<void> | null = null;
  private failure: Error | null = null;
  private closed = false;
  private roomWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private readonly sticky = new StickyPartitioner();
  private readonly compression: Compression;
  private readonly ackTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly encoder = new RecordBatchEncoder();
  /** The next sequence number of every partition produced to, by topic. */
  private readonly sequences = new Map<string, number[]>();
  private identity: { producerId: bigint; producerEpoch: number } | undefined;
  private produceApi: { version: number; parse: typeof produceV9.parseResponse } | undefined;

  constructor(options: {
    client: Producer;
    topics: TopicCatalog;
    limits: ProducerLimits;
    logger: Logger;
    onClose: () => void;
    /** Non-'none' sends through the client's own path. Default 'none'. */
    compression?: Compression;
    /** The broker's wait for acks=all (the request's timeout_ms). Default 30 s. */
    ackTimeoutMs?: number;
    /** The pause before a retriable failure is retried. Default 250 ms. */
    retryDelayMs?: number;
  }) {
    this.client = options.client;
    this.topics = options.topics;
    this.limits = options.limits;
    this.logger = options.logger;
    this.onClose = options.onClose;
    this.compression = options.compression ?? 'none';
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.retryDelayMs = options.retryDelayMs ?? 250;
  }

  async send(records: BusRecord[], signal?: AbortSignal): Promise<SendResult> {
    this.check();
    if (records.length === 0) return { durable: Promise.resolve() };
    for (const r of records) {
      const count = this.topics.partitions(r.topic) ?? (await this.ensureTopic(r.topic));
      // Partitions may have been added since the count was cached.
      if (typeof r.kafkaPartition === 'number' && r.kafkaPartition >= count) {
        await this.topics.refresh(r.topic).catch((e: unknown) => {
          throw lookupError(r.topic, e);
        });
      }
    }
    const entries: Entry[] = new Array(records.length);
    const batch: SendBatch = { remaining: records.length, resolve: () => {}, reject: () => {} };
    const durable = new Promise<void>((resolve, reject) => {
      batch.resolve = resolve;
      batch.reject = reject;
    });
    // The caller may drop `durable` after a failure elsewhere; never let it crash the process.
    durable.catch(() => {});
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const entry = this.entry(records[i], batch);
      entries[i] = entry;
      bytes += entry.bytes;
    }
    await this.waitForRoom(bytes, entries.length, signal);
    this.check();
    for (const e of entries) this.queue.push(e);
    this.inFlightBytes += bytes;
    this.inFlightRecords += entries.length;
    this.pump();
    return { durable };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sending || this.head < this.queue.length) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.limits.closeTimeoutMs);
      });
      await Promise.race([idle, timeout]);
      clearTimeout(timer);
      if (this.sending || this.head < this.queue.length) {
        this.fail(new FatalError(`Producer closed with records not acknowledged after ${this.limits.closeTimeoutMs} ms.`), []);
      }
    }
    this.wake(this.roomWaiters);
    this.onClose();
    await this.client.close(true);
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new FatalError('Producer is closed.');
  }

  private async ensureTopic(topic: string): Promise<number> {
    try {
      return await this.topics.ensure(topic);
    } catch (e) {
      throw lookupError(topic, e);
    }
  }

  private entry(r: BusRecord, batch: SendBatch): Entry {
    return toEntry(r, this.topics.partitions(r.topic)!, this.sticky, batch);
  }

  private async waitForRoom(bytes: number, records: number, signal: AbortSignal | undefined): Promise<void> {
    const fits = () =>
      this.inFlightRecords === 0 ||
      (this.inFlightBytes + bytes <= this.limits.maxInFlightBytes && this.inFlightRecords + records <= this.limits.maxInFlightRecords);
    while (!fits()) {
      this.check();
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.roomWaiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  private pump(): void {
    if (this.sending || this.failure) return;
    this.sending = this.drain().finally(() => {
      this.sending = null;
      if (this.head < this.queue.length && !this.failure) this.pump();
      else this.wake(this.idleWaiters);
    });
  }

  private async drain(): Promise<void> {
    while (this.head < this.queue.length && !this.failure) {
      const request = this.take();
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`not acknowledged within ${this.limits.deliveryTimeoutMs} ms`)),
            this.limits.deliveryTimeoutMs,
          );
        });
        await Promise.race([this.produce(request), timeout]);
      } catch (e) {
        this.logger.error({ err: message(e), records: request.length }, 'produce failed; the producer is failed');
        this.fail(new FatalError(`Producing to Kafka failed: ${message(e)}`, { cause: e }), request);
        // Stops the client's own retries of the request.
        this.client.close(true, () => {});
        return;
      } finally {
        clearTimeout(timer);
      }
      let bytes = 0;
      for (const e of request) {
        bytes += e.bytes;
        if (--e.batch!.remaining === 0) e.batch!.resolve();
      }
      this.inFlightBytes -= bytes;
      this.inFlightRecords -= request.length;
      this.wake(this.roomWaiters);
    }
  }

  /** Sends one request's entries and resolves once the broker acknowledged all of them. */
  private async produce(request: Entry[]): Promise<void> {
    if (this.compression !== 'none') {
      await this.client.send({ messages: request.map(toClientMessage) });
      return;
    }
    if (this.identity === undefined) {
      const info = await this.client.initIdempotentProducer({});
      this.identity = { producerId: info.producerId, producerEpoch: info.producerEpoch };
    }
    if (this.produceApi === undefined) {
      const api = await new Promise<{ version: number }>((resolve, reject) =>
        this.client[kGetApi]('Produce', (e, a) => (e ? reject(e) : resolve(a as { version: number }))),
      );
      // At most v9: the client's parsers of v10 and v11 responses misread a partition error that
      // carries the current leader (a tagged field of v10+, KIP-951), e.g. NOT_LEADER_OR_FOLLOWER.
      const version = Math.min(api.version, 9);
      const parse = PRODUCE_PARSERS[version];
      if (parse === undefined) throw new Error(`Produce v${api.version} is not supported.`);
      this.produceApi = { version, parse };
    }
    await this.deliver(this.encode(request));
  }

  /** One batch per partition, in the order the partitions first appear, numbered from their next sequence. */
  private encode(request: Entry[]): PartitionBatch[] {
    const byPartition = new Map<string, Entry[][]>();
    const order: Entry[][] = [];
    for (const e of request) {
      let topic = byPartition.get(e.topic);
      if (topic === undefined) byPartition.set(e.topic, (topic = []));
      let list = topic[e.partition];
      if (list === undefined) order.push((list = topic[e.partition] = []));
      list.push(e);
    }
    this.encoder.reset();
    const now = Date.now();
    const id = this.identity!;
    const batches: PartitionBatch[] = new Array(order.length);
    for (let i = 0; i < order.length; i++) {
      const list = order[i];
      const { topic, partition } = list[0];
      const baseSequence = this.sequences.get(topic)?.[partition] ?? 0;
      const bytes = this.encoder.encode(list, 0, list.length, { producerId: id.producerId, producerEpoch: id.producerEpoch, baseSequence }, now);
      batches[i] = { topic, partition, bytes, count: list.length, baseSequence };
    }
    return batches;
  }

  /**
   * Sends the batches to their partitions' leaders (one request per broker, concurrently) until
   * every one is acknowledged; retriable failures are sent again, unchanged, after a pause and a
   * metadata refresh. Throws the first error that is not retriable.
   */
  private async deliver(batches: PartitionBatch[]): Promise<void> {
    let pending = batches;
    for (let attempt = 0; ; attempt++) {
      const topics = [...new Set(pending.map((b) => b.topic))];
      // The client's metadata (cached; refreshed on a retry), without the public method's option validation.
      const md = await new Promise<ClusterMetadata>((resolve, reject) =>
        this.client[kMetadata]({ topics, forceUpdate: attempt > 0 }, (e, m) => (e ? reject(e) : resolve(m!))),
      );
      const byLeader = new Map<number, PartitionBatch[]>();
      const failed: PartitionBatch[] = [];
      let error: unknown;
      for (const b of pending) {
        const leader = md.topics.get(b.topic)?.partitions[b.partition]?.leader;
        const broker = leader === undefined ? undefined : md.brokers.get(leader);
        if (broker === undefined) {
          failed.push(b);
          error ??= new ProtocolError('LEADER_NOT_AVAILABLE', `no leader known for ${b.topic}-${b.partition}`);
          continue;
        }
        let list = byLeader.get(leader!);
        if (list === undefined) byLeader.set(leader!, (list = []));
        list.push(b);
      }
      const deliveries = await Promise.all([...byLeader].map(([leader, list]) => this.sendTo(md.brokers.get(leader)!, list)));
      for (const d of deliveries) {
        for (const b of d.done) this.advance(b);
        if (d.failed.length > 0) {
          failed.push(...d.failed);
          // A failure that cannot be retried is the one to report.
          if (error === undefined || (retriable(error) && !retriable(d.error))) error = d.error;
        }
      }
      if (failed.length === 0) return;
      if (!retriable(error) || this.failure || this.client.closed) throw error;
      this.logger.debug({ err: message(error), partitions: failed.length, attempt }, 'produce failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs));
      if (this.failure || this.client.closed) throw error;
      pending = failed;
    }
  }

  private advance(b: PartitionBatch): void {
    let topic = this.sequences.get(b.topic);
    if (topic === undefined) this.sequences.set(b.topic, (topic = []));
    topic[b.partition] = nextSequence(b.baseSequence, b.count);
  }

  /** One Produce request for `batches` (all led by `broker`) on the client's connection to it. */
  private sendTo(broker: Broker, batches: PartitionBatch[]): Promise<Delivery> {
    const { version, parse } = this.produceApi!;
    return new Promise<Delivery>((resolve) => {
      this.client[kGetConnection](broker, (e: Error | null | undefined, connection: Connection | undefined) => {
        if (e || !connection) {
          resolve({ done: [], failed: batches, error: e });
          return;
        }
        const payload = () => {
          const w = Writer.create();
          for (const chunk of produceRequestBody(batches, ACKS_ALL, this.ackTimeoutMs, version)) w.append(chunk);
          return w;
        };
        const flexible = version >= 9;
        connection.send(0, version, payload, parse, flexible, flexible, (err: Error | null | undefined, ok: ProduceResponse | undefined) => {
          // A response with partition errors arrives as the parser's error carrying the response.
          const response = ok ?? (err as { response?: ProduceResponse } | null | undefined)?.response;
          if (response === undefined) {
            resolve({ done: [], failed: batches, error: err ?? new NetworkError('Produce request failed without a response.') });
            return;
          }
          const codes = new Map<string, number>();
          for (const t of response.responses) for (const p of t.partitionResponses) codes.set(`${p.index}:${t.name}`, p.errorCode);
          const done: PartitionBatch[] = [];
          const failed: PartitionBatch[] = [];
          for (const b of batches) {
            if (codes.get(`${b.partition}:${b.topic}`) === 0) done.push(b);
            else failed.push(b);
          }
          resolve({ done, failed, error: failed.length === 0 ? undefined : (err ?? new NetworkError('The broker left partitions out of its Produce response.')) });
        });
      });
    });
  }

  /**
   * The next request: queued entries in order, until a partition or the request would be too big.
   * A request takes at most half the in-flight budget, so the next one fills while it is under way.
   */
  private take(): Entry[] {
    const perPartition = new Map<string, number[]>();
    const maxRequest = Math.min(this.limits.maxRequestBytes, Math.max(this.limits.maxBatchBytes, this.limits.maxInFlightBytes / 2));
    let total = 0;
    let i = this.head;
    for (; i < this.queue.length; i++) {
      const e = this.queue[i];
      const { topic, partition } = e;
      let sizes = perPartition.get(topic);
      if (sizes === undefined) perPartition.set(topic, (sizes = []));
      const p = sizes[partition!] ?? 0;
      if (i > this.head && (p + e.bytes > this.limits.maxBatchBytes || total + e.bytes > maxRequest)) break;
      sizes[partition!] = p + e.bytes;
      total += e.bytes;
    }
    const request = this.queue.slice(this.head, i);
    this.head = i;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      // Drop the taken entries' slots: under a steady backlog the queue never empties, and they
      // would keep acknowledged records (their buffers) alive.
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return request;
  }

  private fail(error: Error, request: Entry[]): void {
    this.failure ??= error;
    const rejected = new Set<SendBatch>();
    for (const e of request) rejected.add(e.batch!);
    for (let i = this.head; i < this.queue.length; i++) rejected.add(this.queue[i].batch!);
    for (const b of rejected) b.reject(this.failure);
    this.queue = [];
    this.head = 0;
    this.inFlightBytes = 0;
    this.inFlightRecords = 0;
    this.wake(this.roomWaiters);
    this.wake(this.idleWaiters);
  }

  private wake(list: Array<() => void>): void {
    for (const w of list.splice(0)) w();
  }
}

/**
 * Whether a failed request is sent again: as the client decides for its own requests, unless an
 * error in the chain says it cannot be retried (an unreadable response too: its outcome is unknown,
 * and the same batches with the same sequence numbers are safe to send again).
 */
function retriable(error: unknown): boolean {
  if (error === null || error === undefined) return false;
  return typeof (error as { findBy?: unknown }).findBy !== 'function' || isRetriable(error);
}

export function lookupError(topic: string, e: unknown): Error {
  const text = `Could not find or create topic ${topic}: ${message(e)}`;
  // The catalog's own errors (no leader yet, not visible yet) are transient; the client's say so.
  const fromClient = typeof (e as { findBy?: unknown } | null)?.findBy === 'function';
  return !fromClient || isRetriable(e) ? new RetriableError(text, { cause: e }) : new FatalError(text, { cause: e });
}
