// A worker that runs no Postgres, S3, HTTP or Redis connector loads none of their clients, nor
// Fastify's schema compilers (Ajv, fast-json-stringify): module loading is most of the start-up
// time (pg and Ajv alone were ~300 of 760 modules and ~0.2 s of a 0.8 s start on a loaded machine).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../../helpers/worker-process.ts';

const HEAVY = ['pg', 'pg-copy-streams', 'pg-protocol', '@aws-sdk', 'bullmq', 'ioredis', 'undici', 'ajv', '@fastify/ajv-compiler', 'hyparquet-writer'];

const children: Array<ReturnType<typeof spawn>> = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('worker start-up', () => {
  it('loads no connector client library and no JSON-schema compiler before a task needs one', async () => {
    const dir = tempDir('startup-modules');
    const list = join(dir, 'loaded.txt');
    const hooks = join(dir, 'hooks.mjs');
    writeFileSync(list, '');
    const connectors = join(dir, 'connectors');
    mkdirSync(connectors);
    writeFileSync(join(connectors, 'gen.json'), JSON.stringify({ name: 'gen', config: { 'connector.class': 'demo', topic: 'orders', shape: 'orders', rate: '100', 'tasks.max': '2' } }));
    writeFileSync(join(connectors, 'out.json'), JSON.stringify({ name: 'out', config: { 'connector.class': 'FileStreamSink', topics: 'orders', file: join(dir, 'out.jsonl') } }));
    // Synchronous module hooks see both import and require.
    writeFileSync(hooks, `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
registerHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(list)}, url + '\\n'); return next(url, context); } });
`);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', hooks, 'runtime/cli/main.ts', 'start', '--no-progress'], {
      cwd: process.cwd(),
      env: { ...process.env, TRIBUTARY_REST_PORT: String(port), TRIBUTARY_STATE_DIR: join(dir, 'state'), TRIBUTARY_CONNECTORS_DIR: connectors, TRIBUTARY_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    children.push(child);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/connectors?expand=status`).then((r) => r.json(), () => null) as Record<string, { status: { tasks: Array<{ state: string }> } }> | null;
      // A pipeline runs: its two source tasks and its sink task are RUNNING.
      if (ok && Object.values(ok).flatMap((c) => c.status.tasks).filter((t) => t.state === 'RUNNING').length >= 3) break;
      if (Date.now() > deadline) throw new Error('the demo pipeline did not start within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    const loaded = readFileSync(list, 'utf8').split('\n').filter(Boolean);
    // The hook itself works: the worker's own modules and Fastify are in the list.
    expect(loaded.some((u) => u.includes('/runtime/rest/app.ts'))).toBe(true);
    expect(loaded.some((u) => u.includes('/node_modules/fastify/'))).toBe(true);
    const heavy = loaded.filter((u) => HEAVY.some((p) => u.includes(`/node_modules/${p}/`)));
    expect(heavy).toEqual([]);
  });
});
