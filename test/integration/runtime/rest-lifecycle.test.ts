/**
 * A full connector lifecycle over HTTP against a real `tributary start` process, comparing each
 * response with Kafka Connect's documented shape (field names and types, status codes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, http, startWorkerProcess, tempDir, type WorkerProcess } from '../../helpers/worker-process.ts';

let w: WorkerProcess;
let out: string;
const keys = (o: object) => Object.keys(o).sort();

beforeAll(async () => {
  w = await startWorkerProcess();
  out = join(tempDir('out'), 'sink.jsonl');
});

afterAll(async () => {
  await w?.stop();
});

const source = {
  name: 'gen',
  config: { 'connector.class': 'demo', topic: 'orders', rate: '500', 'tasks.max': '2', shape: 'sequence' },
};

describe('REST lifecycle (Kafka Connect shapes)', () => {
  it('GET / answers version, commit and kafka_cluster_id', async () => {
    const r = await http('GET', `${w.url}/`);
    expect(r.status).toBe(200);
    expect(keys(r.body)).toEqual(['commit', 'kafka_cluster_id', 'version']);
  });

  it('POST /connectors creates: 201, Location, {name, config, tasks, type}', async () => {
    const r = await http('POST', `${w.url}/connectors`, source);
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toMatch(/\/connectors\/gen$/);
    expect(keys(r.body)).toEqual(['config', 'name', 'tasks', 'type']);
    expect(r.body.name).toBe('gen');
    expect(r.body.type).toBe('source');
    expect(r.body.config).toMatchObject({ ...source.config, name: 'gen' });
    expect(r.body.tasks).toEqual([{ connector: 'gen', task: 0 }, { connector: 'gen', task: 1 }]);
    const again = await http('POST', `${w.url}/connectors`, source);
    expect(again.status).toBe(409);
    expect(keys(again.body)).toEqual(['error_code', 'message']);
    expect(again.body.error_code).toBe(409);
  });

  it('PUT /connectors/{n}/config creates (201) then updates (200)', async () => {
    const sink = { 'connector.class': 'FileStreamSink', topics: 'orders', file: out };
    const created = await http('PUT', `${w.url}/connectors/sink/config`, sink);
    expect(created.status).toBe(201);
    expect(created.body.type).toBe('sink');
    const updated = await http('PUT', `${w.url}/connectors/sink/config`, { ...sink, 'consumer.max.poll.records': '500' });
    expect(updated.status).toBe(200);
    expect(updated.body.config['consumer.max.poll.records']).toBe('500');
  });

  it('status shows RUNNING connector and tasks with worker ids; data reaches the sink', async () => {
    const st = await eventually(async () => {
      const r = await http('GET', `${w.url}/connectors/gen/status`);
      return r.body.tasks?.length === 2 && r.body.tasks.every((t: any) => t.state === 'RUNNING') ? r : null;
    }, 20_000, 'gen tasks RUNNING') as Awaited<ReturnType<typeof http>>;
    expect(keys(st.body)).toEqual(['connector', 'name', 'tasks', 'type']);
    expect(keys(st.body.connector)).toEqual(['state', 'worker_id']);
    expect(st.body.connector.state).toBe('RUNNING');
    // Kafka Connect's task status fields; `progress` is Tributary's one addition, present once the
    // demo source has reported (about once a second), so it may or may not be there yet.
    for (const t of st.body.tasks) {
      expect(keys(t).filter((k) => k !== 'progress')).toEqual(['id', 'state', 'worker_id']);
      if ('progress' in t) expect(typeof t.progress.generated).toBe('number');
    }
    const task = await http('GET', `${w.url}/connectors/gen/tasks/1/status`);
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ id: 1, state: 'RUNNING' });
    await eventually(async () => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 50, 20_000, 'records in the sink file');
  });

  it('GET /connectors lists, with expand=status and expand=info', async () => {
    expect((await http('GET', `${w.url}/connectors`)).body.sort()).toEqual(['gen', 'sink']);
    const r = await http('GET', `${w.url}/connectors?expand=status&expand=info`);
    expect(keys(r.body)).toEqual(['gen', 'sink']);
    expect(keys(r.body.gen)).toEqual(['info', 'status']);
    expect(r.body.gen.info.name).toBe('gen');
    expect(r.body.gen.status.connector.state).toBe('RUNNING');
  });

  it('GET /connectors/{n}, /config, /tasks', async () => {
    expect(keys((await http('GET', `${w.url}/connectors/gen`)).body)).toEqual(['config', 'name', 'tasks', 'type']);
    expect((await http('GET', `${w.url}/connectors/gen/config`)).body).toMatchObject(source.config);
    const tasks = await http('GET', `${w.url}/connectors/gen/tasks`);
    expect(tasks.body).toHaveLength(2);
    expect(keys(tasks.body[0])).toEqual(['config', 'id']);
    expect(tasks.body[0].id).toEqual({ connector: 'gen', task: 0 });
  });

  it('pause (202) -> PAUSED, resume (202) -> RUNNING', async () => {
    expect((await http('PUT', `${w.url}/connectors/gen/pause`)).status).toBe(202);
    await eventually(async () => {
      const s = (await http('GET', `${w.url}/connectors/gen/status`)).body;
      return s.connector.state === 'PAUSED' && s.tasks.every((t: any) => t.state === 'PAUSED');
    }, 10_000, 'PAUSED');
    expect((await http('PUT', `${w.url}/connectors/gen/resume`)).status).toBe(202);
    await eventually(async () => {
      const s = (await http('GET', `${w.url}/connectors/gen/status`)).body;
      return s.connector.state === 'RUNNING' && s.tasks.every((t: any) => t.state === 'RUNNING');
    }, 10_000, 'RUNNING again');
  });

  it('topics lists what the connector used, and reset clears it', async () => {
    const r = await http('GET', `${w.url}/connectors/gen/topics`);
    expect(r.body).toEqual({ gen: { topics: ['orders'] } });
  });

  it('offsets: GET while running, PATCH refused (400) until STOPPED, then PATCH and DELETE', async () => {
    const got = await eventually(async () => {
      const r = await http('GET', `${w.url}/connectors/gen/offsets`);
      return r.body.offsets?.length === 2 ? r : null;
    }, 20_000, 'committed source offsets') as Awaited<ReturnType<typeof http>>;
    expect(keys(got.body.offsets[0])).toEqual(['offset', 'partition']);
    const refused = await http('PATCH', `${w.url}/connectors/gen/offsets`, { offsets: [{ partition: got.body.offsets[0].partition, offset: { seq: 0 } }] });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/STOPPED/);

    // Kafka Connect answers stop with 204 (it is forwarded to the leader and completes), pause/resume with 202.
    expect((await http('PUT', `${w.url}/connectors/gen/stop`)).status).toBe(204);
    const stopped = await eventually(async () => {
      const s = (await http('GET', `${w.url}/connectors/gen/status`)).body;
      return s.connector.state === 'STOPPED' ? s : null;
    }, 10_000, 'STOPPED');
    expect(stopped.tasks).toEqual([]);

    const patched = await http('PATCH', `${w.url}/connectors/gen/offsets`, { offsets: [{ partition: got.body.offsets[0].partition, offset: { seq: 7 } }] });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ message: 'The offsets for this connector have been altered successfully' });
    const after = (await http('GET', `${w.url}/connectors/gen/offsets`)).body.offsets;
    expect(after.find((o: any) => JSON.stringify(o.partition) === JSON.stringify(got.body.offsets[0].partition)).offset).toEqual({ seq: 7 });

    const reset = await http('DELETE', `${w.url}/connectors/gen/offsets`);
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ message: 'The offsets for this connector have been reset successfully' });
    expect((await http('GET', `${w.url}/connectors/gen/offsets`)).body).toEqual({ offsets: [] });

    const sinkOffsets = (await http('GET', `${w.url}/connectors/sink/offsets`)).body.offsets;
    expect(sinkOffsets[0].partition).toEqual({ kafka_topic: 'orders', kafka_partition: 0 });
    expect(typeof sinkOffsets[0].offset.kafka_offset).toBe('number');
  });

  it('resume after stop starts the connector and its tasks again', async () => {
    expect((await http('PUT', `${w.url}/connectors/gen/resume`)).status).toBe(202);
    await eventually(async () => {
      const s = (await http('GET', `${w.url}/connectors/gen/status`)).body;
      return s.connector.state === 'RUNNING' && s.tasks.length === 2 && s.tasks.every((t: any) => t.state === 'RUNNING');
    }, 10_000, 'RUNNING after stop');
  });

  it('restart: 204 plain, 202 with includeTasks and RESTARTING instances; task restart 204', async () => {
    expect((await http('POST', `${w.url}/connectors/gen/restart`)).status).toBe(204);
    const r = await http('POST', `${w.url}/connectors/gen/restart?includeTasks=true`);
    expect(r.status).toBe(202);
    expect(r.body.connector.state).toBe('RESTARTING');
    expect(r.body.tasks.map((t: any) => t.state)).toEqual(['RESTARTING', 'RESTARTING']);
    const onlyFailed = await http('POST', `${w.url}/connectors/gen/restart?includeTasks=true&onlyFailed=true`);
    expect(onlyFailed.status).toBe(202);
    expect(onlyFailed.body.connector.state).toBe('RUNNING');
    expect((await http('POST', `${w.url}/connectors/gen/tasks/0/restart`)).status).toBe(204);
    expect((await http('POST', `${w.url}/connectors/gen/tasks/9/restart`)).status).toBe(404);
    await eventually(async () => (await http('GET', `${w.url}/connectors/gen/status`)).body.tasks.every((t: any) => t.state === 'RUNNING'), 10_000, 'RUNNING after restarts');
  });

  it('PATCH config merges and removes keys with null', async () => {
    const r = await http('PATCH', `${w.url}/connectors/gen/config`, { rate: '100', shape: null });
    expect(r.status).toBe(200);
    expect(r.body.config.rate).toBe('100');
    expect(r.body.config.shape).toBeUndefined();
  });

  it('connector-plugins: list, config, validate', async () => {
    const list = (await http('GET', `${w.url}/connector-plugins`)).body;
    expect(list.find((p: any) => p.class === 'io.tributary.connect.demo.DemoSourceConnector')).toMatchObject({ type: 'source' });
    expect(keys(list[0])).toEqual(['class', 'type', 'version']);
    const all = (await http('GET', `${w.url}/connector-plugins?connectorsOnly=false`)).body;
    expect(all.some((p: any) => p.type === 'transformation')).toBe(true);
    const cfg = (await http('GET', `${w.url}/connector-plugins/demo/config`)).body;
    expect(cfg.find((k: any) => k.name === 'topic')).toMatchObject({ type: 'STRING', required: true });
    const v = await http('PUT', `${w.url}/connector-plugins/demo/config/validate`, { 'connector.class': 'demo', rate: 'fast' });
    expect(v.status).toBe(200);
    expect(keys(v.body)).toEqual(['configs', 'error_count', 'groups', 'name']);
    // As in Kafka Connect, a body without "name" is reported too.
    expect(v.body.error_count).toBe(3);
    const bad = v.body.configs.filter((c: any) => c.value.errors.length > 0).map((c: any) => c.value.name).sort();
    expect(bad).toEqual(['name', 'rate', 'topic']);
    expect(keys(v.body.configs[0].definition)).toEqual(['default_value', 'dependents', 'display_name', 'documentation', 'group', 'importance', 'name', 'order', 'required', 'type', 'width']);
    expect(keys(v.body.configs[0].value)).toEqual(['errors', 'name', 'recommended_values', 'value', 'visible']);
  });

  it('/metrics shows per-task throughput', async () => {
    const res = await fetch(`${w.url}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/tributary_source_records_written_total\{connector="gen",task="0"\} \d+/);
    expect(text).toMatch(/tributary_sink_records_put_total\{connector="sink",task="0"\} \d+/);
    expect(text).toMatch(/tributary_offset_commit_seconds_count\{connector="gen"/);
  });

  it('DELETE removes the connector (204), then 404', async () => {
    expect((await http('DELETE', `${w.url}/connectors/gen`)).status).toBe(204);
    const r = await http('GET', `${w.url}/connectors/gen`);
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error_code: 404, message: expect.stringContaining('gen') });
    expect(await (await fetch(`${w.url}/metrics`)).text()).not.toContain('connector="gen"');
  });
});

describe('bad input gets a clear error and the worker keeps serving', () => {
  it('malformed JSON: 400', async () => {
    const r = await http('POST', `${w.url}/connectors`, '{"name": "x", "config": {');
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/JSON/i);
  });

  it('unknown connector class: 400 naming connector.class', async () => {
    const r = await http('POST', `${w.url}/connectors`, { name: 'x', config: { 'connector.class': 'com.nope.Missing' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/connector.class/);
    expect(r.body.message).toMatch(/com.nope.Missing/);
  });

  it('missing and mistyped fields: 400 naming each', async () => {
    const r = await http('POST', `${w.url}/connectors`, { name: 'x', config: { 'connector.class': 'demo', rate: 'fast', 'tasks.max': 'two' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/topic/);
    expect(r.body.message).toMatch(/rate/);
    expect(r.body.message).toMatch(/tasks\.max/);
  });

  it('unknown transform: 400 naming transforms.<alias>.type', async () => {
    const r = await http('POST', `${w.url}/connectors`, { name: 'x', config: { 'connector.class': 'demo', topic: 't', transforms: 'a', 'transforms.a.type': 'NoSuchTransform' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/transforms\.a\.type/);
  });

  it('a sink without topics: 400 naming topics', async () => {
    const r = await http('POST', `${w.url}/connectors`, { name: 'x', config: { 'connector.class': 'FileStreamSink', file: '/tmp/x' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/topics/);
  });

  it('a poison record fails the task with a trace under tolerance=none; under all it goes to the DLQ and the task runs on', async () => {
    const poison = (name: string, extra: Record<string, string>) => http('POST', `${w.url}/connectors`, {
      name,
      config: {
        'connector.class': 'demo', topic: `${name}-t`, shape: 'sequence', rate: '50',
        // Cast the whole value to int32: every record is a struct, so every record is poison.
        transforms: 'c', 'transforms.c.type': 'org.apache.kafka.connect.transforms.Cast$Value', 'transforms.c.spec': 'int32',
        ...extra,
      },
    });
    expect((await poison('strict', {})).status).toBe(201);
    const failed = await eventually(async () => {
      const s = (await http('GET', `${w.url}/connectors/strict/status`)).body;
      return s.tasks?.[0]?.state === 'FAILED' ? s : null;
    }, 20_000, 'FAILED task');
    expect(failed.tasks[0].trace).toMatch(/Tolerance exceeded/);
    expect((await poison('tolerant', { 'errors.tolerance': 'all', 'errors.deadletterqueue.topic.name': 'poison-dlq', 'errors.deadletterqueue.context.headers.enable': 'true' })).status).toBe(201);
    const dlqFile = join(w.stateDir, 'dlq', 'poison-dlq.jsonl');
    await eventually(async () => existsSync(dlqFile) && readFileSync(dlqFile, 'utf8').split('\n').length > 3, 20_000, 'DLQ records');
    const first = JSON.parse(readFileSync(dlqFile, 'utf8').split('\n')[0]);
    expect(first.headers.find((h: any) => h.key === '__connect.errors.stage').value).toBe('TRANSFORMATION');
    expect((await http('GET', `${w.url}/connectors/tolerant/status`)).body.tasks[0].state).toBe('RUNNING');
    expect((await http('GET', `${w.url}/`)).status).toBe(200);
  });
});
