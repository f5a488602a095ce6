/**
 * The one storage abstraction under the config, offset and status stores: a keyed, compacted log,
 * shaped like a Kafka compacted topic (Kafka Connect's `KafkaBasedLog`), so that a file, memory or
 * Kafka implementation can sit under the same stores.
 *
 * Contract:
 * - Keys are strings; values are JSON or `null` (a tombstone: the key is deleted).
 * - Subscribers see every record in log order: all records of one key in the order written; on a
 *   log with one partition (the config log) all records in the order written. A record appended
 *   by this process is delivered like any other, once it is durable, and before its `append`
 *   promise resolves on file and memory logs (a Kafka log delivers it when its consumer reads it,
 *   which may be after; use `readToEnd` to wait for it).
 * - `subscribe` before `start`: `start` replays everything already in the log to the subscribers,
 *   in order, then the log follows new records until `close`. Subscribing later sees only records
 *   delivered after that.
 * - Values delivered are fresh copies (parsed from the stored JSON); mutating them changes nothing.
 * - `append`/`appendAll` resolve only once the records are durable (file: written and fsynced;
 *   Kafka: acknowledged by all in-sync replicas). `appendAll` keeps the order of its entries; on a
 *   file log they are written in one write. Appends issued concurrently may be batched together.
 *   A rejected append may or may not have been stored (as with Kafka); callers that must know
 *   read back after `readToEnd`.
 * - `readToEnd` resolves once every record written before the call (by anyone, including this
 *   process's appends issued before the call) has been delivered to subscribers. A Kafka log
 *   waits for its in-flight sends, takes the end offsets, and waits for its consumer to reach them.
 * - `appendAll` is not a transaction: on a partitioned Kafka log its records may land in several
 *   partitions, each durable once the call resolves.
 * - Subscribers run synchronously during delivery and must not throw; a throw is logged and the
 *   log carries on.
 */
import type { JsonValue, Logger } from '../api/index.ts';
import { LogClosedError } from './errors.ts';
import { defaultLogger } from './logging.ts';

export type LogValue = JsonValue | null;

export interface LogEntry {
  key: string;
  /** null is a tombstone. */
  value: LogValue;
}

export interface RecordMeta {
  /** Kafka partition; 0 on file and memory logs. */
  partition: number;
  /**
   * Position of the record in its partition, growing with every record. Kafka and memory logs keep
   * a record's offset for its life; a file log numbers the records of the file from 0 each time it
   * is opened (so offsets there order records but do not survive a compaction and restart).
   */
  offset: number;
}

export type LogSubscriber = (key: string, value: LogValue, meta: RecordMeta) => void;

export interface CompactedLog {
  /** A name for messages: the file path, the topic name. */
  readonly name: string;
  /** Returns a function that unsubscribes. */
  subscribe(fn: LogSubscriber): () => void;
  /** Read everything already in the log (delivering it to subscribers), then follow. Call once. */
  start(): Promise<void>;
  append(key: string, value: LogValue): Promise<void>;
  appendAll(entries: readonly LogEntry[]): Promise<void>;
  readToEnd(): Promise<void>;
  /** Rewrite the log keeping only the latest value of each live key. Kafka compacts by itself. */
  compact?(): Promise<void>;
  /** Finish pending appends, then release resources. Later appends reject with LogClosedError. */
  close(): Promise<void>;
}

/** Validate and serialise one entry; throws TypeError on values JSON cannot represent. */
export function encodeEntry(entry: LogEntry): { key: string; json: string | null } {
  if (typeof entry.key !== 'string' || entry.key.length === 0) {
    throw new TypeError(`log keys must be non-empty strings, got ${JSON.stringify(entry.key)}`);
  }
  if (entry.value === null) return { key: entry.key, json: null };
  const json = JSON.stringify(entry.value);
  if (json === undefined) {
    throw new TypeError(`the value for key ${JSON.stringify(entry.key)} is not JSON`);
  }
  return { key: entry.key, json };
}

/** Call each subscriber, logging (never propagating) what one throws. */
export function deliver(
  subscribers: Iterable<LogSubscriber>,
  key: string,
  json: string | null,
  meta: RecordMeta,
  logger: Logger,
  logName: string,
): void {
  for (const fn of subscribers) {
    try {
      fn(key, json === null ? null : (JSON.parse(json) as JsonValue), meta);
    } catch (err) {
      logger.error({ err, log: logName, key }, 'a log subscriber threw; the record was skipped by it');
    }
  }
}

interface TopicRecord {
  offset: number;
  key: string;
  json: string | null;
}

/**
 * An in-memory "topic" that several MemoryCompactedLogs can share: two workers reading one config
 * topic, or the same store closed and opened again.
 */
export class MemoryTopic {
  readonly name: string;
  private records: TopicRecord[] = [];
  private nextOffset = 0;
  private readonly listeners = new Set<() => void>();

  constructor(name = 'memory') {
    this.name = name;
  }

  /** Offset the next record will get. */
  get end(): number {
    return this.nextOffset;
  }

  append(encoded: Array<{ key: string; json: string | null }>): void {
    for (const e of encoded) this.records.push({ offset: this.nextOffset++, key: e.key, json: e.json });
    for (const listener of this.listeners) listener();
  }

  /** Records with offset >= from, in order. */
  readFrom(from: number): TopicRecord[] {
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid].offset < from) lo = mid + 1;
      else hi = mid;
    }
    return this.records.slice(lo);
  }

  /** Kafka-style compaction: keep the latest record of each key, in offset order; drop tombstoned keys. */
  compact(): void {
    const latest = new Map<string, TopicRecord>();
    for (const r of this.records) latest.set(r.key, r);
    this.records = this.records.filter((r) => latest.get(r.key) === r && r.json !== null);
  }

  get size(): number {
    return this.records.length;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface MemoryCompactedLogOptions {
  /** Share a topic between logs; a fresh one by default. */
  topic?: MemoryTopic;
  /**
   * Deliver records on a later turn of the event loop, after `append` resolved, as a Kafka log
   * does. Off by default (delivery before `append` resolves, as a file log does).
   */
  asyncDelivery?: boolean;
  logger?: Logger;
}

/** A CompactedLog in memory, for tests of the logic above it. */
export class MemoryCompactedLog implements CompactedLog {
  readonly topic: MemoryTopic;
  private readonly asyncDelivery: boolean;
  private readonly logger: Logger;
  private readonly subscribers = new Set<LogSubscriber>();
  private position = 0;
  private state: 'new' | 'started' | 'closed' = 'new';
  private unfollow: (() => void) | undefined;
  private scheduled = false;
  private draining = false;
  private waiters: Array<{ target: number; resolve: () => void }> = [];

  constructor(options: MemoryCompactedLogOptions = {}) {
    this.topic = options.topic ?? new MemoryTopic();
    this.asyncDelivery = options.asyncDelivery ?? false;
    this.logger = options.logger ?? defaultLogger;
  }

  get name(): string {
    return this.topic.name;
  }

  subscribe(fn: LogSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`log ${this.name} was already started`);
    this.state = 'started';
    this.drain();
    this.unfollow = this.topic.onAppend(() => this.onTopicAppend());
  }

  async append(key: string, value: LogValue): Promise<void> {
    return this.appendAll([{ key, value }]);
  }

  async appendAll(entries: readonly LogEntry[]): Promise<void> {
    if (this.state === 'closed') throw new LogClosedError(this.name);
    if (this.state === 'new') throw new Error(`log ${this.name} is not started; call start() first`);
    const encoded = entries.map(encodeEntry);
    if (encoded.length > 0) this.topic.append(encoded);
  }

  readToEnd(): Promise<void> {
    const target = this.topic.end;
    if (this.position >= target || this.state !== 'started') return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }

  async compact(): Promise<void> {
    this.topic.compact();
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.unfollow?.();
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  private onTopicAppend(): void {
    if (!this.asyncDelivery) {
      this.drain();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.state === 'started') this.drain();
    });
  }

  private drain(): void {
    // A subscriber may append (sync delivery re-enters here); the running loop picks that up.
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const batch = this.topic.readFrom(this.position);
        if (batch.length === 0 || this.state === 'closed') break;
        for (const r of batch) {
          this.position = r.offset + 1;
          deliver(this.subscribers, r.key, r.json, { partition: 0, offset: r.offset }, this.logger, this.name);
        }
      }
      this.position = Math.max(this.position, this.topic.end);
    } finally {
      this.draining = false;
    }
    if (this.waiters.length > 0) {
      const still: typeof this.waiters = [];
      for (const w of this.waiters) {
        if (this.position >= w.target) w.resolve();
        else still.push(w);
      }
      this.waiters = still;
    }
  }
}
