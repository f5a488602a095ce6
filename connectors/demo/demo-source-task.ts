import { FatalError } from '../../runtime/api/index.ts';
import type { JsonObject, Logger, SourceRecord, SourceTask, SourceTaskContext, TaskConfig, TaskSignal } from '../../runtime/api/index.ts';
import { sleep } from '../../runtime/api/index.ts';
import { TASK_COUNT, TASK_INDEX, demoSourceConfig } from './config.ts';
import { Rng, recordSeed } from './prng.ts';
import { shapes } from './shapes.ts';
import type { Shape, ShapeName } from './shapes.ts';
import { TokenBucket } from '../../runtime/api/index.ts';

/** The longest a poll waits before returning `[]` when it has nothing to give (rate limit, or max.records reached). */
const MAX_WAIT_MS = 1000;
/** How often a running task reports how many records it generated. */
const PROGRESS_MS = 1000;
/** When rate-limited, a poll waits for about this much time's worth of records (up to batch.size), not one at a time. */
const BATCH_WINDOW_MS = 50;

/**
 * Generates records `seq = 0, 1, 2, ...` for its (generator, task) partition. Record `seq` is a
 * pure function of (seed, shape, task, seq); the committed offset `{seq: next}` is where a
 * restarted task resumes, so a restart neither skips nor repeats committed records.
 */
export class DemoSourceTask implements SourceTask {
  private readonly stopping = new AbortController();
  private logger: Logger | undefined;
  private context: SourceTaskContext | undefined;
  private topic = '';
  private shape: Shape = shapes.sequence;
  private seed = 0;
  private task = 0;
  private batchSize = 1;
  private partition: JsonObject = {};
  /** This task's share of max.records; Infinity when unbounded. */
  private limit = Infinity;
  private bucket: TokenBucket | null = null;
  private recordsPerWait = 1;
  private seq = 0;
  private idleReported = false;
  private lastProgress = 0;

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    const cfg = demoSourceConfig.parse(config);
    const task = cfg[TASK_INDEX];
    const count = cfg[TASK_COUNT];
    this.context = context;
    this.logger = context.logger;
    this.topic = cfg.topic;
    this.shape = shapes[cfg.shape as ShapeName];
    this.seed = cfg.seed;
    this.task = task;
    this.batchSize = cfg['batch.size'];
    this.partition = Object.freeze({ generator: cfg.shape, task });
    const max = cfg['max.records'];
    if (max >= 0) this.limit = Math.floor(max / count) + (task < max % count ? 1 : 0);
    if (cfg.rate > 0) {
      const perTask = cfg.rate / count;
      // Room for two batches or 100 ms of records, so tokens that accrue while a timer fires late are not lost.
      this.bucket = new TokenBucket(perTask, Math.max(2 * this.batchSize, perTask / 10));
      this.recordsPerWait = Math.max(1, Math.min(this.batchSize, Math.floor((perTask * BATCH_WINDOW_MS) / 1000)));
    }
    this.seq = seqFrom(await context.offsetStorageReader.offset(this.partition), this.partition);
    this.logger.info({ partition: this.partition, seq: this.seq, limit: this.limit }, 'demo source task starting');
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    const stop = this.stopping.signal;
    if (signal.aborted || stop.aborted) return [];
    const remaining = this.limit - this.seq;
    if (remaining <= 0) {
      this.reportIdle();
      await sleep(MAX_WAIT_MS, signal, stop);
      return [];
    }
    let n = Math.min(this.batchSize, remaining);
    if (this.bucket) {
      const wait = this.bucket.msUntil(Math.min(n, this.recordsPerWait));
      if (wait > 0) {
        await sleep(Math.min(Math.ceil(wait), MAX_WAIT_MS), signal, stop);
        if (signal.aborted || stop.aborted) return [];
      }
      n = this.bucket.take(n);
      if (n === 0) return [];
    }
    const records = this.generate(n);
    // Records generated so far, in the task status, about once a second.
    const now = Date.now();
    if (now - this.lastProgress >= PROGRESS_MS) {
      this.lastProgress = now;
      this.context?.reportProgress({ generated: this.seq, limit: this.limit });
    }
    return records;
  }

  /** Debezium's `log` signal: writes `data.message` to the task's log (a harmless way to check the signal path). */
  signal(signal: TaskSignal): boolean {
    if (signal.type !== 'log') return false;
    this.logger?.info({ signal: signal.id }, `signal: ${String(signal.data.message ?? '')}`);
    return true;
  }

  stop(): void {
    this.stopping.abort();
  }

  private generate(n: number): SourceRecord[] {
    const { shape, seed, task, topic, partition } = this;
    const out = new Array<SourceRecord>(n);
    for (let i = 0; i < n; i++) {
      const seq = this.seq + i;
      const { key, value } = shape.generate(new Rng(recordSeed(seed, task, seq)), task, seq);
      out[i] = {
        topic,
        key,
        keySchema: shape.keySchema,
        value,
        valueSchema: shape.valueSchema,
        sourcePartition: partition,
        sourceOffset: { seq: seq + 1 },
      };
    }
    this.seq += n;
    return out;
  }

  private reportIdle(): void {
    if (this.idleReported) return;
    this.idleReported = true;
    this.logger?.info({ partition: this.partition, seq: this.seq }, 'demo source task reached its share of max.records; idling');
    this.context?.reportProgress({ generated: this.seq, limit: this.limit, done: true });
  }
}

function seqFrom(stored: JsonObject | null, partition: JsonObject): number {
  if (stored === null) return 0;
  const seq = stored.seq;
  if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) return seq;
  throw new FatalError(
    `The stored offset ${JSON.stringify(stored)} of source partition ${JSON.stringify(partition)} has no valid "seq" ` +
      '(a whole number >= 0). Reset the connector\'s offsets (DELETE /connectors/<name>/offsets, with the connector stopped) ' +
      'or set one with PATCH /connectors/<name>/offsets, e.g. {"seq": 0}.',
  );
}
