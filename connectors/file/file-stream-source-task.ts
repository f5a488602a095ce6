import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { FatalError } from '../../runtime/api/index.ts';
import type { JsonObject, Logger, Schema, SourceRecord, SourceTask, SourceTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { sleep } from '../../runtime/api/index.ts';
import { fileSourceConfig } from './config.ts';

/** How long a poll waits for new lines (or for the file to appear) before returning `[]`. */
const TAIL_WAIT_MS = 500;
const READ_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;
const CR = 0x0d;
const STRING_SCHEMA: Schema = Object.freeze({ type: 'string' });

/**
 * Reads a file line by line and keeps tailing it. Source partition `{filename}` (the path as
 * configured), offset `{position}`: the byte offset just past the line's `\n`, where a restarted
 * task resumes. Only complete lines are emitted; a trailing `\r` is dropped. A file that shrinks
 * or is replaced (log rotation) is read again from its start.
 */
export class FileStreamSourceTask implements SourceTask {
  private readonly stopping = new AbortController();
  private logger: Logger | undefined;
  private path = '';
  private topic = '';
  private batchSize = 1;
  private partition: JsonObject = {};
  private fh: FileHandle | null = null;
  private ino = 0;
  /** Offset of the first byte not yet emitted as part of a line (== the offset of `pending[0]`). */
  private position = 0;
  /** Bytes read past `position`: the start of a line whose end has not been read yet. */
  private pending: Buffer = Buffer.alloc(0);
  private missingReported = false;
  private readonly chunk = Buffer.allocUnsafe(READ_CHUNK);

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    const cfg = fileSourceConfig.parse(config);
    this.logger = context.logger;
    this.path = cfg.file;
    this.topic = cfg.topic;
    this.batchSize = cfg['batch.size'];
    this.partition = Object.freeze({ filename: cfg.file });
    this.position = positionFrom(await context.offsetStorageReader.offset(this.partition), this.partition);
    this.logger.info({ file: this.path, position: this.position }, 'file source task starting');
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    const stop = this.stopping.signal;
    if (signal.aborted || stop.aborted) return [];
    if (!this.fh && !(await this.openFile())) {
      await sleep(TAIL_WAIT_MS, signal, stop);
      return [];
    }
    const records = await this.readLines(stop);
    if (records.length > 0) return records;
    if (signal.aborted || stop.aborted) return [];
    await this.checkReplaced();
    await sleep(TAIL_WAIT_MS, signal, stop);
    return [];
  }

  stop(): Promise<void> | void {
    this.stopping.abort();
    const fh = this.fh;
    this.fh = null;
    // FileHandle.close waits for a read still in flight.
    return fh?.close();
  }

  private async readLines(stop: AbortSignal): Promise<SourceRecord[]> {
    const records: SourceRecord[] = [];
    let buf = this.pending;
    let scanned = 0;
    let consumed = 0;
    for (;;) {
      while (records.length < this.batchSize) {
        const nl = buf.indexOf(NEWLINE, scanned);
        if (nl < 0) {
          scanned = buf.length;
          break;
        }
        const end = nl > consumed && buf[nl - 1] === CR ? nl - 1 : nl;
        records.push({
          topic: this.topic,
          value: buf.toString('utf8', consumed, end),
          valueSchema: STRING_SCHEMA,
          sourcePartition: this.partition,
          sourceOffset: { position: this.position + nl + 1 },
        });
        consumed = scanned = nl + 1;
      }
      if (records.length >= this.batchSize || stop.aborted || !this.fh) break;
      const readAt = this.position + buf.length;
      const { bytesRead } = await this.fh.read(this.chunk, 0, READ_CHUNK, readAt);
      if (bytesRead === 0) break;
      buf = Buffer.concat([buf.subarray(consumed), this.chunk.subarray(0, bytesRead)]);
      this.position += consumed;
      scanned -= consumed;
      consumed = 0;
    }
    this.pending = Buffer.from(buf.subarray(consumed));
    this.position += consumed;
    return records;
  }

  private async openFile(): Promise<boolean> {
    try {
      const fh = await open(this.path, 'r');
      const st = await fh.stat();
      if (this.stopping.signal.aborted) {
        await fh.close();
        return false;
      }
      this.fh = fh;
      this.ino = st.ino;
      this.pending = Buffer.alloc(0);
      if (st.size < this.position) {
        this.logger?.warn({ file: this.path, size: st.size, position: this.position }, 'file is shorter than the stored position (truncated or replaced); reading it from the start');
        this.position = 0;
      }
      this.missingReported = false;
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new FatalError(`Cannot open ${this.path} for reading: ${(e as Error).message}`, { cause: e });
      if (!this.missingReported) {
        this.missingReported = true;
        this.logger?.warn({ file: this.path }, 'file does not exist yet; waiting for it to be created');
      }
      return false;
    }
  }

  /** At end of file: if the path now names a different file, or this one shrank, start over on it. */
  private async checkReplaced(): Promise<void> {
    let st;
    try {
      st = await stat(this.path);
    } catch {
      return; // moved away and not recreated yet: keep reading the old file in case it grows
    }
    const end = this.position + this.pending.length;
    if (st.ino === this.ino && st.size >= end) return;
    this.logger?.warn({ file: this.path, replaced: st.ino !== this.ino, size: st.size, position: end }, 'file was truncated or replaced; reading it from the start');
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
    this.position = 0;
    this.pending = Buffer.alloc(0);
    await this.openFile();
  }
}

function positionFrom(stored: JsonObject | null, partition: JsonObject): number {
  if (stored === null) return 0;
  const p = stored.position;
  if (typeof p === 'number' && Number.isSafeInteger(p) && p >= 0) return p;
  throw new FatalError(
    `The stored offset ${JSON.stringify(stored)} of source partition ${JSON.stringify(partition)} has no valid "position" ` +
      '(a byte offset >= 0). Reset the connector\'s offsets (DELETE /connectors/<name>/offsets, with the connector stopped) ' +
      'or set one with PATCH /connectors/<name>/offsets, e.g. {"position": 0}.',
  );
}
