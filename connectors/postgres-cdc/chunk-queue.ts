/**
 * The Redis side of snapshot chunk jobs (chunk-jobs.ts explains the design): the queue task 0
 * fills and watches, and the meta record naming the run and the snapshot to import. Loaded only
 * when redis.url is set: BullMQ and ioredis cost a worker ~30 MB and most of a second to import.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { redisConnectionOptions, type Logger } from '../../runtime/api/index.ts';
import { snapshotMetaKey, snapshotQueueName, type ChunkJobData, type ChunkJobResult, type SnapshotMeta } from './chunk-jobs.ts';

/** The meta record, read by task 0 and by chunk workers whose job names a snapshot that is gone. */
export class SnapshotMetaStore {
  private readonly redis: Redis;
  private readonly key: string;

  constructor(redisUrl: string, connector: string) {
    this.redis = new Redis({ ...redisConnectionOptions(redisUrl), lazyConnect: true });
    // A lost connection surfaces through the next command; never as an unhandled 'error' event.
    this.redis.on('error', () => {});
    this.key = snapshotMetaKey(connector);
  }

  async get(): Promise<SnapshotMeta | null> {
    const raw = await this.redis.get(this.key);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as SnapshotMeta;
    } catch {
      return null;
    }
  }

  async set(meta: SnapshotMeta): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(meta));
  }

  async delete(): Promise<void> {
    await this.redis.del(this.key);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

const PENDING_STATES = ['waiting', 'delayed', 'prioritized', 'failed'] as const;

/** Task 0's handle on the queue of one connector's snapshot chunks. */
export class SnapshotJobQueue {
  readonly name: string;
  readonly meta: SnapshotMetaStore;
  private readonly queue: Queue<ChunkJobData, ChunkJobResult>;
  private readonly logger: Logger;

  constructor(redisUrl: string, connector: string, logger: Logger) {
    this.name = snapshotQueueName(connector);
    this.queue = new Queue<ChunkJobData, ChunkJobResult>(this.name, { connection: redisConnectionOptions(redisUrl) });
    this.meta = new SnapshotMetaStore(redisUrl, connector);
    this.logger = logger;
  }

  async ready(): Promise<void> {
    await this.queue.waitUntilReady();
  }

  /** A new run: whatever the queue held is thrown away, then the meta record and every job are written. */
  async startRun(meta: SnapshotMeta, jobs: Array<{ id: string; data: ChunkJobData }>): Promise<void> {
    await this.meta.delete();
    await this.queue.obliterate({ force: true });
    await this.meta.set(meta);
    for (let i = 0; i < jobs.length; i += 500) {
      await this.queue.addBulk(jobs.slice(i, i + 500).map((j) => ({
        name: 'chunk',
        data: j.data,
        // Completed jobs stay until the snapshot is done: they are what a restarted task 0 skips.
        opts: { jobId: j.id, removeOnComplete: false, removeOnFail: false, attempts: 1 },
      })));
    }
  }

  /**
   * The same run after a restart of task 0, in a new snapshot: the meta record names it first
   * (a worker failing to import the old one looks there), then every job not taken yet gets it.
   * A job being read keeps its snapshot: once imported it outlives the transaction that exported it.
   */
  async continueRun(meta: SnapshotMeta): Promise<void> {
    await this.meta.set(meta);
    const jobs = (await this.queue.getJobs([...PENDING_STATES], 0, -1)) as Array<Job<ChunkJobData, ChunkJobResult>>;
    for (const job of jobs) {
      if (!job?.data) continue;
      await job.updateData({ ...job.data, snapshot: meta.snapshot, generation: meta.generation });
      const state = await job.getState();
      if (state === 'delayed') await job.promote().catch(() => {});
      else if (state === 'failed') await job.retry('failed').catch(() => {});
    }
    this.logger.info({ queue: this.name, run: meta.run, generation: meta.generation, updated: jobs.length }, 'snapshot chunk jobs: continuing the run in a new snapshot');
  }

  async counts(): Promise<{ completed: number; total: number }> {
    const c = await this.queue.getJobCounts('completed', 'waiting', 'delayed', 'active', 'prioritized', 'failed');
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    return { completed: c.completed ?? 0, total };
  }

  /** Rows per task of the completed jobs (for the log line at the end). */
  async rowsByTask(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const jobs = (await this.queue.getJobs(['completed'], 0, -1)) as Array<Job<ChunkJobData, ChunkJobResult>>;
    for (const j of jobs) {
      const r = j?.returnvalue;
      if (r && typeof r.rows === 'number') out[`task${r.task}`] = (out[`task${r.task}`] ?? 0) + r.rows;
    }
    return out;
  }

  /** Drop the run: its jobs and meta record (after the snapshot's end was committed, or on delete). */
  async cleanup(): Promise<void> {
    await this.meta.delete();
    await this.queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await this.meta.close();
    await this.queue.close();
  }
}
