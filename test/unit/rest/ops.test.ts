import { afterEach, describe, expect, it } from 'vitest';
import { Registry, Counter } from 'prom-client';
import { listen } from '../../../runtime/rest/index.ts';
import { call, setup } from './helpers.ts';
import { MemoryHerder } from './memory-herder.ts';

describe('/health', () => {
  it('answers 200 {"status":"ok"} when the herder is ready', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', message: 'Worker is ready.' });
  });

  it('answers 503 with the reason while the herder is not ready (a distributed worker before it joined its group)', async () => {
    const herder = new MemoryHerder();
    let ready = false;
    Object.assign(herder, { health: () => ({ ready, message: ready ? 'Worker is ready (generation 3).' : 'The worker has not joined the worker group yet.' }) });
    const { app } = setup({ herder });
    const starting = await call(app, 'GET', '/health');
    expect(starting.status).toBe(503);
    expect(starting.body).toEqual({ status: 'starting', message: 'The worker has not joined the worker group yet.' });
    ready = true;
    expect((await call(app, 'GET', '/health')).body).toEqual({ status: 'ok', message: 'Worker is ready (generation 3).' });
  });
});

describe('/metrics', () => {
  it('serves Prometheus text from the metrics source with its content type', async () => {
    const registry = new Registry();
    new Counter({ name: 'tributary_test_records_total', help: 'Records.', registers: [registry] }).inc(3);
    const { app } = setup({ metrics: registry });
    const res = await call(app, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(registry.contentType);
    expect(res.raw).toContain('tributary_test_records_total 3');
  });

  it('404 when metrics are not enabled', async () => {
    const { app } = setup();
    expect((await call(app, 'GET', '/metrics')).body).toEqual({ error_code: 404, message: 'Metrics are not enabled on this worker.' });
  });
});

describe('/ui', () => {
  it('is one self-contained HTML page polling the expanded connector list, with a strict CSP', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/ui');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(res.raw).toContain('/connectors?expand=status&expand=info');
    for (const action of ['/pause', '/resume', '/restart?includeTasks=true', '/tasks/']) expect(res.raw).toContain(action);
    expect(res.raw).not.toMatch(/<script[^>]+src=/);
    expect(res.raw).not.toMatch(/<link[^>]+href=/);
    // Values reach the page through textContent only.
    expect(res.raw).not.toContain('innerHTML');
  });
});

describe('listen', () => {
  const apps: Array<{ close(): Promise<unknown> }> = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
  });

  it('binds loopback and serves real HTTP', async () => {
    const { app } = setup();
    apps.push(app);
    const url = await listen(app, { host: '127.0.0.1', port: 0 });
    const res = await fetch(`${url}/health`);
    expect(await res.json()).toEqual({ status: 'ok', message: 'Worker is ready.' });
  });

  it('refuses a non-loopback address without auth before binding', async () => {
    const { app } = setup();
    apps.push(app);
    await expect(listen(app, { host: '0.0.0.0', port: 0 })).rejects.toThrow(/without authentication/);
    expect(app.server.listening).toBe(false);
  });
});
