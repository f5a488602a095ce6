/**
 * Object formats: JSON lines (optionally gzip), raw bytes, Parquet. A FileBuilder collects the
 * records of one object; `add` throws DataError for a record that does not fit (the sink sends it
 * to the dead-letter queue or fails, per errors.tolerance) and leaves the builder as it was.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { DataError } from '../../runtime/api/index.ts';
import type { Schema, SinkRecord } from '../../runtime/api/index.ts';
import { ParquetBuilder } from './parquet.ts';
import { where } from './partitioner.ts';

const gzip = promisify(gzipCb);

export interface FileBuilder {
  /** Add one record; throws DataError when it cannot be written in this format. */
  add(record: SinkRecord): void;
  /** Whether this record must start a new object (Parquet: its schema differs from the object's). */
  needsNewFile(record: SinkRecord): boolean;
  readonly count: number;
  /** Bytes so far, roughly (before compression). */
  readonly size: number;
  finish(): Promise<Buffer>;
}

export interface FormatOptions {
  format: 'json' | 'parquet' | 'bytes';
  compression: 'none' | 'gzip';
  compressionLevel: number;
  parquetCodec: 'snappy' | 'none';
  rowGroupSize: number;
  /** bytes format: name extension and what follows each value. */
  bytesExtension: string;
  bytesSeparator: Buffer;
}

export function extension(o: FormatOptions): string {
  if (o.format === 'parquet') return o.parquetCodec === 'snappy' ? '.snappy.parquet' : '.parquet';
  const base = o.format === 'json' ? '.json' : o.bytesExtension;
  return o.compression === 'gzip' ? `${base}.gz` : base;
}

export function contentType(o: FormatOptions): string {
  if (o.format === 'parquet') return 'application/vnd.apache.parquet';
  if (o.compression === 'gzip') return 'application/gzip';
  return o.format === 'json' ? 'application/x-ndjson' : 'application/octet-stream';
}

export function newBuilder(o: FormatOptions, first: SinkRecord): FileBuilder {
  if (o.format === 'parquet') return new ParquetBuilder(first.valueSchema, o.parquetCodec, o.rowGroupSize, first.value);
  return new LinesBuilder(o.format === 'json' ? jsonLine : bytesLine, o, o.format === 'json' ? NEWLINE : o.bytesSeparator);
}

/** The first chunk of an object's lines; each next one doubles, up to LAST_CHUNK. */
const FIRST_CHUNK = 64 * 1024;
const LAST_CHUNK = 4 * 1024 * 1024;

/**
 * Lines are written as they are added into chunks of memory outside the JavaScript heap, so a
 * line's string dies young instead of living (and being traced by the GC) until the object is
 * uploaded; finish() joins the chunks (no copy when there is one).
 */
class LinesBuilder implements FileBuilder {
  private full: Buffer[] = [];
  private fullBytes = 0;
  private cur: Buffer | undefined;
  private at = 0;
  private nextChunk = FIRST_CHUNK;
  count = 0;
  private readonly toLine: (r: SinkRecord) => string | Buffer;
  private readonly o: FormatOptions;
  private readonly separator: Buffer;

  constructor(toLine: (r: SinkRecord) => string | Buffer, o: FormatOptions, separator: Buffer) {
    this.toLine = toLine;
    this.o = o;
    this.separator = separator;
  }

  /** Exact bytes so far, separators included (before compression). */
  get size(): number {
    return this.fullBytes + this.at;
  }

  needsNewFile(): boolean {
    return false;
  }

  add(r: SinkRecord): void {
    const line = this.toLine(r);
    const sep = this.separator;
    let cur = this.cur;
    if (typeof line === 'string') {
      // A UTF-16 unit takes at most 3 bytes of UTF-8: measure the line only near a chunk's end.
      if (cur === undefined || cur.length - this.at < line.length * 3 + sep.length) {
        const need = Buffer.byteLength(line) + sep.length;
        if (cur === undefined || cur.length - this.at < need) cur = this.grow(need);
      }
      this.at += cur.write(line, this.at);
    } else {
      if (cur === undefined || cur.length - this.at < line.length + sep.length) cur = this.grow(line.length + sep.length);
      this.at += line.copy(cur, this.at);
    }
    if (sep.length === 1) cur[this.at++] = sep[0];
    else this.at += sep.copy(cur, this.at);
    this.count++;
  }

  private grow(need: number): Buffer {
    if (this.cur !== undefined && this.at > 0) {
      this.full.push(this.cur.subarray(0, this.at));
      this.fullBytes += this.at;
    }
    this.cur = Buffer.allocUnsafeSlow(Math.max(need, this.nextChunk));
    this.nextChunk = Math.min(LAST_CHUNK, this.nextChunk * 2);
    this.at = 0;
    return this.cur;
  }

  async finish(): Promise<Buffer> {
    const last = this.cur === undefined ? Buffer.alloc(0) : this.cur.subarray(0, this.at);
    const raw = this.full.length === 0 ? last : Buffer.concat([...this.full, last], this.size);
    this.full = [];
    this.fullBytes = 0;
    this.cur = undefined;
    this.at = 0;
    if (this.o.compression !== 'gzip') return raw;
    return gzip(raw, { level: this.o.compressionLevel });
  }
}

const NEWLINE = Buffer.from('\n');

/** The value as one line of JSON, as Confluent's JsonFormat writes it (schemaless): bytes as base64, Dates as epoch millis, bigints as numbers. */
export function jsonLine(r: SinkRecord): string | Buffer {
  // The JSON as read from Kafka (plain JsonConverter, no transforms): written as it is, which also
  // keeps integers past 2^53 exact. A value whose JSON spans lines is serialized again instead.
  const raw = r.valueJson;
  if (raw !== undefined && raw.indexOf(0x0a) === -1 && raw.indexOf(0x0d) === -1) return raw;
  const v = r.value;
  let fast: string | undefined;
  try {
    fast = JSON.stringify(v);
  } catch {
    // a bigint somewhere
  }
  if (fast !== undefined && !fast.includes('"type":"Buffer"') && !hasDate(v, r.valueSchema)) return fast;
  try {
    return JSON.stringify(v, replacer) ?? 'null';
  } catch (e) {
    throw new DataError(`Record ${where(r)} cannot be written as JSON: ${(e as Error).message}`, { cause: e });
  }
}

const schemaHasDates = new WeakMap<Schema, boolean>();

/** Dates come from logical types (Timestamp, Date, Time); JSON.stringify would write them as ISO strings. */
function hasDate(v: unknown, schema: Schema | undefined): boolean {
  if (schema === undefined || v === null || typeof v !== 'object') return v instanceof Date;
  let has = schemaHasDates.get(schema);
  if (has === undefined) {
    has = /org\.apache\.kafka\.connect\.data\.(Timestamp|Date|Time)"/.test(JSON.stringify(schema));
    schemaHasDates.set(schema, has);
  }
  return has;
}

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (typeof original === 'bigint') return Number.isSafeInteger(Number(original)) ? Number(original) : original.toString();
  if (original instanceof Date) return original.getTime();
  if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  return value;
}

function bytesLine(r: SinkRecord): string | Buffer {
  const v = r.value;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return v;
  throw new DataError(`Record ${where(r)}: format.class=bytes needs byte or string values (use value.converter=ByteArrayConverter); got ${v === null ? 'null' : typeof v}.`);
}
