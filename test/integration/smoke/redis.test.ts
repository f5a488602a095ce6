// The test Redis runs BullMQ: a job added to a Queue is processed by a Worker and its result returned.
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { ConnectionOptions } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { services, uniqueName } from '../../infra/env.ts';

const url = new URL(services.redis.url);
const connection: ConnectionOptions = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const queueName = uniqueName('smoke-queue');
const closers: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

describe('redis (smoke)', () => {
  it('round-trips a BullMQ job through a Queue and a Worker', async () => {
    const queue = new Queue<{ a: number; b: number }, number>(queueName, { connection });
    closers.push(async () => {
      await queue.obliterate({ force: true });
      await queue.close();
    });
    const events = new QueueEvents(queueName, { connection });
    closers.push(() => events.close());
    const worker = new Worker<{ a: number; b: number }, number>(queueName, async (job) => job.data.a + job.data.b, { connection });
    closers.push(() => worker.close());
    await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);

    const job = await queue.add('add', { a: 20, b: 22 });
    const result = await job.waitUntilFinished(events, 30_000);
    expect(result).toBe(42);
    expect(await queue.getJobCounts('completed')).toEqual({ completed: 1 });
  });
});
