/**
 * The `tributary` CLI run as a child process against a real Fastify server (buildApp over the
 * in-memory Herder) on an ephemeral loopback port.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { configureLogging, getLogger } from '../../../runtime/engine/logging.ts';
import { main } from '../../../runtime/cli/main.ts';
import { buildApp, listen } from '../../../runtime/rest/index.ts';
import type { AuthOptions } from '../../../runtime/rest/index.ts';
import { DEMO_SOURCE, LOG_SINK, MemoryHerder } from '../rest/memory-herder.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'runtime/cli/main.ts');

configureLogging({ destination: { write: () => {} } });

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRIBUTARY_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env: { ...clean, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function serve(herder: MemoryHerder, auth?: AuthOptions): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildApp({ herder, workerId: 'w1:8083', auth, logger: getLogger('test.cli') });
  const url = await listen(app, { host: '127.0.0.1', port: 0, auth });
  return { app, url };
}

let herder: MemoryHerder;
let app: FastifyInstance;
let url: string;
let dir: string;

beforeAll(async () => {
  herder = new MemoryHerder('w1:8083');
  ({ app, url } = await serve(herder));
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  herder.connectorsByName.clear();
  dir = mkdtempSync(join(tmpdir(), 'tributary-cli-'));
  return () => rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}) => run(args, { TRIBUTARY_URL: url, ...env });

function writeConnector(file: string, doc: unknown): void {
  writeFileSync(join(dir, file), typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2));
}

async function seed(): Promise<void> {
  await herder.putConnectorConfig('orders', { name: 'orders', 'connector.class': DEMO_SOURCE, topic: 'orders', 'tasks.max': '2' }, { allowReplace: false });
  await herder.putConnectorConfig('audit-log', { name: 'audit-log', 'connector.class': LOG_SINK, topics: 'orders' }, { allowReplace: false });
}

describe('apply', { timeout: 30_000 }, () => {
  it('applies a folder of Kafka Connect JSON files: created, then unchanged, then updated', async () => {
    writeConnector('orders.json', { name: 'orders', config: { 'connector.class': 'demo', topic: 'orders', 'tasks.max': 2 } });
    writeConnector('audit.json', { name: 'audit-log', config: { 'connector.class': 'log', topics: 'orders' } });
    writeConnector('notes.txt', 'not a connector');

    const first = await cli(['apply', dir]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^created\s+audit-log\s+\S*audit\.json$/);
    expect(lines[1]).toMatch(/^created\s+orders\s+\S*orders\.json$/);
    expect(await herder.connectorConfig('orders')).toEqual({ 'connector.class': 'demo', topic: 'orders', 'tasks.max': '2', name: 'orders' });

    const again = await cli(['connectors', 'apply', dir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^unchanged\s+audit-log/m);
    expect(again.stdout).toMatch(/^unchanged\s+orders/m);
    expect(herder.calls.filter((c) => c.method === 'putConnectorConfig')).toHaveLength(2);

    writeConnector('orders.json', { name: 'orders', config: { 'connector.class': 'demo', topic: 'orders-v2', 'tasks.max': 2 } });
    const changed = await cli(['apply', join(dir, 'orders.json')]);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toMatch(/^updated\s+orders\s+/);
    expect((await herder.connectorConfig('orders')).topic).toBe('orders-v2');
  });

  it('re-applies a config whose secrets are masked by the worker, and honours initial_state when creating', async () => {
    writeConnector('s.json', { name: 's', config: { 'connector.class': 'demo', topic: 't', 'api.password': 'pw-123' }, initial_state: 'PAUSED' });
    expect((await cli(['apply', dir])).stdout).toMatch(/^created\s+s\s/);
    expect((await herder.connectorStatus('s')).connector.state).toBe('PAUSED');
    expect((await cli(['apply', dir])).stdout).toMatch(/^updated\s+s\s/);
  });

  it('invalid JSON: names the file and the position, and applies nothing', async () => {
    writeConnector('a-good.json', { name: 'good', config: { 'connector.class': 'demo', topic: 't' } });
    writeConnector('b-bad.json', '{\n  "name": "bad",\n  "config": {"topic": "t",}\n}\n');
    const res = await cli(['apply', dir]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/error: \S*b-bad\.json: invalid JSON at line 3, column 27: /);
    expect(res.stderr).toContain('Nothing applied');
    expect(await herder.connectors()).toEqual([]);
  });

  it('a file not in Kafka Connect format is named with what is missing', async () => {
    writeConnector('x.json', { config: { topic: 't' } });
    writeConnector('y.json', { name: 'y', config: { nested: { a: 1 } } });
    const res = await cli(['apply', dir]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/x\.json: "name" is missing/);
    expect(res.stderr).toMatch(/y\.json: config values must be strings, numbers or booleans; not: nested/);
  });

  it('a config the worker rejects is reported per file with its message; the others still apply', async () => {
    writeConnector('a.json', { name: 'a', config: { 'connector.class': 'demo', 'rate.per.sec': 'fast' } });
    writeConnector('b.json', { name: 'b', config: { 'connector.class': 'demo', topic: 't' } });
    const res = await cli(['apply', dir]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^failed\s+a\s/m);
    expect(res.stdout).toMatch(/^created\s+b\s/m);
    expect(res.stderr).toMatch(/error: \S*a\.json \(a\): Connector configuration is invalid and contains the following 2 error\(s\):\n {2}topic: /);
    expect(await herder.connectors()).toEqual(['b']);
  });

  it('--json prints one result per file', async () => {
    writeConnector('b.json', { name: 'b', config: { 'connector.class': 'demo', topic: 't' } });
    const res = await cli(['apply', dir, '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([{ file: expect.stringMatching(/b\.json$/), name: 'b', result: 'created' }]);
  });

  it('an empty directory or a missing path is an error', async () => {
    expect((await cli(['apply', dir])).stderr).toMatch(/no \*\.json connector files/);
    const missing = await cli(['apply', join(dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file or directory/);
  });
});

describe('connectors', { timeout: 30_000 }, () => {
  beforeEach(seed);

  it('list: a table of name, type, state, tasks, class', async () => {
    herder.failTask('orders', 1);
    const res = await cli(['connectors', 'list']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      [
        'NAME       TYPE    STATE    TASKS                CLASS',
        `audit-log  sink    RUNNING  1/1 RUNNING          ${LOG_SINK}`,
        `orders     source  RUNNING  1 RUNNING, 1 FAILED  ${DEMO_SOURCE}`,
        '',
      ].join('\n'),
    );
    expect((await cli(['connectors'])).stdout).toBe(res.stdout);
  });

  it('list --json prints the worker JSON', async () => {
    const res = await cli(['connectors', 'list', '--json']);
    expect(JSON.parse(res.stdout)).toEqual((await app.inject({ url: '/connectors?expand=status&expand=info' })).json());
  });

  it('status: every instance with its state and the first line of a failure trace', async () => {
    herder.failTask('orders', 1, 'org.example.Boom: disk full\n\tat Writer.write');
    const all = await cli(['connectors', 'status']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(
      [
        'CONNECTOR  INSTANCE   STATE    WORKER   TRACE',
        'audit-log  connector  RUNNING  w1:8083',
        'audit-log  task 0     RUNNING  w1:8083',
        'orders     connector  RUNNING  w1:8083',
        'orders     task 0     RUNNING  w1:8083',
        'orders     task 1     FAILED   w1:8083  org.example.Boom: disk full',
        '',
      ].join('\n'),
    );
    const one = await cli(['connectors', 'status', 'orders']);
    expect(one.stdout).toMatch(/^Connector orders \(source\)\nINSTANCE {3}STATE {4}WORKER {3}TRACE\n/);
    expect(one.stdout).toContain('--json');
    const json = JSON.parse((await cli(['connectors', 'status', 'orders', '--json'])).stdout);
    expect(json.tasks[1]).toEqual({ id: 1, state: 'FAILED', worker_id: 'w1:8083', trace: 'org.example.Boom: disk full\n\tat Writer.write' });
  });

  it('status shows task progress when reported', async () => {
    herder.setProgress('orders', 0, { snapshot_rows: 1200, phase: 'snapshot' });
    const res = await cli(['connectors', 'status', 'orders']);
    expect(res.stdout).toContain('task 0     RUNNING  w1:8083  snapshot_rows=1200 phase=snapshot');
  });

  it('get: config as key/value table', async () => {
    const res = await cli(['connectors', 'get', 'orders']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Name:   orders\nType:   source\nTasks:  2\n');
    expect(res.stdout).toMatch(/^topic\s+orders$/m);
  });

  it('pause, resume, stop, restart and delete change the worker and say so', async () => {
    expect((await cli(['connectors', 'pause', 'orders'])).stdout).toBe('Pause requested for connector orders.\n');
    expect((await herder.connectorStatus('orders')).connector.state).toBe('PAUSED');
    expect((await cli(['connectors', 'resume', 'orders'])).stdout).toBe('Resume requested for connector orders.\n');
    expect((await herder.connectorStatus('orders')).connector.state).toBe('RUNNING');
    expect((await cli(['connectors', 'restart', 'orders'])).stdout).toBe('Restarted connector orders.\n');
    herder.failTask('orders', 0);
    const restart = await cli(['connectors', 'restart', 'orders', '--include-tasks', '--only-failed']);
    expect(restart.code).toBe(0);
    expect(restart.stdout).toMatch(/^Restart requested for connector orders:\n/);
    expect(restart.stdout).toMatch(/^task 0 +RESTARTING/m);
    expect(herder.calls.at(-1)).toEqual({ method: 'restartConnector', args: ['orders', { includeTasks: true, onlyFailed: true }] });
    expect((await cli(['connectors', 'stop', 'orders'])).stdout).toBe('Stopped connector orders.\n');
    expect((await cli(['connectors', 'delete', 'orders'])).stdout).toBe('Deleted connector orders.\n');
    expect(await herder.connectors()).toEqual(['audit-log']);
  });

  it('signal sends {type, data} to the connector\'s tasks; bad JSON data exits 2 before sending', async () => {
    const res = await cli(['connectors', 'signal', 'orders', 'execute-snapshot', '{"data-collections":["public.orders"]}']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('Signal generated-id (execute-snapshot) taken by 1 task(s) of orders.\n');
    expect(herder.calls.at(-1)).toEqual({ method: 'signalConnector', args: ['orders', { type: 'execute-snapshot', data: { 'data-collections': ['public.orders'] } }] });
    const bad = await cli(['connectors', 'signal', 'orders', 'log', '{nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^The signal data is not valid JSON/);
  });

  it('a REST error prints the worker message and exits 1', async () => {
    const res = await cli(['connectors', 'get', 'nope']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe('error: Connector nope not found\n');
  });
});

describe('offsets and plugins', { timeout: 30_000 }, () => {
  beforeEach(seed);

  it('offsets get/reset', async () => {
    herder.connectorsByName.get('orders')!.offsets = [{ partition: { table: 'orders' }, offset: { lsn: 77 } }];
    const got = await cli(['offsets', 'get', 'orders']);
    expect(got.stdout).toBe('PARTITION           OFFSET\n{"table":"orders"}  {"lsn":77}\n');
    const refused = await cli(['offsets', 'reset', 'orders']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/STOPPED/);
    await cli(['connectors', 'stop', 'orders']);
    const reset = await cli(['offsets', 'reset', 'orders']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toBe('The offsets for this connector have been reset successfully\n');
    expect((await cli(['offsets', 'get', 'orders'])).stdout).toBe('No committed offsets for connector orders.\n');
  });

  it('plugins: connectors by default, everything with --all', async () => {
    const res = await cli(['plugins']);
    expect(res.stdout).toBe(`CLASS${' '.repeat(DEMO_SOURCE.length - 3)}TYPE    VERSION\n${DEMO_SOURCE}  source  0.1.0\n${LOG_SINK}     sink    0.1.0\n`);
    const all = await cli(['plugins', '--all', '--json']);
    expect(JSON.parse(all.stdout)).toHaveLength(5);
  });
});

describe('reaching the worker', { timeout: 30_000 }, () => {
  it('unreachable: one line naming the URL and suggesting `tributary start`', async () => {
    const port = await closedPort();
    const res = await run(['connectors', 'list', '--url', `http://127.0.0.1:${port}`]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toBe(
      `error: Cannot reach a Tributary worker at http://127.0.0.1:${port} (connection refused). Is one running? Start one with \`tributary start\`, or point --url (or TRIBUTARY_URL) at a running worker.\n`,
    );
    expect(res.stderr).toContain('tributary start');
  });

  it('uses http://127.0.0.1:8083 by default and TRIBUTARY_URL when set', async () => {
    const port = await closedPort();
    expect((await run(['connectors', 'list'], { TRIBUTARY_URL: `http://127.0.0.1:${port}/` })).stderr).toContain(`at http://127.0.0.1:${port} `);

    const seen: string[] = [];
    const original = globalThis.fetch;
    const saved = process.env.TRIBUTARY_URL;
    delete process.env.TRIBUTARY_URL;
    globalThis.fetch = (async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response('[]', { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    try {
      expect(await main(['plugins'], { out: () => {}, err: () => {} })).toBe(0);
    } finally {
      globalThis.fetch = original;
      if (saved !== undefined) process.env.TRIBUTARY_URL = saved;
    }
    expect(seen).toEqual(['http://127.0.0.1:8083/connector-plugins']);
  });

  it('bearer and basic credentials from flags or environment', async () => {
    const secured = await serve(herder, { type: 'bearer', tokens: ['t0k'] });
    const basic = await serve(herder, { type: 'basic', users: { ops: 'pw' } });
    try {
      const denied = await run(['connectors', 'list', '--url', secured.url]);
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/Authentication required \(bearer\)\. Pass --token/);
      expect((await run(['connectors', 'list', '--url', secured.url, '--token', 't0k'])).code).toBe(0);
      expect((await run(['connectors', 'list', '--url', secured.url], { TRIBUTARY_TOKEN: 't0k' })).code).toBe(0);
      expect((await run(['connectors', 'list', '--url', basic.url, '--user', 'ops', '--password=pw'])).code).toBe(0);
      expect((await run(['connectors', 'list', '--url', basic.url], { TRIBUTARY_USER: 'ops', TRIBUTARY_PASSWORD: 'nope' })).stderr).toMatch(/Invalid credentials/);
    } finally {
      await secured.app.close();
      await basic.app.close();
    }
  });
});

describe('usage', { timeout: 30_000 }, () => {
  it('--help for the program and each command', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['apply <dir|file>', 'connectors status [<name>]', 'offsets reset <name>', 'plugins', 'start']) expect(top.stdout).toContain(`tributary ${cmd}`);
    const restart = await run(['connectors', 'restart', '--help']);
    expect(restart.code).toBe(0);
    expect(restart.stdout).toMatch(/^Usage: tributary connectors restart <name> \[options\]/);
    expect(restart.stdout).toContain('--include-tasks');
    expect(restart.stdout).toContain('TRIBUTARY_URL');
    expect((await run(['apply', '--help'])).stdout).toContain("Kafka Connect's format");
    expect((await run(['offsets', '--help'])).stdout).toContain('tributary offsets get <name>');
  });

  it('bad usage exits 2 with a pointer to help', async () => {
    const missing = await run(['connectors', 'pause']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Missing <name>\. Usage: tributary connectors pause <name>/);
    const unknownFlag = await run(['plugins', '--bogus']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/Unknown option --bogus/);
    const unknownCmd = await run(['frobnicate']);
    expect(unknownCmd.code).toBe(2);
    expect(unknownCmd.stderr).toMatch(/Unknown command `frobnicate`/);
  });
});
