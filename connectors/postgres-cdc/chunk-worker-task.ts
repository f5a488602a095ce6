/**
 * A chunk worker (tasks 1..n-1 with redis.url; chunk-jobs.ts explains the design): takes snapshot
 * chunk jobs from the connector's BullMQ queue, reads each in task 0's exported snapshot and emits
 * the same `op: r` records the in-task snapshot would (source.snapshot is `true` on every one:
 * first/last markers mean nothing when chunks interleave across tasks).
 *
 * Delivery. A job stays locked by this task (its lock extended) from the moment it is taken until
 * commit() reports the offset of its last record durable; only then is it marked completed. The
 * offset is per task `{server, snapshot_worker: <task id>}` -> `{run: <this instance>, jobs_done: n}`
 * (chunk-jobs.ts, jobsDone). A task that dies holds its jobs only until their locks expire (10 s);
 * the stalled-job check of any live chunk worker then puts them back, and another task reads them
 * again: at least once, nothing missing. A graceful stop puts back at once the jobs not completed.
 *
 * Snapshots. The job names the snapshot to import. When that one is gone (task 0 restarted, so its
 * transaction ended), the meta record names the new one; when that fails too, task 0 is down and
 * the job waits a second in the delayed set.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Worker, type Job } from 'bullmq';
import { FatalError, RetriableError, redisConnectionOptions, sleep } from '../../runtime/api/index.ts';
import type { JsonObject, Logger, SourceRecord, SourceTask, SourceTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { describeTable, loadTypes } from './catalog.ts';
import type { CatalogTable } from './catalog.ts';
import { jobsDone, snapshotQueueName, type ChunkJobData, type ChunkJobResult } from './chunk-jobs.ts';
import { SnapshotMetaStore } from './chunk-queue.ts';
import { postgresCdcConfig, type PostgresCdcConfig } from './config.ts';
import { classify, connect, quoteLiteral } from './connection.ts';
import { TableEvents, eventOptions, snapshotRecord, type EventOptions } from './events.ts';
import { readChunk, type ReadMethod } from './snapshot.ts';
import { needsLookup, type TypeInfo } from './type-mapping.ts';

/** How long a taken job stays ours without a lock extension (BullMQ's lockDuration). */
const LOCK_MS = 10_000;
const STALLED_CHECK_MS = 5_000;
/** How long a job whose snapshot cannot be imported waits before it is tried again. */
const SNAPSHOT_GONE_RETRY_MS = 1_000;

class Closed extends Error {}

/** An error of Postgres (a SQLSTATE) or of a socket, rather than of Redis or BullMQ. */
function isPgError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || code.startsWith('E'))) return true;
  return e instanceof RetriableError || e instanceof FatalError || /Connection terminated|postgres/i.test((e as Error)?.message ?? '');
}

/** One job being read: rows go into a bounded buffer, records come out in polls. */
interface Reading {
  job: Job<ChunkJobData, ChunkJobResult>;
  batches: string[][][];
  buffered: number;
  done: boolean;
  failure: unknown;
  rows: number;
  events: TableEvents;
  /** Its lock was lost: read to the end, but not marked completed by this task. */
  lost: boolean;
}

export class ChunkWorkerTask implements SourceTask {
  private cfg!: PostgresCdcConfig;
  private context!: SourceTaskContext;
  private logger!: Logger;
  private partition: JsonObject = {};
  private opts!: EventOptions;
  /** Names this task instance in its offsets, and is its BullMQ lock token. */
  private readonly instance = randomUUID();
  private worker: Worker<ChunkJobData, ChunkJobResult> | undefined;
  private meta: SnapshotMetaStore | undefined;
  private client: pg.Client | undefined;
  private lockTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private reading: Reading | null = null;
  private dataWaiter: (() => void) | undefined;
  private spaceWaiter: (() => void) | undefined;
  /** Jobs read completely, waiting for commit(): `seq` is the jobs_done their last record carries. */
  private held: Array<{ seq: number; job: Job<ChunkJobData, ChunkJobResult>; rows: number }> = [];
  private finished = 0;

  private readonly types = new Map<number, TypeInfo>();
  private readonly tables = new Map<string, { table: CatalogTable; events: TableEvents }>();
  private chunksRead = 0;
  private chunksCompleted = 0;
  private rowsRead = 0;
  private currentChunk: string | null = null;
  private lastReport = 0;
  private lastChange = 0;

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    const cfg = postgresCdcConfig.parse(config);
    this.cfg = cfg;
    this.context = context;
    this.logger = context.logger;
    this.partition = Object.freeze({ server: cfg['topic.prefix'], snapshot_worker: context.taskId });
    this.opts = eventOptions(cfg);
    const url = cfg['redis.url'];
    if (!url) throw new Error('a chunk worker task needs redis.url');
    const queue = snapshotQueueName(context.connectorName);
    this.meta = new SnapshotMetaStore(url, context.connectorName);
    const worker = new Worker<ChunkJobData, ChunkJobResult>(queue, null, {
      connection: redisConnectionOptions(url),
      autorun: false,
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
      // A task that died is not the chunk's fault: never give a job up for stalling.
      maxStalledCount: 1000,
    });
    worker.on('error', (err) => this.logger.warn({ queue, err: err.message }, 'snapshot chunk queue error'));
    await worker.waitUntilReady();
    this.worker = worker;
    void worker.startStalledCheckTimer();
    this.lockTimer = setInterval(() => void this.extendLocks(), LOCK_MS / 3);
    this.report(true);
    this.logger.info({ queue }, 'postgres-cdc chunk worker started');
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    if (signal.aborted || this.closed) return [];
    this.report();
    let taken: Job<ChunkJobData, ChunkJobResult> | undefined;
    try {
      if (!this.reading) {
        const job = (await this.worker!.getNextJob(this.instance, { block: false })) as Job<ChunkJobData, ChunkJobResult> | undefined;
        taken = job;
        if (!job) {
          await sleep(this.cfg['poll.interval.ms'], signal);
          return [];
        }
        if (this.closed) {
          // stop() arrived while the job was being taken: it goes back at once.
          await job.moveToWait(this.instance).catch(() => {});
          return [];
        }
        if (!(await this.begin(job))) return [];
      }
      return await this.take(signal);
    } catch (e) {
      if (signal.aborted || this.closed) return [];
      const job = this.reading?.job ?? taken;
      this.reading = null;
      await this.client?.end().catch(() => {});
      this.client = undefined;
      // Someone (maybe this task, after the backoff) reads it again; its records so far stay delivered.
      if (job) await job.moveToDelayed(Date.now() + SNAPSHOT_GONE_RETRY_MS, this.instance).catch(() => {});
      if (isPgError(e)) throw classify(e, this.cfg, 'reading a snapshot chunk');
      throw new RetriableError(`Snapshot chunk job queue (redis.url) failed: ${(e as Error).message ?? String(e)}`, { cause: e });
    }
  }

  async commit(committed: Array<{ partition: JsonObject; offset: JsonObject }>): Promise<void> {
    let n = 0;
    for (const { partition, offset } of committed) {
      if (partition.server === this.partition.server && partition.snapshot_worker === this.partition.snapshot_worker) n = Math.max(n, jobsDone(offset, this.instance));
    }
    if (n === 0) return;
    while (this.held.length > 0 && this.held[0].seq <= n) {
      const h = this.held.shift()!;
      await this.complete(h.job, h.rows);
    }
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.dataWaiter?.();
    this.spaceWaiter?.();
    // Jobs not known to be delivered go back now, rather than when their locks expire.
    const back = [...this.held.map((h) => h.job), ...(this.reading ? [this.reading.job] : [])];
    this.held = [];
    this.reading = null;
    for (const job of back) await job.moveToWait(this.instance).catch(() => {});
    await this.client?.end().catch(() => {});
    this.client = undefined;
    await this.worker?.close().catch(() => {});
    await this.meta?.close().catch(() => {});
  }

  /** Imports the job's snapshot and starts reading; false when the job had to go back to the queue. */
  private async begin(job: Job<ChunkJobData, ChunkJobResult>): Promise<boolean> {
    const d = job.data;
    if (!this.client) this.client = await connect(this.cfg);
    const client = this.client;
    let imported = await this.importSnapshot(client, d.snapshot);
    if (!imported) {
      const meta = await this.meta!.get();
      if (!meta || meta.run !== d.run) {
        // The run was replaced (a fresh snapshot threw its queue away): this job is not part of it.
        this.logger.info({ job: job.id, run: d.run }, 'snapshot chunk job of a run that is over; dropping it');
        await job.remove().catch(() => {});
        return false;
      }
      if (meta.snapshot !== d.snapshot) imported = await this.importSnapshot(client, meta.snapshot);
      if (!imported) {
        this.logger.info({ job: job.id }, 'the snapshot of a chunk job is gone (task 0 is restarting); trying again in a moment');
        await job.moveToDelayed(Date.now() + SNAPSHOT_GONE_RETRY_MS, this.instance).catch(() => {});
        return false;
      }
    }
    const key = `${d.run}/${d.table}`;
    let meta = this.tables.get(key);
    if (!meta) {
      const t = await describeTable(client, { schema: d.schema, table: d.rel });
      if (!t) throw new FatalError(`Table ${d.table} of snapshot chunk job ${job.id} no longer exists in database ${this.cfg['database.dbname']}: it was dropped during the snapshot. Restart the connector's snapshot (reset its offsets) once the tables are stable.`);
      await this.ensureTypes(client, t.columns.map((c) => c.typeOid));
      meta = { table: t, events: new TableEvents({ schema: t.schema, table: t.table, columns: t.columns }, t, this.lookup, this.opts) };
      this.tables.set(key, meta);
    }
    const r: Reading = { job, batches: [], buffered: 0, done: false, failure: undefined, rows: 0, events: meta.events, lost: false };
    this.reading = r;
    this.currentChunk = job.id ?? null;
    this.report(true);
    const method = this.cfg['snapshot.read.method'] as ReadMethod;
    const batchRows = method === 'copy' ? Math.min(1024, this.cfg['snapshot.fetch.size']) : this.cfg['snapshot.fetch.size'];
    const capacity = Math.max(2 * this.cfg['max.batch.size'], 1024);
    readChunk(client, meta.table, d.range, method, batchRows, async (rows) => {
      if (this.closed || this.reading !== r) throw new Closed();
      if (rows.length > 0) {
        r.batches.push(rows);
        r.buffered += rows.length;
        r.rows += rows.length;
        this.dataWaiter?.();
      }
      while (r.buffered >= capacity && !this.closed && this.reading === r) await new Promise<void>((resolve) => (this.spaceWaiter = resolve));
    }).then(
      async () => {
        await client.query('commit');
        r.done = true;
        this.dataWaiter?.();
      },
      (e) => {
        if (!(e instanceof Closed)) r.failure = e;
        this.dataWaiter?.();
      },
    );
    return true;
  }

  /** SET TRANSACTION SNAPSHOT in a new REPEATABLE READ transaction; false when the snapshot is gone. */
  private async importSnapshot(client: pg.Client, snapshot: string): Promise<boolean> {
    await client.query('begin isolation level repeatable read read only');
    try {
      await client.query(`set transaction snapshot ${quoteLiteral(snapshot)}`);
      return true;
    } catch (e) {
      await client.query('rollback').catch(() => {});
      // 22023 invalid_parameter_value: "invalid snapshot identifier" (its transaction ended).
      if ((e as { code?: string }).code === '22023') return false;
      throw e;
    }
  }

  /** Up to max.batch.size records of the job being read, waiting up to poll.interval.ms for some. */
  private async take(signal: AbortSignal): Promise<SourceRecord[]> {
    const r = this.reading!;
    if (r.failure) throw r.failure;
    // One row stays back until the chunk is read, so that its last record is returned last and
    // can carry the new jobs_done count: with one row or none, wait for more or for the end.
    if (r.buffered <= 1 && !r.done) {
      await new Promise<void>((resolve) => {
        const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); this.dataWaiter = undefined; resolve(); };
        const timer = setTimeout(done, this.cfg['poll.interval.ms']);
        signal.addEventListener('abort', done, { once: true });
        this.dataWaiter = done;
      });
    }
    if (r.failure) throw r.failure;
    const max = Math.min(this.cfg['max.batch.size'], r.done ? r.buffered : r.buffered - 1);
    const rows: string[][] = [];
    while (r.batches.length > 0 && rows.length < max) {
      const batch = r.batches[0];
      const n = Math.min(batch.length, max - rows.length);
      if (n === batch.length) r.batches.shift();
      else r.batches[0] = batch.slice(n);
      for (let i = 0; i < n; i++) rows.push(batch[i]);
    }
    r.buffered -= rows.length;
    this.spaceWaiter?.();
    this.spaceWaiter = undefined;
    const last = r.done && r.buffered === 0;
    const now = Date.now();
    const offset: JsonObject = { run: this.instance, jobs_done: this.finished };
    const out = rows.map((row) => snapshotRecord(r.events, row, 'true', now, this.opts, this.partition, offset));
    this.rowsRead += rows.length;
    if (last) {
      this.reading = null;
      this.chunksRead++;
      if (r.lost) {
        // Not ours any more: the records go out, the job is left to whoever holds it.
      } else if (r.rows === 0) {
        await this.complete(r.job, 0);
      } else {
        this.finished++;
        this.held.push({ seq: this.finished, job: r.job, rows: r.rows });
        out[out.length - 1].sourceOffset = { run: this.instance, jobs_done: this.finished };
      }
      this.currentChunk = null;
      this.report(true);
    }
    return out;
  }

  private async complete(job: Job<ChunkJobData, ChunkJobResult>, rows: number): Promise<void> {
    try {
      await job.moveToCompleted({ rows, task: this.context.taskId }, this.instance, false);
      this.chunksCompleted++;
      this.report(true);
    } catch (e) {
      // The lock was lost (this task was too slow and another took the job) or the run was
      // dropped: the other reader delivers it, or nobody needs it any more.
      this.logger.warn({ job: job.id, err: (e as Error).message }, 'could not mark a snapshot chunk job completed');
    }
  }

  /**
   * Progress: at once on a new chunk, a chunk read or completed; and again each second for a few
   * seconds after a change, since the runtime writes a task's status at most once a second (a
   * report right after another shows only with the next one). An idle worker writes nothing.
   */
  private report(now = false): void {
    const t = Date.now();
    if (now) this.lastChange = t;
    else if (t - this.lastReport < 1000 || t - this.lastChange > 3000) return;
    this.lastReport = t;
    this.context.reportProgress({
      phase: 'snapshot chunk worker',
      snapshotChunksRead: this.chunksRead,
      snapshotChunksCompleted: this.chunksCompleted,
      snapshotRowsRead: this.rowsRead,
      snapshotChunk: this.currentChunk,
    });
  }

  /**
   * Keeps the jobs this task holds. A lock found lost (this task stalled past it, or a new run
   * threw the queue away) means the job is someone else's or nobody's now: it is let go, and
   * only its records already returned stay delivered (at least once).
   */
  private async extendLocks(): Promise<void> {
    const jobs = [...this.held.map((h) => h.job), ...(this.reading && !this.reading.lost ? [this.reading.job] : [])];
    for (const job of jobs) {
      let kept: boolean;
      try {
        kept = Number(await job.extendLock(this.instance, LOCK_MS)) === 1;
      } catch (e) {
        this.logger.warn({ job: job.id, err: (e as Error).message }, 'could not extend the lock of a snapshot chunk job');
        continue;
      }
      if (kept) continue;
      this.logger.warn({ job: job.id }, 'lost the lock of a snapshot chunk job; letting it go');
      this.held = this.held.filter((h) => h.job !== job);
      if (this.reading?.job === job) this.reading.lost = true;
    }
  }

  private readonly lookup = (oid: number): TypeInfo | undefined => this.types.get(oid);

  private async ensureTypes(client: pg.Client, oids: number[]): Promise<void> {
    const missing = [...new Set(oids.filter((o) => needsLookup(o) && !this.types.has(o)))];
    if (missing.length === 0) return;
    for (const t of await loadTypes(client, missing)) this.types.set(t.oid, t);
  }
}
