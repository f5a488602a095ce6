/**
 * The S3 source task: lists `prefix` in key order, reads each object as JSON lines, text lines or
 * one bytes record, and emits records whose source offset is `{key, position}`: the object and the
 * byte just past the record (in the decompressed bytes for `.gz` objects). The task's stream is
 * one cursor per (bucket, prefix, task): on restart it reopens `key` at `position`, then goes on
 * with the keys after it, so objects must arrive in key order (offset-named or time-named keys
 * do); it lists again every poll.interval.ms to pick up new ones.
 */
import { gunzipSync } from 'node:zlib';
import { DataError } from '../../runtime/api/index.ts';
import type { JsonObject, SourceRecord, SourceTask, SourceTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { s3SourceConfig } from './config.ts';
import type { S3SourceConfig } from './config.ts';
import { storeOptions } from './s3-sink-task.ts';
import { openStore } from './store.ts';
import type { ObjectStore } from './store.ts';

interface Current {
  key: string;
  data: Buffer;
  /** Next byte to read in `data`. */
  pos: number;
  /** Where `data` starts in the object (a resumed read fetches only the rest). */
  base: number;
}

export class S3SourceTask implements SourceTask {
  private cfg!: S3SourceConfig;
  private context!: SourceTaskContext;
  private store!: ObjectStore;
  private partition!: JsonObject;
  private pattern: RegExp | null = null;
  private taskIndex = 0;
  private taskCount = 1;
  /** Last key fully or partly read, and the byte to resume at. */
  private cursor: { key: string; position: number } | null = null;
  private resumePending = false;
  private queue: string[] = [];
  private current: Current | null = null;
  private lastList = 0;

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    this.cfg = s3SourceConfig.parse(config);
    this.context = context;
    this.store = openStore(storeOptions(this.cfg));
    this.pattern = this.cfg['key.pattern'] ? new RegExp(this.cfg['key.pattern']) : null;
    this.taskIndex = Number(config['task.index'] ?? 0);
    this.taskCount = Number(config['task.count'] ?? 1);
    this.partition = { bucket: this.cfg['s3.bucket.name'] || this.cfg['store.url'], prefix: this.cfg.prefix, task: `${this.taskIndex}/${this.taskCount}` };
    await this.store.check();
    const stored = await context.offsetStorageReader.offset(this.partition);
    if (stored && typeof stored.key === 'string') {
      this.cursor = { key: stored.key, position: Number(stored.position ?? 0) };
      this.resumePending = true;
    }
    context.logger.info({ store: this.store.where, prefix: this.cfg.prefix, resumeAt: this.cursor }, 's3 source task started');
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    if (!this.current && !(await this.openNext(signal))) return [];
    const out: SourceRecord[] = [];
    const cur = this.current!;
    const format = this.cfg['format.class'];
    const batch = this.cfg['batch.size'];
    if (format === 'bytes') {
      if (cur.pos < cur.data.length || cur.data.length === 0) out.push(this.record(cur.key, cur.base + cur.data.length, cur.data));
      cur.pos = cur.data.length;
    }
    while (out.length < batch && cur.pos < cur.data.length) {
      let end = cur.data.indexOf(0x0a, cur.pos);
      const next = end < 0 ? cur.data.length : end + 1;
      if (end < 0) end = cur.data.length;
      let text = cur.data.toString('utf8', cur.pos, end);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      const at = cur.pos;
      cur.pos = next;
      if (text === '') continue;
      let value: unknown = text;
      if (format === 'json') {
        try {
          value = JSON.parse(text);
        } catch (e) {
          throw new DataError(`s3 source: ${cur.key} at byte ${cur.base + at} is not a JSON line (${(e as Error).message}). Use format.class=text to read it as text.`, { cause: e });
        }
      }
      out.push(this.record(cur.key, cur.base + next, value));
    }
    if (cur.pos >= cur.data.length) {
      this.cursor = { key: cur.key, position: cur.base + cur.data.length };
      this.current = null;
    }
    return out;
  }

  stop(): void {
    this.store?.close();
  }

  private record(key: string, position: number, value: unknown): SourceRecord {
    return {
      topic: this.cfg.topic,
      sourcePartition: this.partition,
      sourceOffset: { key, position },
      key: null,
      value,
      headers: [{ key: 's3.object.key', value: key }],
    };
  }

  /** Open the object to read next; false when there is none yet (after waiting up to poll.interval.ms). */
  private async openNext(signal: AbortSignal): Promise<boolean> {
    if (this.resumePending && this.cursor) {
      this.resumePending = false;
      const { key, position } = this.cursor;
      if (key.endsWith('.gz')) {
        const data = await this.read(key);
        if (position < data.length) {
          this.current = { key, data, pos: position, base: 0 };
          return true;
        }
      } else {
        const head = await this.store.head(key);
        if (head && position < head.size) {
          this.current = { key, data: await this.store.get(key, position), pos: 0, base: position };
          return true;
        }
      }
    }
    if (this.queue.length === 0) {
      const wait = this.lastList + this.cfg['poll.interval.ms'] - Date.now();
      if (wait > 0) await sleep(Math.min(wait, 1000), signal);
      if (signal.aborted || Date.now() < this.lastList + this.cfg['poll.interval.ms']) return false;
      this.lastList = Date.now();
      for await (const o of this.store.list(this.cfg.prefix, this.cursor?.key)) {
        if (this.pattern && !this.pattern.test(o.key.slice(this.cfg.prefix.length))) continue;
        if (this.taskCount > 1 && hash(o.key) % this.taskCount !== this.taskIndex) continue;
        this.queue.push(o.key);
      }
      this.context.reportProgress({ objectsListed: this.queue.length, cursor: this.cursor?.key ?? null });
      if (this.queue.length === 0) return false;
    }
    const key = this.queue.shift()!;
    this.current = { key, data: await this.read(key), pos: 0, base: 0 };
    return true;
  }

  private async read(key: string): Promise<Buffer> {
    const data = await this.store.get(key);
    if (!key.endsWith('.gz')) return data;
    try {
      return gunzipSync(data);
    } catch (e) {
      throw new DataError(`s3 source: ${key} ends in .gz but is not gzip data: ${(e as Error).message}`, { cause: e });
    }
  }
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
