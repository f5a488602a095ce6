/**
 * Source offsets over a CompactedLog, keyed and valued as Kafka Connect writes its offsets topic:
 *
 *   ["<connector>", {sourcePartition}]  ->  {sourceOffset}      null resets the partition
 *
 * Keys are compact JSON with every object's keys sorted, so one partition always maps to one key
 * whatever order its properties were built in. Records written by others (Kafka Connect's
 * JsonConverter keeps insertion order) are normalised the same way on read, so they land on the
 * same partition too.
 *
 * Concurrency: `set` may be called concurrently by many tasks; each call is one durable batch and
 * the log batches concurrent calls (group commit). As in Kafka Connect, the state is updated only
 * from records read back, and reads first `readToEnd`, so a read after a `set` resolved sees it.
 */
import type { JsonObject, JsonValue, Logger } from '../api/index.ts';
import type { CompactedLog, LogEntry, LogValue } from './compacted-log.ts';
import { defaultLogger } from './logging.ts';

export interface SourceOffset {
  partition: JsonObject;
  offset: JsonObject;
}

export interface SourceOffsetUpdate {
  partition: JsonObject;
  /** null resets (forgets) the partition. */
  offset: JsonObject | null;
}

function sortKeys(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]);
    return out;
  }
  return value;
}

/** JSON with every object's keys in sorted order, no whitespace. */
export function canonicalJson(value: JsonValue): string {
  return JSON.stringify(sortKeys(value));
}

/** The log key of one source partition of one connector. */
export function offsetKey(connector: string, partition: JsonObject): string {
  return canonicalJson([connector, partition]);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface OffsetStoreOptions {
  logger?: Logger;
}

export class OffsetStore {
  private readonly log: CompactedLog;
  private readonly logger: Logger;
  private readonly unsubscribe: () => void;
  /** connector -> canonical key -> the partition and its offset. */
  private readonly data = new Map<string, Map<string, SourceOffset>>();

  constructor(log: CompactedLog, options: OffsetStoreOptions = {}) {
    this.log = log;
    this.logger = options.logger ?? defaultLogger;
    this.unsubscribe = log.subscribe((key, value) => this.read(key, value));
  }

  async start(): Promise<void> {
    await this.log.start();
    await this.log.readToEnd();
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.log.close();
  }

  /** The committed offset of one partition, or null. */
  async get(connector: string, partition: JsonObject): Promise<JsonObject | null> {
    await this.log.readToEnd();
    const entry = this.data.get(connector)?.get(offsetKey(connector, partition));
    return entry ? structuredClone(entry.offset) : null;
  }

  /** Every partition of the connector with its offset. */
  async getAll(connector: string): Promise<SourceOffset[]> {
    await this.log.readToEnd();
    return [...(this.data.get(connector)?.values() ?? [])].map((e) => structuredClone(e));
  }

  /** Write these offsets (null resets a partition) as one durable batch. */
  async set(connector: string, entries: readonly SourceOffsetUpdate[]): Promise<void> {
    await this.log.appendAll(OffsetStore.entriesFor(connector, entries));
  }

  /** The log entries `set` appends: for a writer that puts them in a transaction of its own (exactly-once sources). */
  static entriesFor(connector: string, entries: readonly SourceOffsetUpdate[]): LogEntry[] {
    if (typeof connector !== 'string' || connector.length === 0) {
      throw new TypeError('a connector name must be a non-empty string');
    }
    return entries.map((e) => {
      if (!isObject(e.partition)) throw new TypeError(`a source partition must be a JSON object (connector ${connector})`);
      if (e.offset !== null && !isObject(e.offset)) {
        throw new TypeError(`a source offset must be a JSON object or null (connector ${connector})`);
      }
      return { key: offsetKey(connector, e.partition), value: e.offset };
    });
  }

  /** Forget every offset of the connector (KIP-875 DELETE /offsets). */
  async resetConnector(connector: string): Promise<void> {
    await this.log.readToEnd();
    const partitions = [...(this.data.get(connector)?.values() ?? [])];
    if (partitions.length === 0) return;
    await this.set(connector, partitions.map((p) => ({ partition: p.partition, offset: null })));
    await this.log.readToEnd();
  }

  /** Connectors with at least one committed offset. */
  async connectors(): Promise<string[]> {
    await this.log.readToEnd();
    return [...this.data.keys()];
  }

  private read(key: string, value: LogValue): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(key);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || !isObject(parsed[1])) {
      this.logger.warn({ key }, 'ignoring an offset record whose key is not ["<connector>", {partition}]');
      return;
    }
    const connector = parsed[0];
    const partition = parsed[1];
    const canonical = offsetKey(connector, partition);
    if (value === null) {
      const partitions = this.data.get(connector);
      partitions?.delete(canonical);
      if (partitions?.size === 0) this.data.delete(connector);
      return;
    }
    if (!isObject(value)) {
      this.logger.warn({ key }, 'ignoring an offset record whose value is not a JSON object');
      return;
    }
    let partitions = this.data.get(connector);
    if (!partitions) {
      partitions = new Map();
      this.data.set(connector, partitions);
    }
    partitions.set(canonical, { partition, offset: value });
  }
}
