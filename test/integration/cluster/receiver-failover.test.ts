/**
 * The HTTP receiver in a worker group: its listener follows its task. Only the worker running the
 * task listens on the receiver's port; when that worker dies the task (and so the listener) starts
 * on a survivor, and a sender that retries lands there. (Behind a load balancer that health-checks
 * the port on every worker host, the address never changes.) Every request answered 200 is in Kafka.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../infra/env.ts';
import { TestCluster, brokers } from '../../helpers/cluster.ts';
import { readTopic } from '../../helpers/kafka-topic.ts';
import { eventually, freePort, http } from '../../helpers/worker-process.ts';

const cluster = new TestCluster();
const topic = uniqueName('webhooks');

/** POST until a worker answers (connection refused while the task moves); returns the status. */
async function send(url: string, event: unknown): Promise<number> {
  return eventually(async () => {
    try {
      return (await http('POST', url, event)).status;
    } catch {
      return 0;
    }
  }, 60_000, `a receiver answering at ${url}`);
}

describe('HTTP receiver in distributed mode', () => {
  beforeAll(() => cluster.start(2), 90_000);
  afterAll(() => cluster.stopAll(), 60_000);

  it('follows its task to a surviving worker; every event acknowledged with 200 is in the topic', async () => {
    const port = await freePort();
    const receiver = `http://127.0.0.1:${port}/events`;
    const config = {
      'connector.class': 'webhook',
      topic,
      'http.listener.port': String(port),
      'http.listener.path': '/events',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter.schemas.enable': 'false',
    };
    expect((await http('POST', `${cluster.url(1)}/connectors`, { name: 'hooks', config })).status).toBe(201);
    await eventually(() => cluster.allRunning(0, 'hooks', 1), 60_000, 'receiver running');
    const acked: number[] = [];
    for (let i = 0; i < 20; i++) if ((await send(receiver, { n: i })) === 200) acked.push(i);
    expect(acked).toHaveLength(20);

    const owner = (await cluster.status(0, 'hooks')).tasks[0]!.worker_id;
    const index = Number(owner.slice(1));
    await cluster.kill9(index);
    const survivor = 1 - index;
    // A sender that retries lands on the survivor once the task moved.
    for (let i = 20; i < 40; i++) if ((await send(receiver, { n: i })) === 200) acked.push(i);
    expect(acked).toHaveLength(40);
    expect((await cluster.status(survivor, 'hooks')).tasks[0]!.worker_id).toBe(`w${survivor}`);

    const got = new Set((await readTopic(brokers, topic)).map((r) => (JSON.parse(r.value!.toString('utf8')) as { n: number }).n));
    for (const n of acked) expect(got.has(n), `event ${n} was acknowledged but is not in ${topic}`).toBe(true);
  }, 180_000);
});
