import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { ConfigError, DataError, FatalError, RetriableError } from '../../runtime/api/index.ts';
import type { SinkOffsets, SinkRecord, SinkTask, SinkTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { STDOUT, fileSinkConfig } from './config.ts';

/** Past this many buffered characters, `put` writes them out (not synced) to bound memory. */
const SPILL_CHARS = 4 * 1024 * 1024;

/** Write errors that may go away by themselves: the runtime retries the same call after a backoff. */
const TRANSIENT = new Set(['ENOSPC', 'EDQUOT', 'EAGAIN', 'EINTR', 'EBUSY']);

/**
 * Appends one line per record value to a file. `put` serializes into memory; `flush` writes
 * everything in one call on one append-mode handle and fdatasyncs before it returns, so
 * "flushed" means durable. What was put but not flushed when the task stops is dropped; the
 * runtime delivers it again from the committed offsets.
 */
export class FileStreamSinkTask implements SinkTask {
  private context: SinkTaskContext | undefined;
  private path = '';
  private fh: FileHandle | null = null;
  private toStdout = false;
  private serialize: (value: unknown) => string = toJsonLine;
  private lines: string[] = [];
  private bufferedChars = 0;
  /** Serialized bytes not yet (fully) written: kept across a failed write so a retry neither loses nor repeats bytes. */
  private unwritten: Buffer | null = null;

  async start(config: TaskConfig, context: SinkTaskContext): Promise<void> {
    const cfg = fileSinkConfig.parse(config);
    this.context = context;
    this.path = cfg.file;
    this.serialize = cfg.format === 'text' ? toTextLine : toJsonLine;
    this.toStdout = cfg.file === STDOUT;
    if (!this.toStdout) this.fh = await openForAppend(cfg.file);
    context.logger.info({ file: this.toStdout ? 'stdout' : cfg.file, format: cfg.format }, 'file sink task started');
  }

  async put(records: SinkRecord[]): Promise<void> {
    for (const record of records) {
      let line: string;
      try {
        line = this.serialize(record.value);
      } catch (e) {
        const where = `${record.topic}-${record.kafkaPartition}@${record.kafkaOffset}`;
        await this.context!.reportError(record, new DataError(`Cannot write the value of record ${where} as a line: ${(e as Error).message}`, { cause: e }));
        continue;
      }
      this.lines.push(line);
      this.bufferedChars += line.length + 1;
    }
    if (this.bufferedChars >= SPILL_CHARS) await this.writeOut();
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
    this.lines = [];
    this.bufferedChars = 0;
    this.unwritten = null;
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
  }

  private async writeOut(): Promise<void> {
    if (this.lines.length > 0) {
      const chunk = Buffer.from(this.lines.join('\n') + '\n', 'utf8');
      this.unwritten = this.unwritten ? Buffer.concat([this.unwritten, chunk]) : chunk;
      this.lines = [];
      this.bufferedChars = 0;
    }
    while (this.unwritten && this.unwritten.length > 0) {
      const buf = this.unwritten;
      let written: number;
      try {
        written = this.toStdout ? await writeStdout(buf) : (await this.fhOrThrow().write(buf, 0, buf.length)).bytesWritten;
      } catch (e) {
        throw ioError(e, `Cannot write to ${this.toStdout ? 'standard output' : this.path}`);
      }
      this.unwritten = written >= buf.length ? null : buf.subarray(written);
    }
  }

  private fhOrThrow(): FileHandle {
    if (!this.fh) throw new FatalError('The file sink task is not started (or already stopped).');
    return this.fh;
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
