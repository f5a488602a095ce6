/**
 * Durable retries on Redis with BullMQ: a request that still fails after the task's own retries
 * becomes a delayed job, so `put` returns and the partition advances. Jobs are retried with
 * exponential backoff by a BullMQ worker in every task of the connector (whichever is free), and
 * their attempts live in Redis, so they survive a worker restart. A job that is rejected (4xx) or
 * runs out of attempts goes to the dead-letter queue through the task's errant record reporter.
 *
 * Jobs hold the request body and the records' coordinates, never headers: authorization is added
 * again when a job is sent, so no secret is written to Redis.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { redisConnectionOptions, type Logger } from '../../runtime/api/index.ts';
import { backoffMs } from './http-client.ts';

export interface RetryRecord {
  topic: string;
  kafkaPartition: number;
  kafkaOffset: number;
  key: unknown;
  value: unknown;
}

export interface RetryJob {
  url: string;
  body: string;
  contentType: string;
  records: RetryRecord[];
  firstFailedAt: number;
  reason: string;
}

export type JobOutcome = { ok: true } | { ok: false; rejected: string } | { ok: false; retriable: string };

export interface DurableRetriesOptions {
  redisUrl: string;
  queueName: string;
  attempts: number;
  backoffMs: number;
  /** The longest delay between two attempts. */
  backoffMaxMs: number;
  concurrency: number;
  logger: Logger;
  send(job: RetryJob): Promise<JobOutcome>;
  /** The job's records cannot be delivered: send them to the dead-letter queue. */
  giveUp(job: RetryJob, reason: string): Promise<void>;
}

export class DurableRetries {
  private readonly o: DurableRetriesOptions;
  private readonly queue: Queue<RetryJob>;
  private worker: Worker<RetryJob> | null = null;
  /** A failure the runtime must hear about (the reporter threw: errors.tolerance=none). */
  fatal: unknown;

  constructor(options: DurableRetriesOptions) {
    this.o = options;
    this.queue = new Queue<RetryJob>(options.queueName, { connection: redisConnectionOptions(options.redisUrl) });
  }

  async start(): Promise<void> {
    await this.queue.waitUntilReady();
    const worker = new Worker<RetryJob>(this.o.queueName, (job) => this.process(job), {
      connection: redisConnectionOptions(this.o.redisUrl),
      concurrency: this.o.concurrency,
      // A job whose worker died (kill -9) is taken over after its lock expires: within about
      // 15 s rather than BullMQ's default 30-60 s; and a crash does not count as a failure.
      lockDuration: 10_000,
      stalledInterval: 5_000,
      maxStalledCount: 1000,
      // Doubling from backoffMs, capped, with jitter (BullMQ's own exponential has no cap).
      settings: { backoffStrategy: (attemptsMade) => backoffMs(attemptsMade, this.o.backoffMs, this.o.backoffMaxMs) },
    });
    worker.on('failed', (job, err) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade < attempts) {
        this.o.logger.warn({ queue: this.o.queueName, job: job.id, attempt: job.attemptsMade, of: attempts, reason: err.message }, 'durable retry failed; will retry');
        return;
      }
      void this.o.giveUp(job.data, `gave up after ${attempts} durable retries: ${err.message}`).catch((e) => (this.fatal ??= e));
    });
    worker.on('error', (err) => this.o.logger.warn({ queue: this.o.queueName, err: err.message }, 'retry queue worker error'));
    await worker.waitUntilReady();
    this.worker = worker;
  }

  /** Durably park a request for later; resolves once Redis has it. */
  async add(job: RetryJob): Promise<void> {
    await this.queue.add('deliver', job, {
      delay: this.o.backoffMs,
      attempts: this.o.attempts,
      backoff: { type: 'capped-exponential' },
      removeOnComplete: true,
      removeOnFail: 1000,
    });
  }

  /** Jobs waiting or delayed or running, and the age of the oldest request among them. */
  async stats(): Promise<{ depth: number; oldestAgeMs: number }> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children');
    const depth = Object.values(counts).reduce((a, b) => a + b, 0);
    if (depth === 0) return { depth, oldestAgeMs: 0 };
    const jobs = await this.queue.getJobs(['waiting', 'delayed', 'active'], 0, 999);
    const oldest = Math.min(...jobs.map((j) => j.data.firstFailedAt ?? j.timestamp));
    return { depth, oldestAgeMs: Math.max(0, Date.now() - oldest) };
  }

  private async process(job: Job<RetryJob>): Promise<void> {
    const outcome = await this.o.send(job.data);
    if (outcome.ok) return;
    if ('rejected' in outcome) {
      await this.o.giveUp(job.data, outcome.rejected).catch((e) => (this.fatal ??= e));
      return;
    }
    throw new Error(outcome.retriable);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
