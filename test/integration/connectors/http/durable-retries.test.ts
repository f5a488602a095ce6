// Durable retries on the real Redis: while the target answers 503, every request is parked as a
// BullMQ job (the sink's partition advances), the queue is visible in the task status, and after a
// kill -9 and a restart the jobs are delivered by the new worker: nothing is lost.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { redisConnectionOptions } from '../../../../runtime/api/index.ts';
import { eventually, http, startWorkerProcess, tempDir, type WorkerProcess } from '../../../helpers/worker-process.ts';
import { services, uniqueName } from '../../../infra/env.ts';
import { startServer, type TestServer } from './test-server.ts';

const N = 20;
const queueName = uniqueName('http-retry');
const queue = new Queue(queueName, { connection: redisConnectionOptions(services.redis.url) });
let target: TestServer | undefined;
const workers: WorkerProcess[] = [];

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) await w.kill9();
  await target?.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
});

async function parked(): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

describe('HTTP sink durable retries (BullMQ)', () => {
  it('parks failing requests in Redis so the partition advances, and delivers them after a worker restart', async () => {
    let down = true;
    const delivered = new Set<string>();
    target = await startServer((req, res) => {
      if (down) {
        res.statusCode = 503;
        res.end('maintenance');
        return;
      }
      delivered.add(req.body);
      res.end('ok');
    });
    const stateDir = tempDir('http-durable');
    const input = join(stateDir, 'in.txt');
    await writeFile(input, Array.from({ length: N }, (_, i) => `r${i}`).join('\n') + '\n');
    const topic = uniqueName('http-durable');
    const first = await startWorkerProcess({ stateDir });
    workers.push(first);
    expect((await http('POST', `${first.url}/connectors`, { name: 'lines', config: { 'connector.class': 'FileStreamSource', file: input, topic } })).status).toBe(201);
    expect((await http('POST', `${first.url}/connectors`, {
      name: 'to-api',
      config: {
        'connector.class': 'HttpSink', topics: topic, 'http.url': `${target.url}/ingest`,
        'max.retries': '0', 'redis.url': services.redis.url, 'retry.queue.name': queueName,
        'retry.queue.backoff.ms': '200', 'retry.backoff.max.ms': '1000', 'retry.queue.max.attempts': '1000',
      },
    })).status).toBe(201);

    // Every record is parked, none blocks the partition, and the depth shows in the task status.
    await eventually(async () => (await parked()) === N, 30_000, `${N} parked jobs`);
    const status = await eventually(async () => {
      const s = await http('GET', `${first.url}/connectors/to-api/status`);
      return s.body.tasks?.[0]?.progress?.['retry.queue.depth'] > 0 ? s.body : null;
    }, 15_000, 'retry.queue.depth in the status');
    expect(status.tasks[0].progress['retry.queue.oldest.age.ms']).toBeGreaterThanOrEqual(0);
    await eventually(async () => {
      const jobs = await queue.getJobs(['delayed', 'waiting'], 0, -1);
      return jobs.some((j) => j.attemptsMade > 0);
    }, 15_000, 'jobs retried in the background');
    expect(delivered.size).toBe(0);

    await first.kill9();
    expect(await parked()).toBe(N); // the attempts are in Redis, not in the dead process
    down = false;
    const second = await startWorkerProcess({ stateDir });
    workers.push(second);
    await eventually(async () => delivered.size === N && (await parked()) === 0, 45_000, 'every parked record delivered').catch(async (e) => {
      throw new Error(`${e.message}: delivered ${delivered.size}, counts ${JSON.stringify(await queue.getJobCounts())}\n${second.output().slice(-3000)}`);
    });
    expect([...delivered].sort()).toEqual(Array.from({ length: N }, (_, i) => `r${i}`).sort());
    // The jobs completed (none gave up into the DLQ): the parked requests themselves were delivered.
    expect(await queue.getJobCounts('failed', 'completed')).toEqual({ failed: 0, completed: 0 });
    await second.stop();
  });
});
