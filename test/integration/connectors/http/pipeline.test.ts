// A real worker process: webhooks in through the HTTP receiver, out through the HTTP sink to a
// real server, with the sink's 400s in the dead-letter queue. Standalone, on in-process topics, so
// the receiver answers once the sink has flushed the records.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../infra/env.ts';
import { eventually, freePort, http, startWorkerProcess, type WorkerProcess } from '../../../helpers/worker-process.ts';
import { startServer, type TestServer } from './test-server.ts';

let worker: WorkerProcess;
let target: TestServer;
let receiverUrl = '';
const topic = uniqueName('http-in');
const dlq = uniqueName('http-dlq');
const apiKey = `key-${uniqueName('secret')}`;

async function running(name: string): Promise<boolean> {
  const s = await http('GET', `${worker.url}/connectors/${name}/status`);
  return s.status === 200 && s.body.connector.state === 'RUNNING' && s.body.tasks.length > 0 && s.body.tasks.every((t: { state: string }) => t.state === 'RUNNING');
}

beforeAll(async () => {
  target = await startServer((req, res) => {
    res.statusCode = req.body.includes('"bad"') ? 400 : 200;
    res.end(res.statusCode === 400 ? '{"error":"bad is not allowed"}' : 'ok');
  });
  worker = await startWorkerProcess({ env: { HOOK_API_KEY: apiKey } });
  const port = await freePort();
  receiverUrl = `http://127.0.0.1:${port}/in`;
  const created = await Promise.all([
    http('POST', `${worker.url}/connectors`, {
      name: 'hooks-in',
      config: { 'connector.class': 'HttpReceiver', topic, 'http.listener.port': String(port), 'http.listener.path': '/in', 'http.receiver.buffer.max.records': '50' },
    }),
    http('POST', `${worker.url}/connectors`, {
      name: 'hooks-out',
      config: {
        'connector.class': 'io.aiven.kafka.connect.http.HttpSinkConnector',
        topics: topic,
        'http.url': `${target.url}/out/\${topic}`,
        'http.allowed.hosts': '127.0.0.1',
        // A header from a config provider: resolved on the worker, never stored or logged.
        'http.authorization.type': 'static',
        'http.authorization.header': 'X-API-Key',
        'http.headers.authorization': '${env:HOOK_API_KEY}',
        'errors.tolerance': 'all',
        'errors.deadletterqueue.topic.name': dlq,
        'errors.deadletterqueue.context.headers.enable': 'true',
      },
    }),
  ]);
  expect(created.map((c) => c.status)).toEqual([201, 201]);
  await eventually(async () => (await running('hooks-in')) && (await running('hooks-out')), 30_000, 'connectors running');
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await target?.close();
});

describe('HTTP receiver -> topic -> HTTP sink in a worker process', () => {
  it('delivers webhooks before answering them, and dead-letters what the target rejects with 400', async () => {
    const res = await http('POST', receiverUrl, [{ id: 'a1' }, { id: 'a2', bad: true }, { id: 'a3' }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 3 });
    // Answered only after the sink flushed: the target already has them.
    const bodies = target.requests.map((r) => JSON.parse(r.body));
    expect(bodies).toEqual([{ id: 'a1' }, { id: 'a2', bad: true }, { id: 'a3' }]);
    expect(target.requests.every((r) => r.url === `/out/${topic}` && r.headers['x-api-key'] === apiKey)).toBe(true);
    expect(worker.output()).not.toContain(apiKey);
    const stored = await http('GET', `${worker.url}/connectors/hooks-out/config`);
    expect(JSON.stringify(stored.body)).not.toContain(apiKey);
    const dlqFile = join(worker.stateDir, 'dlq', `${dlq}.jsonl`);
    const lines = (await eventually(async () => (await readFile(dlqFile, 'utf8')).trim(), 10_000, 'DLQ file')).split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0].value).toEqual({ id: 'a2', bad: true });
    const message = lines[0].headers.find((h: { key: string }) => h.key === '__connect.errors.exception.message')?.value;
    expect(message).toContain('HTTP 400');
    expect(message).toContain('bad is not allowed');
  });

  it('answers 429 under load instead of buffering without bound; every accepted record arrives, no refused one does', async () => {
    const before = target.requests.length;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => http('POST', receiverUrl, Array.from({ length: 10 }, (_, j) => ({ id: `b${i}-${j}` })))),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(results.filter((r) => r.status === 429).every((r) => r.headers.get('retry-after') === '1')).toBe(true);
    const accepted = new Set(results.flatMap((r, i) => (r.status === 200 ? Array.from({ length: 10 }, (_, j) => `b${i}-${j}`) : [])));
    const arrived = target.requests.slice(before).map((r) => JSON.parse(r.body).id as string);
    // Each 200 came after its records were delivered, so they are all there already.
    expect(new Set(arrived)).toEqual(accepted);
  });

  it('rejects invalid URLs and templates at validation with the field named', async () => {
    const v = await http('PUT', `${worker.url}/connector-plugins/HttpSink/config/validate`, {
      'connector.class': 'HttpSink', name: 'bad', topics: 'x', 'http.url': 'http://127.0.0.1/${nope}',
    });
    expect(v.status).toBe(200);
    expect(v.body.error_count).toBeGreaterThan(0);
    const field = v.body.configs.find((c: { value: { name: string } }) => c.value.name === 'http.url');
    expect(field.value.errors.join(' ')).toContain('Unknown placeholder');
    const created = await http('POST', `${worker.url}/connectors`, { name: 'bad-url', config: { 'connector.class': 'HttpSink', topics: 'x', 'http.url': 'not a url' } });
    expect(created.status).toBe(400);
    expect(created.body.message).toContain('http.url');
  });
});
