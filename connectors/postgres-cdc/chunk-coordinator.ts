/**
 * Task 0's side of a snapshot read as chunk jobs (chunk-jobs.ts explains the design): start or
 * continue the run, then watch the queue until every chunk job is completed. Task 0 reads no chunk
 * itself: it holds the exported snapshot open (its transaction must outlive every chunk), keeps the
 * slot, and streams afterwards; reading as well would put rows of its own between those decisions
 * in one poll loop for little gain, since tasks.max adds readers anywhere in the cluster.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { RetriableError } from '../../runtime/api/index.ts';
import type { JsonObject, Logger } from '../../runtime/api/index.ts';
import type { CatalogTable } from './catalog.ts';
import { chunkJobs, runOf } from './chunk-jobs.ts';
import { SnapshotJobQueue } from './chunk-queue.ts';
import { planTables, type SnapshotResume } from './parallel-snapshot.ts';

export interface CoordinatorStart {
  redisUrl: string;
  connector: string;
  logger: Logger;
  /** Connection 0, inside the snapshot named `snapshot`. */
  catalog: pg.Client;
  snapshot: string;
  /** Tables not done according to the stored offset. */
  tables: CatalogTable[];
  /** Task 0's stored offset (null on a first start) and what it says was delivered in-task. */
  stored: JsonObject | null;
  resume: SnapshotResume;
  lsn: number;
  chunkRows: number;
}

export class ChunkJobCoordinator {
  readonly run: string;
  readonly generation: number;
  /** The offset task 0 stores while the run is in progress: a restart continues the run. */
  readonly inProgressOffset: JsonObject;
  private readonly queue: SnapshotJobQueue;
  private readonly rowsEstimated: number;
  /** Jobs the run was planned with: fewer in the queue means some were lost. */
  private readonly expected: number;
  private completed = 0;
  private total = 0;

  private constructor(queue: SnapshotJobQueue, run: string, generation: number, inProgressOffset: JsonObject, rowsEstimated: number, expected: number) {
    this.queue = queue;
    this.expected = expected;
    this.run = run;
    this.generation = generation;
    this.inProgressOffset = inProgressOffset;
    this.rowsEstimated = rowsEstimated;
  }

  static async start(o: CoordinatorStart): Promise<ChunkJobCoordinator> {
    const queue = new SnapshotJobQueue(o.redisUrl, o.connector, o.logger);
    try {
      await queue.ready();
      const meta = await queue.meta.get();
      const storedRun = runOf(o.stored);
      let run: string;
      let generation: number;
      // A run is continued only whole: if jobs of it are gone from Redis (someone emptied the
      // queue), counting the rest as the snapshot would lose rows, so a new run starts instead.
      const whole = storedRun !== null && meta?.run === storedRun && (await queue.counts()).total >= meta.jobs;
      if (storedRun && meta && whole) {
        run = storedRun;
        generation = meta.generation + 1;
        await queue.continueRun({ ...meta, generation, snapshot: o.snapshot });
      } else {
        run = randomUUID();
        generation = 1;
        const plan = await planTables(o.catalog, o.tables, o.resume, o.chunkRows, o.logger);
        const jobs = chunkJobs(plan, run, o.snapshot, generation);
        await queue.startRun({ run, generation, snapshot: o.snapshot, jobs: jobs.length }, jobs);
        o.logger.info({ queue: queue.name, run, tables: plan.length, jobs: jobs.length, replaced: meta?.run ?? null }, 'snapshot chunk jobs enqueued');
      }
      const inProgressOffset: JsonObject = {
        lsn: o.lsn,
        snapshot: true,
        snapshot_done: [...o.resume.done],
        snapshot_chunks: (o.stored?.snapshot === true && o.stored.snapshot_chunks && typeof o.stored.snapshot_chunks === 'object' ? o.stored.snapshot_chunks : {}) as JsonObject,
        snapshot_jobs: run,
      };
      const expected = (await queue.meta.get())?.jobs ?? 0;
      const c = new ChunkJobCoordinator(queue, run, generation, inProgressOffset, o.tables.reduce((a, t) => a + Math.max(0, t.estimatedRows), 0), expected);
      await c.refresh();
      return c;
    } catch (e) {
      await queue.close().catch(() => {});
      throw e;
    }
  }

  /** Reads the job counts; true once every chunk job of the run is completed. */
  async refresh(): Promise<boolean> {
    const c = await this.queue.counts();
    this.completed = c.completed;
    this.total = c.total;
    if (this.total < this.expected) {
      // Restarting task 0 starts a new run (start() sees the run is not whole).
      throw new RetriableError(`The snapshot chunk jobs of run ${this.run} in Redis queue ${this.queue.name} are incomplete (${this.total} of ${this.expected}): someone removed jobs. Starting the snapshot again as a new run.`);
    }
    return this.completed >= this.total;
  }

  progress(): Record<string, unknown> {
    return {
      phase: 'snapshot',
      snapshotChunksDone: this.completed,
      snapshotChunksTotal: this.total,
      snapshotRowsEstimated: this.rowsEstimated,
      snapshotChunkJobs: this.queue.name,
      snapshotRun: this.run,
      snapshotGeneration: this.generation,
    };
  }

  rowsByTask(): Promise<Record<string, number>> {
    return this.queue.rowsByTask();
  }

  /** Throws the run's jobs and meta record away: once the snapshot's end is committed. */
  cleanup(): Promise<void> {
    return this.queue.cleanup();
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
