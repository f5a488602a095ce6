import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ConfigError, DataError, FatalError, RetriableError } from '../../runtime/api/index.ts';
import type { SinkOffsets, SinkRecord, SinkTask, SinkTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { STDOUT, fileSinkConfig } from './config.ts';

/** Past this many buffered bytes, `put` writes them out (not synced) to bound memory. */
const SPILL_BYTES = 4 * 1024 * 1024;
/** The line buffer's first size; it doubles as needed and is kept between flushes. */
const INITIAL_BYTES = 64 * 1024;

/** Write errors that may go away by themselves: the runtime retries the same call after a backoff. */
const TRANSIENT = new Set(['ENOSPC', 'EDQUOT', 'EAGAIN', 'EINTR', 'EBUSY']);

/**
 * Appends one line per record value to a file. `put` encodes each line straight into one byte
 * buffer kept for the task's life; `flush` writes it in one call on one append-mode handle and
 * fdatasyncs before it returns, so "flushed" means durable. What was put but not flushed when the
 * task stops is dropped; the runtime delivers it again from the committed offsets.
 *
 * Why one reused buffer: joining a flush's lines into a string and copying that into a fresh
 * Buffer cost ~3 µs a record here (large fresh allocations, encoded twice); writing each line
 * into a buffer that is already there costs ~0.1 µs.
 */
export class FileStreamSinkTask implements SinkTask {
  private context: SinkTaskContext | undefined;
  private path = '';
  private fh: FileHandle | null = null;
  private toStdout = false;
  private json = true;
  private serialize: (value: unknown) => string = toJsonLine;
  private readonly out = new LineBuffer(INITIAL_BYTES);

  async start(config: TaskConfig, context: SinkTaskContext): Promise<void> {
    const cfg = fileSinkConfig.parse(config);
    this.context = context;
    this.path = cfg.file;
    this.json = cfg.format === 'json';
    this.serialize = this.json ? toJsonLine : toTextLine;
    this.toStdout = cfg.file === STDOUT;
    if (!this.toStdout) this.fh = await openForAppend(cfg.file);
    context.logger.info({ file: this.toStdout ? 'stdout' : cfg.file, format: cfg.format }, 'file sink task started');
  }

  async put(records: SinkRecord[]): Promise<void> {
    for (const record of records) {
      // The JSON as read from Kafka (plain JsonConverter, no transforms) is the line as it is,
      // unless it spans lines.
      const raw = this.json ? record.valueJson : undefined;
      if (raw !== undefined && raw.length > 0 && raw.indexOf(0x0a) === -1 && raw.indexOf(0x0d) === -1) {
        this.out.appendLine(raw);
        continue;
      }
      let line: string;
      try {
        line = this.serialize(record.value);
      } catch (e) {
        const where = `${record.topic}-${record.kafkaPartition}@${record.kafkaOffset}`;
        await this.context!.reportError(record, new DataError(`Cannot write the value of record ${where} as a line: ${(e as Error).message}`, { cause: e }));
        continue;
      }
      this.out.appendLine(line);
    }
    if (this.out.pending >= SPILL_BYTES) await this.writeOut();
  }

  async flush(_offsets: SinkOffsets): Promise<void> {
    await this.writeOut();
    if (this.fh) {
      try {
        await this.fh.datasync();
      } catch (e) {
        throw ioError(e, `Cannot sync ${this.path}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.out.clear();
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
  }

  /**
   * Writes what is buffered. A failed or short write leaves the unwritten bytes in place, so a
   * retry neither loses nor repeats bytes. Nothing appends while a write is in flight: the runtime
   * never runs put and flush concurrently, and both await this.
   */
  private async writeOut(): Promise<void> {
    for (let buf = this.out.unwritten(); buf.length > 0; buf = this.out.unwritten()) {
      let written: number;
      try {
        written = this.toStdout ? await writeStdout(buf) : (await this.fhOrThrow().write(buf, 0, buf.length)).bytesWritten;
      } catch (e) {
        throw ioError(e, `Cannot write to ${this.toStdout ? 'standard output' : this.path}`);
      }
      this.out.consumed(written);
    }
  }

  private fhOrThrow(): FileHandle {
    if (!this.fh) throw new FatalError('The file sink task is not started (or already stopped).');
    return this.fh;
  }
}

/**
 * Lines encoded into one growable byte buffer, written out from `start` to `end`. Reused after it
 * is written out; it shrinks again when a burst made it much larger than what it usually holds.
 */
export class LineBuffer {
  private buf: Buffer;
  private start = 0;
  private end = 0;
  private readonly initial: number;

  constructor(initialBytes: number) {
    this.initial = initialBytes;
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes appended and not yet written out. */
  get pending(): number {
    return this.end - this.start;
  }

  appendLine(line: string | Uint8Array): void {
    if (typeof line === 'string') {
      // UTF-8 takes at most 3 bytes per UTF-16 unit; count exactly only when that may not fit.
      if (this.end + 3 * line.length + 1 > this.buf.length) this.reserve(Buffer.byteLength(line) + 1);
      this.end += this.buf.write(line, this.end);
    } else {
      if (this.end + line.length + 1 > this.buf.length) this.reserve(line.length + 1);
      this.buf.set(line, this.end);
      this.end += line.length;
    }
    this.buf[this.end++] = 0x0a;
  }

  /** The bytes still to write: a view that stays valid until the next append. */
  unwritten(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  consumed(n: number): void {
    this.start += n;
    if (this.start < this.end) return;
    const used = this.end;
    this.start = 0;
    this.end = 0;
    if (this.buf.length > this.initial && used < this.buf.length / 4) this.buf = Buffer.allocUnsafe(Math.max(this.initial, this.buf.length / 2));
  }

  clear(): void {
    this.start = 0;
    this.end = 0;
  }

  private reserve(bytes: number): void {
    if (this.end + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.end - this.start + bytes) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    this.buf = next;
  }
}

async function openForAppend(path: string): Promise<FileHandle> {
  try {
    await dropTornLastLine(path);
    return await open(path, 'a');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      const message = `Cannot open ${path} for appending (${code}): ${(e as Error).message}. Give a path in an existing, writable folder.`;
      throw new ConfigError(message, [{ name: 'file', message }], { cause: e });
    }
    throw ioError(e, `Cannot open ${path}`);
  }
}

/**
 * A crash in the middle of a write can leave half a line at the end of the file. Its record was
 * never committed, so it will be delivered again; cut the fragment off so that the re-delivered
 * line does not get glued to it.
 */
async function dropTornLastLine(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch {
    return;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    for (;;) {
      const start = Math.max(0, end - tail.length);
      const { bytesRead } = await fh.read(tail, 0, end - start, start);
      if (end === size && tail[bytesRead - 1] === 0x0a) return;
      const nl = tail.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) {
        await fh.truncate(start + nl + 1);
        break;
      }
      if (start === 0) {
        await fh.truncate(0);
        break;
      }
      end = start;
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function writeStdout(buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    process.stdout.write(buf, (err) => (err ? reject(err) : resolve(buf.length)));
  });
}

function ioError(e: unknown, what: string): Error {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const message = `${what}: ${(e as Error).message}`;
  return TRANSIENT.has(code) ? new RetriableError(`${message}. Will retry; free some space if the disk is full.`, { cause: e }) : new FatalError(message, { cause: e });
}

/** JSON.stringify, with bytes as base64 strings (not `{"type":"Buffer",...}`) and bigints as numbers (or strings past 2^53). */
export function toJsonLine(value: unknown): string {
  // A replacer function takes V8 off its fast JSON path (it was a third of the pipeline's CPU), so
  // try without one and fall back only when the value holds bytes or bigints.
  let fast: string | undefined;
  try {
    fast = JSON.stringify(value);
  } catch {
    // a bigint somewhere
  }
  if (fast !== undefined && !fast.includes('"type":"Buffer"')) return fast;
  return JSON.stringify(value, jsonReplacer) ?? 'null';
}

function jsonReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value !== null && typeof value === 'object') {
    const original = this[key];
    if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  }
  return value;
}

/** Kafka Connect's FileStreamSink writes String.valueOf(value); here objects become JSON rather than a class name. */
export function toTextLine(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return toJsonLine(value);
  return String(value);
}
