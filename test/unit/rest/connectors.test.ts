import { beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { call, demoConfig, isErrorBody, setup } from './helpers.ts';
import { DEMO_SOURCE, LOG_SINK } from './memory-herder.ts';
import type { MemoryHerder } from './memory-herder.ts';

let app: FastifyInstance;
let herder: MemoryHerder;

beforeEach(() => {
  ({ app, herder } = setup());
});

async function create(name = 'demo', config = demoConfig()) {
  const res = await call(app, 'POST', '/connectors', { name, config });
  expect(res.status).toBe(201);
  return res;
}

describe('GET /', () => {
  it('answers ServerInfo: version, commit, kafka_cluster_id', async () => {
    const res = await call(app, 'GET', '/');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ version: '0.1.0', commit: 'abc123', kafka_cluster_id: null });
  });
});

describe('POST /connectors', () => {
  it('creates: 201, Location, and {name, config, tasks: [{connector, task}], type}', async () => {
    const res = await create('demo', demoConfig({ 'api.password': 's3cret' }));
    expect(res.headers.location).toBe('/connectors/demo');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['config', 'name', 'tasks', 'type']);
    expect(res.body.name).toBe('demo');
    expect(res.body.type).toBe('source');
    expect(res.body.tasks).toEqual([{ connector: 'demo', task: 0 }, { connector: 'demo', task: 1 }]);
    expect(res.body.config).toEqual({ 'connector.class': DEMO_SOURCE, topic: 'events', 'tasks.max': '2', 'api.password': '[hidden]', name: 'demo' });
  });

  it('adds the name to the config and passes initial_state to the Herder', async () => {
    await call(app, 'POST', '/connectors', { name: 'p', config: demoConfig(), initial_state: 'paused' });
    const put = herder.calls.find((c) => c.method === 'putConnectorConfig')!;
    expect(put.args[1]).toMatchObject({ name: 'p' });
    expect(put.args[2]).toEqual({ allowReplace: false, initialState: 'PAUSED' });
    expect((await call(app, 'GET', '/connectors/p/status')).body.connector.state).toBe('PAUSED');
  });

  it('coerces numbers and booleans in the config to strings', async () => {
    const res = await call(app, 'POST', '/connectors', { name: 'n', config: demoConfig({ 'tasks.max': 3, 'rate.per.sec': 50, 'flag.x': true }) });
    expect(res.status).toBe(201);
    expect(res.body.config).toMatchObject({ 'tasks.max': '3', 'rate.per.sec': '50', 'flag.x': 'true' });
    expect(res.body.tasks).toHaveLength(3);
  });

  it('409 when it exists', async () => {
    await create();
    const res = await call(app, 'POST', '/connectors', { name: 'demo', config: demoConfig() });
    expect(res.status).toBe(409);
    expect(isErrorBody(res.body, 409)).toBe(true);
    expect(res.body.message).toBe('Connector demo already exists');
  });

  it('400 when the name is missing or blank', async () => {
    for (const body of [{ config: demoConfig() }, { name: '  ', config: demoConfig() }, { name: 5, config: demoConfig() }]) {
      const res = await call(app, 'POST', '/connectors', body);
      expect(res.status).toBe(400);
      expect(isErrorBody(res.body, 400)).toBe(true);
      expect(res.body.message).toMatch(/Connector name is required/);
    }
  });

  it('400 when config.name differs from name', async () => {
    const res = await call(app, 'POST', '/connectors', { name: 'a', config: demoConfig({ name: 'b' }) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error_code: 400, message: "Connector name configuration (b) doesn't match connector name in the URL (a)" });
  });

  it('400 for a missing config, a nested value, or a bad initial_state', async () => {
    const noConfig = await call(app, 'POST', '/connectors', { name: 'a' });
    expect(noConfig.status).toBe(400);
    expect(noConfig.body.message).toMatch(/config is required/);
    const nested = await call(app, 'POST', '/connectors', { name: 'a', config: demoConfig({ deep: { x: 1 }, list: [1], gone: null }) });
    expect(nested.status).toBe(400);
    expect(nested.body.message).toContain('deep (an object)');
    expect(nested.body.message).toContain('list (an array)');
    expect(nested.body.message).toContain('gone (null)');
    const state = await call(app, 'POST', '/connectors', { name: 'a', config: demoConfig(), initial_state: 'SLEEPING' });
    expect(state.status).toBe(400);
    expect(state.body.message).toMatch(/initial_state.*RUNNING, PAUSED, STOPPED/);
  });

  it('400 naming every bad field when the Herder throws ConfigError', async () => {
    const res = await call(app, 'POST', '/connectors', { name: 'bad', config: { 'connector.class': DEMO_SOURCE, 'rate.per.sec': 'fast', 'tasks.max': '0' } });
    expect(res.status).toBe(400);
    expect(isErrorBody(res.body, 400)).toBe(true);
    expect(res.body.message).toMatch(/contains the following 3 error\(s\)/);
    for (const field of ['topic', 'rate.per.sec', 'tasks.max']) expect(res.body.message).toContain(`\n${field}: `);
  });
});

describe('GET /connectors', () => {
  beforeEach(async () => {
    await create('a');
    await create('b', { 'connector.class': LOG_SINK, topics: 'events' });
  });

  it('lists names', async () => {
    const res = await call(app, 'GET', '/connectors');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(['a', 'b']);
  });

  it('?expand=status gives {name: {status}}', async () => {
    const res = await call(app, 'GET', '/connectors?expand=status');
    expect(Object.keys(res.body)).toEqual(['a', 'b']);
    expect(Object.keys(res.body.a)).toEqual(['status']);
    expect(res.body.b.status).toEqual({
      name: 'b',
      connector: { state: 'RUNNING', worker_id: 'worker-1:8083' },
      tasks: [{ id: 0, state: 'RUNNING', worker_id: 'worker-1:8083' }],
      type: 'sink',
    });
  });

  it('?expand=status&expand=info gives both; unknown expansions are ignored', async () => {
    const res = await call(app, 'GET', '/connectors?expand=status&expand=info&expand=bogus');
    expect(Object.keys(res.body.a).sort()).toEqual(['info', 'status']);
    expect(res.body.a.info).toEqual((await call(app, 'GET', '/connectors/a')).body);
    expect(res.body.a.status).toEqual((await call(app, 'GET', '/connectors/a/status')).body);
  });

  it('leaves out a connector deleted while expanding', async () => {
    const original = herder.connectorStatus.bind(herder);
    herder.connectorStatus = async (name) => {
      if (name === 'a') herder.connectorsByName.delete('a');
      return original(name);
    };
    const res = await call(app, 'GET', '/connectors?expand=status');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['b']);
  });

  it('accepts a trailing slash', async () => {
    expect((await call(app, 'GET', '/connectors/')).body).toEqual(['a', 'b']);
  });
});

describe('one connector', () => {
  beforeEach(async () => {
    await create('demo', demoConfig({ 'api.password': 'pw' }));
  });

  it('GET /connectors/{n} is ConnectorInfo', async () => {
    const res = await call(app, 'GET', '/connectors/demo');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      name: 'demo',
      config: { 'connector.class': DEMO_SOURCE, topic: 'events', 'tasks.max': '2', 'api.password': '[hidden]', name: 'demo' },
      tasks: [{ connector: 'demo', task: 0 }, { connector: 'demo', task: 1 }],
      type: 'source',
    });
  });

  it('404 with the Connect error shape for an unknown connector, on every per-connector route', async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/connectors/nope'],
      ['GET', '/connectors/nope/config'],
      ['PATCH', '/connectors/nope/config', { topic: 'x' }],
      ['GET', '/connectors/nope/status'],
      ['GET', '/connectors/nope/tasks'],
      ['GET', '/connectors/nope/tasks/0/status'],
      ['POST', '/connectors/nope/tasks/0/restart'],
      ['PUT', '/connectors/nope/pause'],
      ['PUT', '/connectors/nope/resume'],
      ['PUT', '/connectors/nope/stop'],
      ['POST', '/connectors/nope/restart'],
      ['DELETE', '/connectors/nope'],
      ['GET', '/connectors/nope/topics'],
      ['PUT', '/connectors/nope/topics/reset'],
      ['GET', '/connectors/nope/offsets'],
      ['DELETE', '/connectors/nope/offsets'],
    ];
    for (const [method, url, body] of routes) {
      const res = await call(app, method as 'GET', url, body);
      expect(res.status, `${method} ${url}`).toBe(404);
      expect(res.body, `${method} ${url}`).toEqual({ error_code: 404, message: 'Connector nope not found' });
    }
  });

  it('GET /config is the (masked) string map', async () => {
    const res = await call(app, 'GET', '/connectors/demo/config');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ 'connector.class': DEMO_SOURCE, topic: 'events', 'tasks.max': '2', 'api.password': '[hidden]', name: 'demo' });
  });

  it('PUT /config: 201 + Location when created, 200 when updated, ConnectorInfo either way', async () => {
    const created = await call(app, 'PUT', '/connectors/other/config', demoConfig());
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/connectors/other');
    expect(created.body).toMatchObject({ name: 'other', type: 'source', config: { name: 'other' } });

    const updated = await call(app, 'PUT', '/connectors/other/config', demoConfig({ 'tasks.max': 1, name: 'other' }));
    expect(updated.status).toBe(200);
    expect(updated.headers.location).toBeUndefined();
    expect(updated.body).toEqual({
      name: 'other',
      config: { 'connector.class': DEMO_SOURCE, topic: 'events', 'tasks.max': '1', name: 'other' },
      tasks: [{ connector: 'other', task: 0 }],
      type: 'source',
    });
    const put = herder.calls.filter((c) => c.method === 'putConnectorConfig').at(-1)!;
    expect(put.args[2]).toEqual({ allowReplace: true });
  });

  it('PUT /config: 400 when the body name differs, or the body is not an object', async () => {
    const res = await call(app, 'PUT', '/connectors/demo/config', demoConfig({ name: 'other' }));
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("Connector name configuration (other) doesn't match connector name in the URL (demo)");
    const arr = await call(app, 'PUT', '/connectors/demo/config', [1, 2]);
    expect(arr.status).toBe(400);
    expect(arr.body.message).toMatch(/must be a JSON object/);
    const empty = await call(app, 'PUT', '/connectors/demo/config', undefined, { 'content-type': 'application/json' });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/empty body/);
  });

  it('PATCH /config merges, null removes, numbers become strings; 200 with ConnectorInfo', async () => {
    const res = await call(app, 'PATCH', '/connectors/demo/config', { 'rate.per.sec': 99, 'api.password': null });
    expect(res.status).toBe(200);
    expect(res.body.config).toEqual({ 'connector.class': DEMO_SOURCE, topic: 'events', 'tasks.max': '2', name: 'demo', 'rate.per.sec': '99' });
    expect(herder.calls.find((c) => c.method === 'patchConnectorConfig')!.args).toEqual(['demo', { 'rate.per.sec': '99', 'api.password': null }]);
  });

  it('PATCH /config: 400 when it would rename or unname the connector, or sets an invalid value', async () => {
    expect((await call(app, 'PATCH', '/connectors/demo/config', { name: 'x' })).status).toBe(400);
    expect((await call(app, 'PATCH', '/connectors/demo/config', { name: null })).body.message).toMatch(/cannot be removed/);
    expect((await call(app, 'PATCH', '/connectors/demo/config', { name: 'demo', topic: 't2' })).status).toBe(200);
    const invalid = await call(app, 'PATCH', '/connectors/demo/config', { 'rate.per.sec': 'lots' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.message).toContain('rate.per.sec: ');
  });

  it('GET /status is ConnectorStateInfo; trace appears only when set', async () => {
    const ok = await call(app, 'GET', '/connectors/demo/status');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({
      name: 'demo',
      connector: { state: 'RUNNING', worker_id: 'worker-1:8083' },
      tasks: [
        { id: 0, state: 'RUNNING', worker_id: 'worker-1:8083' },
        { id: 1, state: 'RUNNING', worker_id: 'worker-1:8083' },
      ],
      type: 'source',
    });
    herder.failTask('demo', 1, 'Boom\n\tat x');
    const failed = await call(app, 'GET', '/connectors/demo/status');
    expect(failed.body.tasks[1]).toEqual({ id: 1, state: 'FAILED', worker_id: 'worker-1:8083', trace: 'Boom\n\tat x' });
    expect('trace' in failed.body.tasks[0]).toBe(false);
  });

  it('GET /tasks is [{id: {connector, task}, config}]', async () => {
    const res = await call(app, 'GET', '/connectors/demo/tasks');
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.body[1].id).toEqual({ connector: 'demo', task: 1 });
    expect(res.body[1].config).toMatchObject({ topic: 'events', 'task.id': '1', 'api.password': '[hidden]' });
  });

  it('GET /tasks/{id}/status is a TaskState; 404 for unknown or non-numeric ids', async () => {
    const res = await call(app, 'GET', '/connectors/demo/tasks/1/status');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: 1, state: 'RUNNING', worker_id: 'worker-1:8083' });
    expect((await call(app, 'GET', '/connectors/demo/tasks/7/status')).body).toEqual({ error_code: 404, message: 'Task demo-7 not found' });
    const nan = await call(app, 'GET', '/connectors/demo/tasks/one/status');
    expect(nan.status).toBe(404);
    expect(isErrorBody(nan.body, 404)).toBe(true);
  });

  it('POST /tasks/{id}/restart: 204, no body', async () => {
    herder.failTask('demo', 0);
    const res = await call(app, 'POST', '/connectors/demo/tasks/0/restart');
    expect(res.status).toBe(204);
    expect(res.raw).toBe('');
    expect((await call(app, 'GET', '/connectors/demo/tasks/0/status')).body.state).toBe('RUNNING');
  });

  it('PUT /pause and /resume: 202, no body; PUT /stop: 204 (as Connect)', async () => {
    const pause = await call(app, 'PUT', '/connectors/demo/pause');
    expect(pause.status).toBe(202);
    expect(pause.raw).toBe('');
    expect((await call(app, 'GET', '/connectors/demo/status')).body.connector.state).toBe('PAUSED');
    const resume = await call(app, 'PUT', '/connectors/demo/resume', undefined, { 'content-type': 'application/json' });
    expect(resume.status).toBe(202);
    expect((await call(app, 'GET', '/connectors/demo/status')).body.connector.state).toBe('RUNNING');
    const stop = await call(app, 'PUT', '/connectors/demo/stop');
    expect(stop.status).toBe(204);
    expect(stop.raw).toBe('');
    const stopped = (await call(app, 'GET', '/connectors/demo/status')).body;
    expect(stopped.connector.state).toBe('STOPPED');
    expect(stopped.tasks).toEqual([]);
  });

  it('POST /restart without flags: 204; the Herder gets both flags false', async () => {
    const res = await call(app, 'POST', '/connectors/demo/restart');
    expect(res.status).toBe(204);
    expect(res.raw).toBe('');
    expect(herder.calls.at(-1)).toEqual({ method: 'restartConnector', args: ['demo', { includeTasks: false, onlyFailed: false }] });
    expect((await call(app, 'POST', '/connectors/demo/restart?includeTasks=false&onlyFailed=false')).status).toBe(204);
  });

  it('POST /restart?includeTasks=true: 202 with the status, affected instances RESTARTING', async () => {
    const res = await call(app, 'POST', '/connectors/demo/restart?includeTasks=true');
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      name: 'demo',
      connector: { state: 'RESTARTING', worker_id: 'worker-1:8083' },
      tasks: [
        { id: 0, state: 'RESTARTING', worker_id: 'worker-1:8083' },
        { id: 1, state: 'RESTARTING', worker_id: 'worker-1:8083' },
      ],
      type: 'source',
    });
  });

  it('POST /restart?includeTasks=true&onlyFailed=TRUE restarts only failed tasks', async () => {
    herder.failTask('demo', 1);
    const res = await call(app, 'POST', '/connectors/demo/restart?includeTasks=true&onlyFailed=TRUE');
    expect(res.status).toBe(202);
    expect(herder.calls.at(-1)!.args[1]).toEqual({ includeTasks: true, onlyFailed: true });
    expect(res.body.connector.state).toBe('RUNNING');
    expect(res.body.tasks.map((t: { state: string }) => t.state)).toEqual(['RUNNING', 'RESTARTING']);
  });

  it('DELETE: 204, then gone', async () => {
    const res = await call(app, 'DELETE', '/connectors/demo');
    expect(res.status).toBe(204);
    expect(res.raw).toBe('');
    expect((await call(app, 'GET', '/connectors')).body).toEqual([]);
  });

  it('GET /topics is {name: {topics}}; PUT /topics/reset is 202', async () => {
    herder.connectorsByName.get('demo')!.topics = ['events'];
    const res = await call(app, 'GET', '/connectors/demo/topics');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ demo: { topics: ['events'] } });
    const reset = await call(app, 'PUT', '/connectors/demo/topics/reset');
    expect(reset.status).toBe(202);
    expect(reset.raw).toBe('');
    expect((await call(app, 'GET', '/connectors/demo/topics')).body).toEqual({ demo: { topics: [] } });
  });

  it('topic tracking disabled: 403, as Connect', async () => {
    const { app: off } = setup({ herder, topicTracking: { enabled: false } });
    expect((await call(off, 'GET', '/connectors/demo/topics')).body).toEqual({ error_code: 403, message: 'Topic tracking is disabled.' });
    const { app: noReset } = setup({ herder, topicTracking: { allowReset: false } });
    expect((await call(noReset, 'PUT', '/connectors/demo/topics/reset')).body).toEqual({ error_code: 403, message: 'Topic tracking reset is disabled.' });
  });
});

describe('offsets (KIP-875)', () => {
  const partition = { table: 'users' };
  beforeEach(async () => {
    await create('demo');
  });

  it('GET is {offsets: [{partition, offset}]}', async () => {
    herder.connectorsByName.get('demo')!.offsets = [{ partition, offset: { lsn: 42 } }];
    const res = await call(app, 'GET', '/connectors/demo/offsets');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ offsets: [{ partition: { table: 'users' }, offset: { lsn: 42 } }] });
  });

  it('PATCH and DELETE need the connector STOPPED (400 otherwise)', async () => {
    const patch = await call(app, 'PATCH', '/connectors/demo/offsets', { offsets: [{ partition, offset: { lsn: 1 } }] });
    expect(patch.status).toBe(400);
    expect(patch.body.message).toMatch(/STOPPED/);
    expect((await call(app, 'DELETE', '/connectors/demo/offsets')).status).toBe(400);
  });

  it('PATCH alters (null resets one partition) and answers 200 {message}', async () => {
    await call(app, 'PUT', '/connectors/demo/stop');
    const set = await call(app, 'PATCH', '/connectors/demo/offsets', { offsets: [{ partition, offset: { lsn: 1 } }, { partition: { table: 'b' }, offset: { lsn: 2 } }] });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ message: 'The offsets for this connector have been altered successfully' });
    await call(app, 'PATCH', '/connectors/demo/offsets', { offsets: [{ partition: { table: 'b' }, offset: null }] });
    expect((await call(app, 'GET', '/connectors/demo/offsets')).body).toEqual({ offsets: [{ partition, offset: { lsn: 1 } }] });
  });

  it('PATCH rejects a body without offsets or with malformed entries, naming them', async () => {
    await call(app, 'PUT', '/connectors/demo/stop');
    for (const body of [{}, { offsets: [] }, { offsets: 'x' }]) {
      const res = await call(app, 'PATCH', '/connectors/demo/offsets', body);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/Partitions \/ offsets need to be provided/);
    }
    const bad = await call(app, 'PATCH', '/connectors/demo/offsets', { offsets: [{ partition: 'p', offset: 3 }] });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('offsets[0].partition must be an object');
    expect(bad.body.message).toContain('offsets[0].offset must be an object or null');
  });

  it('DELETE resets and answers 200 {message}', async () => {
    herder.connectorsByName.get('demo')!.offsets = [{ partition, offset: { lsn: 42 } }];
    await call(app, 'PUT', '/connectors/demo/stop');
    const res = await call(app, 'DELETE', '/connectors/demo/offsets');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'The offsets for this connector have been reset successfully' });
    expect((await call(app, 'GET', '/connectors/demo/offsets')).body).toEqual({ offsets: [] });
  });
});

describe('names that need encoding', () => {
  it('round-trips a name with spaces and a slash', async () => {
    const name = 'orders / eu west';
    const res = await call(app, 'POST', '/connectors', { name, config: demoConfig() });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/connectors/orders%20%2F%20eu%20west');
    const got = await call(app, 'GET', res.headers.location as string);
    expect(got.status).toBe(200);
    expect(got.body.name).toBe(name);
  });
});

describe('POST /connectors/{name}/signals', () => {
  it('passes {id?, type, data} to the herder and answers 202 with its result', async () => {
    await call(app, 'POST', '/connectors', { name: 'demo', config: demoConfig() });
    const res = await call(app, 'POST', '/connectors/demo/signals', { id: 's1', type: 'execute-snapshot', data: { 'data-collections': ['public.orders'] } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: 's1', accepted: 1 });
    expect(herder.calls.at(-1)).toEqual({ method: 'signalConnector', args: ['demo', { id: 's1', type: 'execute-snapshot', data: { 'data-collections': ['public.orders'] } }] });
  });

  it('refuses a body without a type, with non-object data or a non-string id, saying what to send', async () => {
    await call(app, 'POST', '/connectors', { name: 'demo', config: demoConfig() });
    for (const body of [{}, { type: '' }, { type: 'log', data: [1] }, { type: 'log', id: 7 }, ['log']]) {
      const res = await call(app, 'POST', '/connectors/demo/signals', body);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/type|data|id|JSON object/);
    }
  });
});
