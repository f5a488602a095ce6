/**
 * Standalone features that need a real worker process: connector files applied and re-applied on
 * change, automatic restarts of failed tasks, and real Kafka topics for data when brokers are set.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { KafkaBus } from '../../../runtime/engine/kafka-bus.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';
import { eventually, http, startWorkerProcess, tempDir, type WorkerProcess } from '../../helpers/worker-process.ts';

let worker: WorkerProcess | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('task progress in the status', () => {
  it('shows the last progress of a burst: the demo source reports every poll, then done', async () => {
    worker = await startWorkerProcess();
    const config = { 'connector.class': 'demo', topic: uniqueName('progress'), rate: '0', 'batch.size': '100', 'max.records': '1000' };
    expect((await http('POST', `${worker.url}/connectors`, { name: 'p', config })).status).toBe(201);
    // Ten polls and the final `done` all fall within the first second: progress writes are
    // throttled to one a second, and the trailing one must carry the last update.
    const progress = await eventually(async () => {
      const p = (await http('GET', `${worker!.url}/connectors/p/status`)).body.tasks?.[0]?.progress;
      return p?.done === true ? p : null;
    }, 20_000, 'progress done');
    expect(progress).toMatchObject({ generated: 1000, limit: 1000, done: true });
  });
});

describe('connectors from files', () => {
  it('applies a folder at start, then creates, updates and deletes as files change', async () => {
    const dir = tempDir('files');
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ name: 'a', config: { 'connector.class': 'demo', topic: 'a', rate: '10' } }));
    worker = await startWorkerProcess({ env: { TRIBUTARY_CONNECTORS_DIR: dir } });
    await eventually(async () => JSON.stringify((await http('GET', `${worker!.url}/connectors`)).body) === '["a"]', 20_000, 'a applied at start');

    writeFileSync(join(dir, 'b.json'), JSON.stringify({ name: 'b', config: { 'connector.class': 'demo', topic: 'b', rate: '10' } }));
    await eventually(async () => (await http('GET', `${worker!.url}/connectors`)).body.length === 2, 20_000, 'b created');

    writeFileSync(join(dir, 'a.json'), JSON.stringify({ name: 'a', config: { 'connector.class': 'demo', topic: 'a', rate: '20' } }));
    await eventually(async () => (await http('GET', `${worker!.url}/connectors/a/config`)).body.rate === '20', 20_000, 'a updated');

    writeFileSync(join(dir, 'broken.json'), '{"name": "c", "config": {');
    rmSync(join(dir, 'b.json'));
    await eventually(async () => JSON.stringify((await http('GET', `${worker!.url}/connectors`)).body) === '["a"]', 20_000, 'b deleted');
    // The warning comes over the worker's stdout, which may reach us after the REST answer.
    await eventually(async () => /broken\.json: not valid JSON/.test(worker!.output()), 10_000, 'broken.json warned about');

    // A file removed while the worker is down is noticed at the next start.
    await worker.stop();
    rmSync(join(dir, 'a.json'));
    worker = await startWorkerProcess({ stateDir: worker.stateDir, env: { TRIBUTARY_CONNECTORS_DIR: dir } });
    await eventually(async () => JSON.stringify((await http('GET', `${worker!.url}/connectors`)).body) === '[]', 20_000, 'a deleted after restart');
  });
});

describe('idempotent config writes', () => {
  it('PUT of the same config changes nothing and restarts nothing', async () => {
    worker = await startWorkerProcess();
    const config = { 'connector.class': 'demo', topic: 'same', rate: '10' };
    expect((await http('PUT', `${worker.url}/connectors/same/config`, config)).status).toBe(201);
    expect((await http('PUT', `${worker.url}/connectors/same/config`, config)).status).toBe(200);
    expect((await http('PUT', `${worker.url}/connectors/same/config`, { ...config, rate: '20' })).status).toBe(200);
    await eventually(async () => (worker!.output().match(/connector same started/g) ?? []).length === 2, 10_000, 'two starts');
    await new Promise((r) => setTimeout(r, 300));
    expect((worker.output().match(/connector same started/g) ?? []).length).toBe(2);
  });
});

describe('signals to a connector\'s tasks (POST /connectors/<n>/signals)', () => {
  it('hands the signal to every running task; a type no task handles, a sink, a bad body and a stopped connector are refused', async () => {
    worker = await startWorkerProcess();
    const source = { 'connector.class': 'demo', topic: 'signalled', rate: '10', 'tasks.max': '2' };
    expect((await http('PUT', `${worker.url}/connectors/src/config`, source)).status).toBe(201);
    await eventually(async () => (await http('GET', `${worker!.url}/connectors/src/status`)).body.tasks?.filter((t: { state: string }) => t.state === 'RUNNING').length === 2, 10_000, 'tasks running');
    const sent = await http('POST', `${worker.url}/connectors/src/signals`, { id: 'sig-1', type: 'log', data: { message: 'hello from a signal' } });
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ id: 'sig-1', accepted: 2 });
    // The tasks' log lines come over stdout, which may reach us after the 202.
    await eventually(async () => (worker!.output().match(/signal: hello from a signal/g) ?? []).length >= 2, 10_000, 'both tasks logged the signal');
    expect(worker.output().match(/signal: hello from a signal/g)).toHaveLength(2);
    // Without an id, one is generated.
    expect((await http('POST', `${worker.url}/connectors/src/signals`, { type: 'log', data: { message: 'x' } })).body.id).toMatch(/^[0-9a-f-]{36}$/);

    const unknown = await http('POST', `${worker.url}/connectors/src/signals`, { type: 'execute-snapshot', data: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('No task of connector src handles signals of type "execute-snapshot"');
    expect((await http('POST', `${worker.url}/connectors/src/signals`, { data: {} })).status).toBe(400);
    expect((await http('POST', `${worker.url}/connectors/nope/signals`, { type: 'log' })).status).toBe(404);
    const sink = { 'connector.class': 'FileStreamSink', topics: 'signalled', file: join(tempDir('signal-sink'), 'out.jsonl') };
    expect((await http('PUT', `${worker.url}/connectors/snk/config`, sink)).status).toBe(201);
    expect((await http('POST', `${worker.url}/connectors/snk/signals`, { type: 'log' })).status).toBe(400);
    expect((await http('PUT', `${worker.url}/connectors/src/stop`)).status).toBe(204);
    expect((await http('POST', `${worker.url}/connectors/src/signals`, { type: 'log' })).status).toBe(409);
  });
});

describe('automatic restart of failed tasks (errors.restart.max.attempts)', () => {
  it('restarts a failed task with backoff, the configured number of times, then leaves it FAILED', async () => {
    worker = await startWorkerProcess();
    const r = await http('POST', `${worker.url}/connectors`, {
      name: 'flaky',
      config: {
        'connector.class': 'demo', topic: 'flaky', shape: 'sequence', rate: '20',
        transforms: 'c', 'transforms.c.type': 'Cast$Value', 'transforms.c.spec': 'int32',
        'errors.restart.max.attempts': '2', 'errors.restart.backoff.max.ms': '500',
      },
    });
    expect(r.status).toBe(201);
    await eventually(async () => (worker!.output().match(/restarting automatically/g) ?? []).length >= 2, 20_000, 'two automatic restarts');
    await new Promise((res) => setTimeout(res, 1500));
    expect((worker.output().match(/restarting automatically/g) ?? []).length).toBe(2);
    const st = (await http('GET', `${worker.url}/connectors/flaky/status`)).body;
    expect(st.tasks[0].state).toBe('FAILED');
  });

  it('never restarts by default, as Kafka Connect', async () => {
    worker = await startWorkerProcess();
    await http('POST', `${worker.url}/connectors`, {
      name: 'strict',
      config: { 'connector.class': 'demo', topic: 'strict', shape: 'sequence', rate: '20', transforms: 'c', 'transforms.c.type': 'Cast$Value', 'transforms.c.spec': 'int32' },
    });
    await eventually(async () => (await http('GET', `${worker!.url}/connectors/strict/status`)).body.tasks?.[0]?.state === 'FAILED', 20_000, 'FAILED');
    await new Promise((res) => setTimeout(res, 1500));
    expect(worker.output()).not.toMatch(/restarting automatically/);
  });
});

describe('standalone worker with Kafka brokers configured', () => {
  it('moves data through a real Kafka topic (JsonConverter with schemas) instead of in-process topics', async () => {
    const topic = uniqueName('standalone-kafka');
    const out = join(tempDir('kafka-out'), 'sink.jsonl');
    worker = await startWorkerProcess({ env: { TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(',') } });
    const info = (await http('GET', `${worker.url}/`)).body;
    expect(typeof info.kafka_cluster_id).toBe('string');
    expect(info.kafka_cluster_id.length).toBeGreaterThan(0);

    await http('POST', `${worker.url}/connectors`, { name: 'src', config: { 'connector.class': 'demo', topic, shape: 'sequence', rate: '500', 'max.records': '300' } });
    await http('POST', `${worker.url}/connectors`, { name: 'dst', config: { 'connector.class': 'FileStreamSink', topics: topic, file: out } });
    await eventually(async () => lines(out).length >= 300, 60_000, '300 records through Kafka');
    const seqs = new Set(lines(out).map((l) => (JSON.parse(l) as { seq: number }).seq));
    for (let s = 0; s < 300; s++) expect(seqs.has(s)).toBe(true);

    const admin = new Admin({ clientId: 'standalone-features-test', bootstrapBrokers: kafkaBrokers() });
    try {
      expect(await admin.listTopics()).toContain(topic);
    } finally {
      await admin.close();
    }
    const sinkOffsets = (await http('GET', `${worker.url}/connectors/dst/offsets`)).body.offsets;
    expect(sinkOffsets[0]).toEqual({ partition: { kafka_topic: topic, kafka_partition: 0 }, offset: { kafka_offset: 300 } });
    await http('DELETE', `${worker.url}/connectors/src`);
    await http('DELETE', `${worker.url}/connectors/dst`);
    const cleanup = new Admin({ clientId: 'standalone-features-cleanup', bootstrapBrokers: kafkaBrokers() });
    await cleanup.deleteTopics({ topics: [topic] }).catch(() => {});
    await cleanup.close();
  });
});

describe('secrets: config providers and masking', () => {
  it('resolves ${env:...} at start, keeps placeholders in stored configs, masks password values, never logs them', async () => {
    const topic = uniqueName('secret-topic');
    worker = await startWorkerProcess({ env: { TRIB_TEST_TOPIC: topic, TRIB_TEST_SECRET: 'hunter2-very-secret', TRIBUTARY_LOG_LEVEL: 'debug' } });
    const created = await http('POST', `${worker.url}/connectors`, {
      name: 'sec',
      config: { 'connector.class': 'demo', topic: '${env:TRIB_TEST_TOPIC}', rate: '50', 'db.password': 'hunter2-literal', 'api.token': '${env:TRIB_TEST_SECRET}' },
    });
    expect(created.status).toBe(201);
    expect(created.body.config['db.password']).toBe('[hidden]');
    const config = (await http('GET', `${worker.url}/connectors/sec/config`)).body;
    expect(config.topic).toBe('${env:TRIB_TEST_TOPIC}');
    expect(config['db.password']).toBe('[hidden]');
    expect(config['api.token']).toBe('[hidden]');
    await eventually(async () => JSON.stringify((await http('GET', `${worker!.url}/connectors/sec/topics`)).body) === JSON.stringify({ sec: { topics: [topic] } }), 20_000, 'resolved topic in use');
    // PUT back what GET returned: the masked password keeps its real value (no "[hidden]" stored).
    expect((await http('PUT', `${worker.url}/connectors/sec/config`, config)).status).toBe(200);
    const tasks = (await http('GET', `${worker.url}/connectors/sec/tasks`)).body;
    expect(JSON.stringify(tasks)).not.toContain('hunter2');
    expect(worker.output()).not.toContain('hunter2');
    const stateFiles = ['configs.log'].map((f) => readFileSync(join(worker!.stateDir, f), 'utf8')).join('');
    expect(stateFiles).not.toContain('hunter2-very-secret');
    expect(stateFiles).toContain('hunter2-literal');
  });

  it('a missing environment variable fails the connector with a message naming it', async () => {
    worker = await startWorkerProcess();
    await http('POST', `${worker.url}/connectors`, { name: 'nosuch', config: { 'connector.class': 'demo', topic: '${env:TRIB_TEST_DOES_NOT_EXIST}' } });
    const st = await eventually(async () => {
      const s = (await http('GET', `${worker!.url}/connectors/nosuch/status`)).body;
      return s.connector?.state === 'FAILED' ? s : null;
    }, 20_000, 'FAILED connector');
    expect((st as { connector: { trace: string } }).connector.trace).toMatch(/TRIB_TEST_DOES_NOT_EXIST/);
  });
});

describe('dead-letter queue on Kafka (source connectors too)', () => {
  it('writes a poison source record to the DLQ topic with __connect.errors.* headers and keeps running', async () => {
    const dlq = uniqueName('dlq');
    worker = await startWorkerProcess({ env: { TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(',') } });
    await http('POST', `${worker.url}/connectors`, {
      name: 'poison',
      config: {
        'connector.class': 'demo', topic: uniqueName('poison'), shape: 'sequence', rate: '20', 'max.records': '5',
        transforms: 'c', 'transforms.c.type': 'Cast$Value', 'transforms.c.spec': 'int32',
        'errors.tolerance': 'all', 'errors.deadletterqueue.topic.name': dlq, 'errors.deadletterqueue.context.headers.enable': 'true',
      },
    });
    const bus = new KafkaBus({ bootstrapServers: kafkaBrokers(), clientId: uniqueName('dlq-reader') });
    await bus.start();
    const consumer = bus.consumer({ groupId: uniqueName('dlq-reader'), memberId: 'm', topics: [dlq] });
    try {
      const got: Array<{ headers?: Array<{ key: string; value: unknown }>; valueBytes?: Buffer | null }> = [];
      const ctrl = new AbortController();
      const deadline = Date.now() + 60_000;
      while (got.length < 5 && Date.now() < deadline) got.push(...(await consumer.poll(100, 1000, ctrl.signal)));
      expect(got.length).toBe(5);
      const headers = Object.fromEntries((got[0].headers ?? []).map((h) => [h.key, String(h.value)]));
      expect(headers['__connect.errors.stage']).toBe('TRANSFORMATION');
      expect(headers['__connect.errors.connector.name']).toBe('poison');
      expect(headers['__connect.errors.exception.message']).toMatch(/int32|Cast/i);
      expect(JSON.parse(got[0].valueBytes!.toString()).seq).toBe(0);
      expect((await http('GET', `${worker.url}/connectors/poison/status`)).body.tasks[0].state).toBe('RUNNING');
    } finally {
      await consumer.close();
      await bus.close();
      const admin = new Admin({ clientId: uniqueName('dlq-cleanup'), bootstrapBrokers: kafkaBrokers() });
      await admin.deleteTopics({ topics: [dlq] }).catch(() => {});
      await admin.close();
    }
  });
});
