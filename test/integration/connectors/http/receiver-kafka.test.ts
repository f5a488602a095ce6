// The receiver over real Kafka: a request is answered once its records are acknowledged by the
// broker, with no sink running at all; a sink created afterwards finds them in the topic.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, freePort, http, startWorkerProcess, tempDir, type WorkerProcess } from '../../../helpers/worker-process.ts';
import { kafkaBrokers, uniqueName } from '../../../infra/env.ts';

const topic = uniqueName('http-recv-kafka');
let worker: WorkerProcess | undefined;

afterAll(async () => {
  await worker?.stop();
  const admin = new Admin({ clientId: uniqueName('http-recv-cleanup'), bootstrapBrokers: kafkaBrokers() });
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.close();
});

describe('HTTP receiver over Kafka', () => {
  it('answers once Kafka has the records, before any sink reads them', async () => {
    worker = await startWorkerProcess({ env: { TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(',') } });
    const port = await freePort();
    const created = await http('POST', `${worker.url}/connectors`, {
      name: 'recv',
      config: { 'connector.class': 'HttpReceiver', topic, 'http.listener.port': String(port), 'http.receiver.format': 'ndjson' },
    });
    expect(created.status).toBe(201);
    const url = `http://127.0.0.1:${port}/`;
    await eventually(async () => (await fetch(url, { method: 'POST', body: '' })).status === 200, 30_000, 'receiver listening');

    const res = await http('POST', url, '{"id":1}\n{"id":2}\n{"id":3}\n', { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 3 });
    const admin = new Admin({ clientId: uniqueName('http-recv-check'), bootstrapBrokers: kafkaBrokers() });
    try {
      expect(await admin.listTopics()).toContain(topic);
    } finally {
      await admin.close();
    }

    const out = join(tempDir('http-recv-kafka'), 'out.jsonl');
    await http('POST', `${worker.url}/connectors`, { name: 'file', config: { 'connector.class': 'FileStreamSink', topics: topic, file: out } });
    const lines = await eventually(async () => {
      const l = (await readFile(out, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      return l.length >= 3 ? l : null;
    }, 30_000, 'records read back from Kafka');
    expect(lines!.map((l) => JSON.parse(l))).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });
});
