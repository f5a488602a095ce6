/**
 * The S3 sink task. Records are grouped per Kafka partition and folder (the partitioner's path)
 * into open objects; an object is uploaded when it rotates (flush.size records, record-time
 * interval, wall-clock schedule, or a schema change for Parquet, or early when the task holds more
 * than s3.buffer.max.bytes). Rotated objects upload in the background (UPLOAD_CONCURRENCY at once)
 * while the next ones fill; `put` waits only when the task holds too much. `flush` returns, per
 * partition, the offset of the oldest record not yet in an uploaded object (open, or rotated and
 * still uploading), so the runtime commits only what is durable in S3; records of open objects are
 * delivered again after a crash.
 *
 * Exactly once by object name: an object is named after its first offset and carries its last
 * offset in user metadata (`x-amz-meta-end-offset`). When a partition is (re)assigned, the first
 * record delivered tells where consumption resumed; the objects already in the store from there
 * on are looked up, and records they already hold are not written again. So a crash between an
 * upload and the offset commit leaves exactly one copy of every record, provided the partitioner
 * puts a record in the same folder every time (not the case with the Wallclock extractor).
 */
import { ConfigError, DataError, FatalError, topicPartitionKey } from '../../runtime/api/index.ts';
import type { SinkOffsets, SinkRecord, SinkTask, SinkTaskContext, TaskConfig, TopicPartition } from '../../runtime/api/index.ts';
import { FORMATS, s3SinkConfig } from './config.ts';
import type { S3SinkConfig } from './config.ts';
import { contentType, extension, newBuilder } from './formats.ts';
import type { FileBuilder, FormatOptions } from './formats.ts';
import { PARTITIONERS } from './config.ts';
import { createPartitioner, timestampExtractor, where, Zone } from './partitioner.ts';
import type { Partitioner, TimestampExtractor } from './partitioner.ts';
import { openStore } from './store.ts';
import type { ObjectStore } from './store.ts';

/** Objects uploaded at once (each multipart object sends up to four parts at once). */
const UPLOAD_CONCURRENCY = 4;
/** How long stop() lets uploads already started finish. */
const STOP_DRAIN_MS = 30_000;
/** For folder-per-value partitioners: how many of a partition's newest objects are checked on assignment. */
const RECOVERY_HEAD_LIMIT = 1000;

interface OpenFile {
  topic: string;
  partition: number;
  encoded: string;
  startOffset: number;
  endOffset: number;
  builder: FileBuilder;
  /** Record time of the first record (rotate.interval.ms). */
  firstTime: number;
  /** Wall-clock time at which rotate.schedule.interval.ms closes it. */
  deadline: number;
  body?: Buffer;
}

interface PartitionState {
  topic: string;
  partition: number;
  files: Map<string, OpenFile>;
  /** The next offset not yet taken; lower offsets of a retried put are skipped. */
  nextOffset: number | undefined;
  /** One past the highest offset handed to put (taken or not: a put may fail half-way). */
  delivered: number | undefined;
  recovered: boolean;
  /** Where consumption resumed after the assignment. */
  resumedAt: number;
  /** Offset ranges per folder already in the store from the resume point on. */
  written: Map<string, Array<{ start: number; end: number }>>;
}

export class S3SinkTask implements SinkTask {
  private context!: SinkTaskContext;
  private cfg!: S3SinkConfig;
  private store!: ObjectStore;
  private partitioner!: Partitioner;
  private extract!: TimestampExtractor;
  private formatOptions!: FormatOptions;
  private ext = '';
  private zone!: Zone;
  private readonly states = new Map<string, PartitionState>();
  /** Rotated objects waiting for an upload slot, in rotation order. */
  private queue: OpenFile[] = [];
  /** Rotated objects not yet uploaded (queued, uploading or failed): their records are not durable. */
  private readonly unsettled = new Set<OpenFile>();
  private readonly running = new Set<Promise<void>>();
  /** Uploads that failed: sent again on the next put or flush, after the runtime's backoff. */
  private failed: OpenFile[] = [];
  private uploadError: unknown;
  private failureReported = false;
  private stopped = false;
  private uploaded = 0;
  private earlyRolls = 0;
  private uploadedBytes = 0;
  private multipartObjects = 0;

  async start(config: TaskConfig, context: SinkTaskContext): Promise<void> {
    this.context = context;
    this.cfg = s3SinkConfig.parse(config);
    const c = this.cfg;
    this.extract = timestampExtractor(c);
    this.partitioner = createPartitioner(c, this.extract);
    this.zone = new Zone(c.timezone || 'UTC');
    this.formatOptions = {
      format: FORMATS[c['format.class']],
      compression: c['s3.compression.type'] as 'none' | 'gzip',
      compressionLevel: c['s3.compression.level'],
      parquetCodec: c['parquet.codec'] === 'snappy' ? 'snappy' : 'none',
      rowGroupSize: c['parquet.row.group.size'],
      bytesExtension: c['format.bytearray.extension'],
      bytesSeparator: Buffer.from(c['format.bytearray.separator'].replace(/\\([nrt\\])/g, (_m, ch: string) => ({ n: '\n', r: '\r', t: '\t', '\\': '\\' })[ch] ?? ch), 'utf8'),
    };
    this.ext = extension(this.formatOptions);
    this.store = openStore(storeOptions(c));
    try {
      await this.store.check();
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      context.logger.warn({ err: (e as Error).message }, 'cannot check the store now; uploads will retry');
    }
    if (!this.partitioner.deterministic) {
      context.logger.warn({ partitioner: c['partitioner.class'], extractor: c['timestamp.extractor'] }, 'the partitioner is not deterministic (Wallclock time): a crash may leave a record in two objects');
    }
    context.logger.info({ store: this.store.where, format: this.formatOptions.format, ext: this.ext, partitioner: PARTITIONERS[c['partitioner.class']] }, 's3 sink task started');
  }

  open(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.states.set(topicPartitionKey(tp), newState(tp));
  }

  async close(partitions: TopicPartition[]): Promise<void> {
    const gone = new Set(partitions.map(topicPartitionKey));
    const mine = (f: OpenFile) => gone.has(topicPartitionKey({ topic: f.topic, partition: f.partition }));
    for (const key of gone) this.states.delete(key);
    this.queue = this.queue.filter((f) => !mine(f));
    this.failed = this.failed.filter((f) => !mine(f));
    for (const f of this.unsettled) if (mine(f)) this.unsettled.delete(f);
    // Let uploads already under way end before the partitions go to another task.
    await this.drain();
  }

  async put(records: SinkRecord[]): Promise<void> {
    const byRecord = records.map((r) => {
      const key = topicPartitionKey({ topic: r.topic, partition: r.kafkaPartition });
      let st = this.states.get(key);
      if (!st) {
        st = newState({ topic: r.topic, partition: r.kafkaPartition });
        this.states.set(key, st);
      }
      st.delivered = Math.max(st.delivered ?? 0, r.kafkaOffset + 1);
      return st;
    });
    await this.settleFailed();
    const rotateMs = this.cfg['rotate.interval.ms'];
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const st = byRecord[i];
      if (st.nextOffset !== undefined && r.kafkaOffset < st.nextOffset) continue;
      if (!st.recovered) await this.recover(st, r.kafkaOffset);
      st.nextOffset = r.kafkaOffset + 1;
      if (r.value === null || r.value === undefined) {
        if (this.cfg['behavior.on.null.values'] === 'fail') throw new FatalError(`Record ${where(r)} has a null value (a tombstone) and behavior.on.null.values=fail.`);
        continue;
      }
      let encoded: string;
      let time = 0;
      try {
        encoded = this.partitioner.encode(r);
        if (rotateMs > 0) time = this.extract(r);
      } catch (e) {
        await this.context.reportError(r, e);
        continue;
      }
      if (isWritten(st, encoded, r.kafkaOffset)) continue;
      let file = st.files.get(encoded);
      if (file && (file.builder.needsNewFile(r) || (rotateMs > 0 && time - file.firstTime >= rotateMs))) {
        this.rotate(st, file);
        file = undefined;
      }
      const created = !file;
      if (!file) file = this.newFile(r, encoded, time);
      try {
        file.builder.add(r);
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        await this.context.reportError(r, e);
        continue;
      }
      if (created) st.files.set(encoded, file);
      file.endOffset = r.kafkaOffset;
      if (file.builder.count >= this.cfg['flush.size']) this.rotate(st, file);
    }
    this.rotateDue();
    await this.withinBudget();
  }

  async flush(offsets: SinkOffsets): Promise<SinkOffsets> {
    this.rotateDue();
    await this.settleFailed();
    // Stopping: the last commit should include what is already uploading.
    if (this.context.signal.aborted) await this.drain();
    const safe: SinkOffsets = new Map();
    for (const [key, o] of offsets) {
      const st = this.states.get(key);
      let offset = o.offset;
      if (st) {
        // A put that failed half-way: only what it took counts (nothing, if it took nothing).
        if (st.delivered !== undefined && (st.nextOffset ?? -1) < st.delivered) {
          if (st.nextOffset === undefined) continue;
          offset = Math.min(offset, st.nextOffset);
        }
        for (const f of st.files.values()) offset = Math.min(offset, f.startOffset);
        for (const f of this.unsettled) if (f.partition === st.partition && f.topic === st.topic) offset = Math.min(offset, f.startOffset);
        // Never commit inside an object found at assignment whose records are still being skipped:
        // a restart from there would not look for that object (it starts before the new resume point).
        const next = st.nextOffset ?? 0;
        for (const [folder, ranges] of st.written) {
          const live = ranges.filter((r) => r.end >= next);
          if (live.length === 0) st.written.delete(folder);
          else if (live.length < ranges.length) st.written.set(folder, live);
          for (const r of live) if (r.start >= st.resumedAt && r.start < next) offset = Math.min(offset, r.start);
        }
      }
      safe.set(key, { ...o, offset });
    }
    this.context.reportProgress({ objectsUploaded: this.uploaded, bytesUploaded: this.uploadedBytes, multipartObjects: this.multipartObjects, objectsUploading: this.unsettled.size, earlyRolls: this.earlyRolls });
    return safe;
  }

  /** Lets the uploads already started end (for a bounded time), then closes the store. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue = [];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise((r) => (timer = setTimeout(r, STOP_DRAIN_MS)))]);
    clearTimeout(timer);
    this.states.clear();
    this.unsettled.clear();
    this.failed = [];
    this.store?.close();
  }

  /** Resolves when no upload is queued or under way (failed ones stay failed). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private newFile(r: SinkRecord, encoded: string, time: number): OpenFile {
    const every = this.cfg['rotate.schedule.interval.ms'];
    const now = Date.now();
    return {
      topic: r.topic,
      partition: r.kafkaPartition,
      encoded,
      startOffset: r.kafkaOffset,
      endOffset: r.kafkaOffset,
      builder: newBuilder(this.formatOptions, r),
      firstTime: time,
      deadline: every > 0 ? this.zone.floor(now, every) + every : Infinity,
    };
  }

  private rotate(st: PartitionState, file: OpenFile): void {
    st.files.delete(file.encoded);
    this.unsettled.add(file);
    this.queue.push(file);
    this.pump();
  }

  /** Starts queued uploads while slots are free. */
  private pump(): void {
    while (!this.stopped && this.running.size < UPLOAD_CONCURRENCY && this.queue.length > 0) {
      const f = this.queue.shift()!;
      const p: Promise<void> = this.upload(f)
        .then(() => {
          this.unsettled.delete(f);
          this.context.requestCommit();
        }, (e: unknown) => {
          if (!this.unsettled.has(f)) return; // its partition was closed meanwhile
          this.failed.push(f);
          this.uploadError ??= e;
        })
        .finally(() => {
          this.running.delete(p);
          this.pump();
        });
      this.running.add(p);
    }
  }

  /**
   * A failed upload is first reported to the runtime (which backs off, then calls again), then
   * sent again; if it fails again, so does this call.
   */
  private async settleFailed(): Promise<void> {
    if (this.failed.length === 0) return;
    if (!this.failureReported) {
      this.failureReported = true;
      throw this.uploadError;
    }
    this.queue.unshift(...this.failed.splice(0));
    this.uploadError = undefined;
    this.pump();
    await this.drain();
    if (this.failed.length > 0) throw this.uploadError;
    this.failureReported = false;
  }

  /** Bytes held in memory: open objects and rotated ones not yet uploaded. */
  private heldBytes(): number {
    let n = 0;
    for (const st of this.states.values()) for (const f of st.files.values()) n += f.builder.size;
    for (const f of this.unsettled) n += f.body?.length ?? f.builder.size;
    return n;
  }

  /**
   * Backpressure: while the task holds more than s3.buffer.max.bytes, or more objects wait for an
   * upload slot than there are slots, wait for uploads to end; when the open objects alone hold
   * too much, upload the largest early.
   */
  private async withinBudget(): Promise<void> {
    const budget = this.cfg['s3.buffer.max.bytes'];
    for (;;) {
      if (this.failed.length > 0 || this.stopped) return; // failures are reported at the next put or flush
      const over = this.heldBytes() > budget;
      if (!over && this.queue.length < UPLOAD_CONCURRENCY) return;
      if (this.running.size > 0) {
        await Promise.race(this.running);
        continue;
      }
      if (!over) return;
      let largest: { st: PartitionState; f: OpenFile } | undefined;
      for (const st of this.states.values()) {
        for (const f of st.files.values()) if (!largest || f.builder.size > largest.f.builder.size) largest = { st, f };
      }
      if (!largest) return;
      this.earlyRolls++;
      this.context.logger.debug({ budget, bytes: largest.f.builder.size, records: largest.f.builder.count }, 's3.buffer.max.bytes reached: uploading the largest open object early');
      this.rotate(largest.st, largest.f);
    }
  }

  /** Wall-clock rotation: close every object whose schedule boundary has passed. */
  private rotateDue(): void {
    if (this.cfg['rotate.schedule.interval.ms'] <= 0) return;
    const now = Date.now();
    for (const st of this.states.values()) {
      for (const f of [...st.files.values()]) if (f.deadline <= now) this.rotate(st, f);
    }
  }

  private async upload(f: OpenFile): Promise<void> {
    f.body ??= await f.builder.finish();
    const key = this.objectKey(f.topic, f.partition, f.encoded, f.startOffset);
    const { parts } = await this.store.put(key, f.body, {
      'start-offset': String(f.startOffset),
      'end-offset': String(f.endOffset),
      'record-count': String(f.builder.count),
    }, contentType(this.formatOptions));
    this.uploaded++;
    this.uploadedBytes += f.body.length;
    if (parts > 1) this.multipartObjects++;
    this.context.logger.debug({ key, records: f.builder.count, bytes: f.body.length }, 'uploaded');
  }

  objectKey(topic: string, partition: number, encoded: string, start: number): string {
    const d = this.cfg['directory.delim'];
    const delim = this.cfg['file.delim'];
    const dir = [this.cfg['topics.dir'], topic, encoded].filter((s) => s !== '').join(d);
    return `${dir}${d}${topic}${delim}${partition}${delim}${String(start).padStart(10, '0')}${this.ext}`;
  }

  /**
   * Consumption of this partition resumes at `from`. Find the objects already written for it at
   * or after `from`, so that their records are not written again (under another name).
   */
  private async recover(st: PartitionState, from: number): Promise<void> {
    const d = this.cfg['directory.delim'];
    const delim = this.cfg['file.delim'];
    const topicDir = [this.cfg['topics.dir'], st.topic].filter((s) => s !== '').join(d) + d;
    const single = PARTITIONERS[this.cfg['partitioner.class']] === 'default';
    const prefix = single ? `${topicDir}partition=${st.partition}${d}` : topicDir;
    const namePrefix = `${st.topic}${delim}${st.partition}${delim}`;
    const startAfter = single && from > 0 ? `${prefix}${namePrefix}${String(from - 1).padStart(10, '0')}~` : undefined;
    const found: Array<{ key: string; encoded: string; start: number }> = [];
    for await (const o of this.store.list(prefix, startAfter)) {
      const slash = o.key.lastIndexOf(d);
      const name = o.key.slice(slash + d.length);
      if (!name.startsWith(namePrefix) || !name.endsWith(this.ext)) continue;
      const start = Number(name.slice(namePrefix.length, name.length - this.ext.length));
      if (!Number.isInteger(start)) continue;
      // With one folder per partition, objects before `from` end before it (commits happen at object boundaries).
      if (single && start < from) continue;
      found.push({ key: o.key, encoded: o.key.slice(topicDir.length, slash), start });
    }
    found.sort((a, b) => b.start - a.start);
    const candidates = found.filter((f, i) => f.start >= from || i < RECOVERY_HEAD_LIMIT);
    const heads = await Promise.all(candidates.map(async (f) => ({ f, head: await this.store.head(f.key) })));
    for (const { f, head } of heads) {
      if (!head) continue;
      let end = Number(head.metadata['end-offset']);
      if (!Number.isInteger(end)) {
        // Not written by us (e.g. by Kafka Connect's S3 sink): assume flush.size records.
        end = f.start + this.cfg['flush.size'] - 1;
        this.context.logger.warn({ key: f.key }, 'object without end-offset metadata; assuming it holds flush.size records');
      }
      if (end < from) continue;
      const ranges = st.written.get(f.encoded) ?? [];
      ranges.push({ start: f.start, end });
      st.written.set(f.encoded, ranges);
    }
    st.recovered = true;
    st.resumedAt = from;
    if (st.written.size > 0) {
      this.context.logger.info({ topic: st.topic, partition: st.partition, from, objects: [...st.written.values()].reduce((n, r) => n + r.length, 0) }, 'objects already written past the committed offset; their records are not written again');
    }
  }
}

function newState(tp: TopicPartition): PartitionState {
  return { topic: tp.topic, partition: tp.partition, files: new Map(), nextOffset: undefined, delivered: undefined, recovered: false, resumedAt: 0, written: new Map() };
}

function isWritten(st: PartitionState, encoded: string, offset: number): boolean {
  if (st.written.size === 0) return false;
  const ranges = st.written.get(encoded);
  if (!ranges) return false;
  return ranges.some((r) => r.start <= offset && offset <= r.end);
}

export function storeOptions(c: {
  's3.bucket.name': string; 's3.region': string; 'store.url': string; 's3.path.style.access.enabled': boolean;
  'aws.access.key.id': string | null; 'aws.secret.access.key': string | null; 's3.part.retries': number;
} & Record<string, unknown>) {
  return {
    url: c['store.url'],
    bucket: c['s3.bucket.name'],
    region: c['s3.region'],
    pathStyle: c['s3.path.style.access.enabled'],
    accessKeyId: c['aws.access.key.id'],
    secretAccessKey: c['aws.secret.access.key'],
    partSize: typeof c['s3.part.size'] === 'number' ? c['s3.part.size'] : 25 * 1024 * 1024,
    retries: c['s3.part.retries'],
  };
}
