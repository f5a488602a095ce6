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
 */
import type { MessageToProduce, Producer } from '@platformatic/kafka';
import { DataError, FatalError, RetriableError } from '../../api/index.ts';
import type { Logger } from '../logging.ts';
import type { BusProducer, BusRecord, SendResult } from '../topic-bus.ts';
import { encodeHeaders, keyPartition, toBytes } from './codec.ts';
import { isRetriable, message } from './errors.ts';
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
 * A record as the client's message, with what the producer keeps beside it: its approximate size
 * and its send's batch. One object per queued record, handed to the client as it is (the client
 * reads only the message fields).
 */
export interface Entry extends Message {
  bytes: number;
  batch: SendBatch | undefined;
}

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

/**
 * A bus record as a Kafka message: its bytes, and its partition (explicit, else murmur2 of the
 * key as the Java client, else sticky). `count` is the topic's partition count.
 */
export function toMessage(r: BusRecord, count: number, sticky: StickyPartitioner, batch?: SendBatch): Entry {
  const key = r.keyBytes !== undefined ? r.keyBytes : toBytes(r.key);
  const value = r.valueBytes !== undefined ? r.valueBytes : toBytes(r.value);
  const headers = encodeHeaders(r.headers);
  const bytes = (key?.length ?? 0) + (value?.length ?? 0) + headers.bytes + RECORD_OVERHEAD;
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
  const timestamp = r.timestamp !== undefined && r.timestamp !== null ? BigInt(Math.trunc(r.timestamp)) : undefined;
  return { topic: r.topic, partition, key: key ?? undefined, value: value ?? undefined, headers: headers.map, timestamp, bytes, batch };
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

  constructor(options: { client: Producer; topics: TopicCatalog; limits: ProducerLimits; logger: Logger; onClose: () => void }) {
    this.client = options.client;
    this.topics = options.topics;
    this.limits = options.limits;
    this.logger = options.logger;
    this.onClose = options.onClose;
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
    return toMessage(r, this.topics.partitions(r.topic)!, this.sticky, batch);
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
        await Promise.race([this.client.send({ messages: request }), timeout]);
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

export function lookupError(topic: string, e: unknown): Error {
  const text = `Could not find or create topic ${topic}: ${message(e)}`;
  // The catalog's own errors (no leader yet, not visible yet) are transient; the client's say so.
  const fromClient = typeof (e as { findBy?: unknown } | null)?.findBy === 'function';
  return !fromClient || isRetriable(e) ? new RetriableError(text, { cause: e }) : new FatalError(text, { cause: e });
}
