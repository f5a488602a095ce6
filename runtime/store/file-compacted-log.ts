/**
 * A CompactedLog in one append-only file: the standalone worker's configs.log, offsets.log and
 * status.log.
 *
 * File format, one record per line (JSON escapes newlines, so a line never contains one):
 *
 *     <crc32 of the rest, 8 lowercase hex digits> <space> ["<key>", <value JSON or null>] \n
 *
 * Crash safety:
 * - Appends are written at the end and fsynced (fdatasync) before their promise resolves. Appends
 *   that arrive while a write is in flight wait and then go out together in one write and one
 *   fsync (group commit), so many small offset commits cost one fsync per batch, not each.
 * - On open, a bad tail (a partial last line, or bad lines with no valid line after them) is what
 *   a crash during a write leaves: it is logged as a warning and truncated away. None of it had
 *   been acknowledged. A bad line with valid lines after it is corruption: start() throws a
 *   CorruptLogError naming the file and line, and the file is left as it is.
 * - Compaction writes the latest line of each live key (in the order they were last written, as
 *   Kafka's compaction keeps offsets in order) to `<file>.compact`, fsyncs it, renames it over the
 *   file and fsyncs the directory. A crash at any point leaves either the old or the new file,
 *   both whole; a leftover `.compact` file is deleted on the next open.
 *
 * One process at a time: the state directory lock (state-dir-lock.ts) keeps other processes
 * out, and opening the same file twice in one process throws.
 */
import { constants } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { JsonValue, Logger } from '../api/index.ts';
import type { CompactedLog, LogEntry, LogSubscriber, LogValue } from './compacted-log.ts';
import { encodeEntry } from './compacted-log.ts';
import { CorruptLogError, LogClosedError } from './errors.ts';
import { defaultLogger } from './logging.ts';

export interface FileCompactedLogOptions {
  logger?: Logger;
  /** Compact once dead bytes exceed live bytes times this factor... (default 1) */
  compactionRatio?: number;
  /** ...and are at least this many bytes (default 4 MiB). */
  compactionMinBytes?: number;
  /** Read the file in chunks of this size on start (default 1 MiB). */
  readChunkBytes?: number;
}

export interface FileLogStats {
  /** Records appended since open. */
  records: number;
  /** write() calls and fsyncs for appends since open: with group commit, fewer than appends. */
  writes: number;
  syncs: number;
  appendedBytes: number;
  compactions: number;
  fileBytes: number;
  liveKeys: number;
  liveBytes: number;
}

interface Pending {
  keys: string[];
  jsons: Array<string | null>;
  lines: string[];
  resolve(): void;
  reject(err: unknown): void;
}

interface LiveLine {
  line: string;
  bytes: number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const HEX8 = /^[0-9a-f]{8}$/;

/** Paths open in this process: a second instance over the same file would interleave writes. */
const openPaths = new Set<string>();

export function encodeLine(key: string, json: string | null): string {
  const payload = `[${JSON.stringify(key)},${json ?? 'null'}]`;
  return `${crc32(payload).toString(16).padStart(8, '0')} ${payload}\n`;
}

type Parsed = { key: string; value: LogValue } | { error: string };

function parseLine(line: Buffer): Parsed {
  if (line.length < 10 || line[8] !== SPACE) return { error: 'not a record line' };
  const crcText = line.toString('latin1', 0, 8);
  if (!HEX8.test(crcText)) return { error: 'no checksum' };
  const payload = line.subarray(9);
  if (crc32(payload) !== Number.parseInt(crcText, 16)) return { error: 'checksum mismatch' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return { error: 'checksum matches but the record is not JSON' };
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string') {
    return { error: 'checksum matches but the record is not a [key, value] pair' };
  }
  return { key: parsed[0], value: parsed[1] as JsonValue | null };
}

async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

export class FileCompactedLog implements CompactedLog {
  readonly name: string;
  private readonly file: string;
  private readonly tmpFile: string;
  private readonly logger: Logger;
  private readonly compactionRatio: number;
  private readonly compactionMinBytes: number;
  private readonly readChunkBytes: number;
  private readonly subscribers = new Set<LogSubscriber>();

  private state: 'new' | 'starting' | 'started' | 'closing' | 'closed' = 'new';
  private handle: FileHandle | undefined;
  /** Bytes of whole records in the file: where the next write goes. */
  private size = 0;
  private nextOffset = 0;
  /** Latest line of each key whose latest value is not a tombstone, in the order last written. */
  private readonly live = new Map<string, LiveLine>();
  private liveBytes = 0;
  private failure: Error | undefined;

  private queue: Pending[] = [];
  private running = false;
  private idleWaiters: Array<() => void> = [];
  private compactWaiters: Array<{ resolve(): void; reject(err: unknown): void }> = [];
  /** After a failed automatic compaction, wait for this file size before trying again. */
  private autoCompactAfter = 0;
  private closed: Promise<void> | undefined;

  private readonly counters = { records: 0, writes: 0, syncs: 0, appendedBytes: 0, compactions: 0 };

  constructor(file: string, options: FileCompactedLogOptions = {}) {
    this.file = path.resolve(file);
    this.tmpFile = `${this.file}.compact`;
    this.name = this.file;
    this.logger = options.logger ?? defaultLogger;
    this.compactionRatio = options.compactionRatio ?? 1;
    this.compactionMinBytes = options.compactionMinBytes ?? 4 * 1024 * 1024;
    this.readChunkBytes = options.readChunkBytes ?? 1024 * 1024;
  }

  subscribe(fn: LogSubscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`log ${this.file} was already started`);
    if (openPaths.has(this.file)) {
      throw new Error(`log ${this.file} is already open in this process; close the other instance first`);
    }
    this.state = 'starting';
    openPaths.add(this.file);
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await this.removeUnfinishedCompaction();
      this.handle = await open(this.file, constants.O_RDWR | constants.O_CREAT, 0o644);
      await this.readAll(this.handle);
      this.state = 'started';
    } catch (err) {
      this.state = 'closed';
      openPaths.delete(this.file);
      await this.handle?.close().catch(() => {});
      this.handle = undefined;
      throw err;
    }
    if (this.shouldCompact()) this.schedule();
  }

  append(key: string, value: LogValue): Promise<void> {
    return this.appendAll([{ key, value }]);
  }

  appendAll(entries: readonly LogEntry[]): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    let encoded: Array<{ key: string; json: string | null }>;
    try {
      encoded = entries.map(encodeEntry);
    } catch (err) {
      return Promise.reject(err);
    }
    if (encoded.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({
        keys: encoded.map((e) => e.key),
        jsons: encoded.map((e) => e.json),
        lines: encoded.map((e) => encodeLine(e.key, e.json)),
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  readToEnd(): Promise<void> {
    // Appends issued before this call are queued; a barrier behind them resolves when they are done.
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.queue.push({ keys: [], jsons: [], lines: [], resolve, reject: () => resolve() });
      this.schedule();
    });
  }

  compact(): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    return new Promise<void>((resolve, reject) => {
      this.compactWaiters.push({ resolve, reject });
      this.schedule();
    });
  }

  stats(): FileLogStats {
    return { ...this.counters, fileBytes: this.size, liveKeys: this.live.size, liveBytes: this.liveBytes };
  }

  close(): Promise<void> {
    if (this.closed) return this.closed;
    const wasOpen = this.state === 'started';
    this.state = 'closing';
    this.closed = (async () => {
      if (wasOpen) await this.idle();
      await this.handle?.close().catch(() => {});
      this.handle = undefined;
      this.state = 'closed';
      openPaths.delete(this.file);
    })();
    return this.closed;
  }

  private unusable(): Error | undefined {
    if (this.state === 'closing' || this.state === 'closed') return new LogClosedError(this.file);
    if (this.state !== 'started') return new Error(`log ${this.file} is not started; call start() first`);
    return this.failure;
  }

  private async removeUnfinishedCompaction(): Promise<void> {
    try {
      await unlink(this.tmpFile);
      this.logger.warn({ file: this.tmpFile }, 'removed an unfinished compaction file left by a crash; the log itself is whole');
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }

  /** Replay the file to subscribers; truncate a torn tail; throw on corruption in the middle. */
  private async readAll(handle: FileHandle): Promise<void> {
    let filePos = 0;
    let carry = Buffer.alloc(0);
    let carryStart = 0;
    let lineNo = 0;
    let goodEnd = 0;
    let firstBad: { line: number; position: number; reason: string } | undefined;
    let badLines = 0;

    for (;;) {
      const chunk = Buffer.allocUnsafe(this.readChunkBytes);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, filePos);
      if (bytesRead === 0) break;
      filePos += bytesRead;
      const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const dataStart = carryStart;
      let i = 0;
      for (;;) {
        const nl = data.indexOf(NEWLINE, i);
        if (nl < 0) break;
        lineNo++;
        const parsed = parseLine(data.subarray(i, nl));
        if ('error' in parsed) {
          firstBad ??= { line: lineNo, position: dataStart + i, reason: parsed.error };
          badLines++;
        } else {
          if (firstBad) throw new CorruptLogError(this.file, firstBad.line, firstBad.position, firstBad.reason);
          const line = data.toString('utf8', i, nl + 1);
          this.apply(parsed.key, parsed.value, line, nl + 1 - i);
          goodEnd = dataStart + nl + 1;
        }
        i = nl + 1;
      }
      carry = Buffer.from(data.subarray(i));
      carryStart = dataStart + i;
    }

    if (goodEnd < filePos) {
      this.logger.warn(
        {
          file: this.file,
          line: firstBad?.line ?? lineNo + 1,
          droppedBytes: filePos - goodEnd,
          droppedLines: badLines + (carry.length > 0 ? 1 : 0),
          reason: firstBad?.reason ?? 'incomplete last line',
        },
        'dropped a torn record at the end of the log, left by a crash during a write (it was never acknowledged)',
      );
      await handle.truncate(goodEnd);
      await handle.datasync();
    }
    this.size = goodEnd;
  }

  /** Track a durable record and deliver it. */
  private apply(key: string, value: LogValue, line: string, bytes: number): void {
    const previous = this.live.get(key);
    if (previous) {
      this.live.delete(key);
      this.liveBytes -= previous.bytes;
    }
    if (value !== null) {
      this.live.set(key, { line, bytes });
      this.liveBytes += bytes;
    }
    const meta = { partition: 0, offset: this.nextOffset++ };
    for (const fn of this.subscribers) {
      try {
        fn(key, value, meta);
      } catch (err) {
        this.logger.error({ err, log: this.file, key }, 'a log subscriber threw; the record was skipped by it');
      }
    }
  }

  private schedule(): void {
    if (this.running) return;
    this.running = true;
    // setImmediate, not a microtask: appends from every callback of this event-loop turn join the batch.
    setImmediate(() => void this.pump());
  }

  private idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        if (this.failure) {
          this.rejectAll(this.failure);
          break;
        }
        // Compaction goes first: under a steady stream of appends the queue is never empty.
        if (this.compactWaiters.length > 0 || (this.state === 'started' && this.shouldCompact())) {
          await this.runCompaction();
        } else if (this.queue.length > 0) {
          const batch = this.queue;
          this.queue = [];
          await this.writeBatch(batch);
        } else {
          break;
        }
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private rejectAll(err: Error): void {
    for (const p of this.queue) p.reject(err);
    this.queue = [];
    for (const w of this.compactWaiters) w.reject(err);
    this.compactWaiters = [];
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const text = batch.map((p) => p.lines.join('')).join('');
    if (text.length > 0) {
      const buf = Buffer.from(text, 'utf8');
      try {
        await writeFully(this.handle!, buf, this.size);
        this.counters.writes++;
        await this.handle!.datasync();
        this.counters.syncs++;
      } catch (err) {
        // After a failed write or fsync the file's tail is unknown (and a retried fsync proves
        // nothing): refuse further appends; reopening drops whatever tail is torn.
        this.failure = new Error(
          `Writing to ${this.file} failed, so the log stopped taking appends; restart the worker to reopen it`,
          { cause: err },
        );
        this.logger.error({ err, file: this.file }, 'log write failed');
        for (const p of batch) p.reject(this.failure);
        return;
      }
      this.size += buf.length;
      this.counters.appendedBytes += buf.length;
      for (const p of batch) {
        for (let i = 0; i < p.keys.length; i++) {
          const json = p.jsons[i];
          const value = json === null ? null : (JSON.parse(json) as JsonValue);
          this.apply(p.keys[i], value, p.lines[i], Buffer.byteLength(p.lines[i]));
          this.counters.records++;
        }
      }
    }
    for (const p of batch) p.resolve();
  }

  private shouldCompact(): boolean {
    const dead = this.size - this.liveBytes;
    return (
      this.size >= this.autoCompactAfter &&
      dead >= this.compactionMinBytes &&
      dead > this.liveBytes * this.compactionRatio
    );
  }

  private async runCompaction(): Promise<void> {
    const waiters = this.compactWaiters;
    this.compactWaiters = [];
    const before = this.size;
    let newSize = 0;
    try {
      const tmp = await open(this.tmpFile, 'w', 0o644);
      try {
        let parts: string[] = [];
        let partBytes = 0;
        for (const { line, bytes } of this.live.values()) {
          parts.push(line);
          partBytes += bytes;
          if (partBytes >= this.readChunkBytes) {
            const buf = Buffer.from(parts.join(''), 'utf8');
            await writeFully(tmp, buf, newSize);
            newSize += buf.length;
            parts = [];
            partBytes = 0;
          }
        }
        if (parts.length > 0) {
          const buf = Buffer.from(parts.join(''), 'utf8');
          await writeFully(tmp, buf, newSize);
          newSize += buf.length;
        }
        await tmp.sync();
      } finally {
        await tmp.close();
      }
      await rename(this.tmpFile, this.file);
    } catch (err) {
      await unlink(this.tmpFile).catch(() => {});
      this.autoCompactAfter = this.size + this.compactionMinBytes;
      this.logger.warn({ err, file: this.file }, 'compaction failed; the log goes on uncompacted');
      for (const w of waiters) w.reject(err);
      return;
    }
    try {
      await fsyncDir(path.dirname(this.file));
      const handle = await open(this.file, constants.O_RDWR);
      await this.handle!.close();
      this.handle = handle;
    } catch (err) {
      this.failure = new Error(`Compacting ${this.file} failed after the rename; restart the worker to reopen it`, {
        cause: err,
      });
      this.logger.error({ err, file: this.file }, 'log compaction failed after the rename');
      for (const w of waiters) w.reject(this.failure);
      return;
    }
    this.size = newSize;
    this.autoCompactAfter = 0;
    this.counters.compactions++;
    this.logger.debug({ file: this.file, before, after: newSize, liveKeys: this.live.size }, 'compacted log');
    for (const w of waiters) w.resolve();
  }
}
