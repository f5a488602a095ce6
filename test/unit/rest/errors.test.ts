import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../../runtime/api/index.ts';
import { HerderError } from '../../../runtime/cluster/herder.ts';
import { loggerLevels } from '../../../runtime/engine/logging.ts';
import { toErrorBody } from '../../../runtime/rest/index.ts';
import { call, demoConfig, isErrorBody, logLines, setup } from './helpers.ts';
import { MemoryHerder } from './memory-herder.ts';

describe('error mapping', () => {
  it('maps HerderError to its status, ConfigError to 400 naming each field, anything else to 500', () => {
    expect(toErrorBody(new HerderError(409, 'rebalancing'))).toEqual({ error_code: 409, message: 'rebalancing' });
    const cfg = ConfigError.fromFields([{ name: 'a', message: 'bad a' }, { name: 'b', message: 'bad b' }]);
    expect(toErrorBody(cfg)).toEqual({ error_code: 400, message: 'Connector configuration is invalid and contains the following 2 error(s):\na: bad a\nb: bad b' });
    expect(toErrorBody(new ConfigError('plain'))).toEqual({ error_code: 400, message: 'plain' });
    expect(toErrorBody(new DataError('odd'))).toEqual({ error_code: 500, message: 'odd' });
    expect(toErrorBody('weird')).toEqual({ error_code: 500, message: 'weird' });
  });

  it('unknown route: 404 in the Connect shape', async () => {
    const { app } = setup();
    const res = await call(app, 'GET', '/connectors/a/b/c/d');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error_code: 404, message: 'Unknown endpoint: GET /connectors/a/b/c/d' });
    expect((await call(app, 'DELETE', '/connector-plugins')).status).toBe(404);
  });

  it('malformed JSON: 400 saying the body is not valid JSON, and where', async () => {
    const { app } = setup();
    const res = await call(app, 'PUT', '/connectors/x/config', '{"topic": "a",\n "tasks.max": }', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(isErrorBody(res.body, 400)).toBe(true);
    expect(res.body.message).toMatch(/^Request body is not valid JSON: /);
    expect(res.body.message).toMatch(/^Request body is not valid JSON: line 2, column 15: /);
  });

  it('a non-JSON content type is refused with 415 (no cross-site form posts)', async () => {
    const { app } = setup();
    const res = await call(app, 'POST', '/connectors', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.body).toEqual({ error_code: 415, message: 'Unsupported Content-Type: send a JSON body with "Content-Type: application/json".' });
    const text = await call(app, 'POST', '/connectors', '{"name":"x"}', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('a body over the limit: 413', async () => {
    const { app } = setup({ bodyLimit: 100 });
    const res = await call(app, 'PUT', '/connectors/x/config', { topic: 'x'.repeat(200) });
    expect(res.status).toBe(413);
    expect(isErrorBody(res.body, 413)).toBe(true);
  });

  it('a bug in the Herder: 500 with the message, never a stack; logged at error', async () => {
    const herder = new MemoryHerder();
    herder.connectors = async () => {
      throw new TypeError('Cannot read properties of undefined');
    };
    const { app } = setup({ herder });
    const before = logLines.length;
    const res = await call(app, 'GET', '/connectors');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error_code: 500, message: 'Cannot read properties of undefined' });
    expect(res.raw).not.toContain('    at ');
    const logged = logLines.slice(before).map((l) => JSON.parse(l));
    expect(logged.some((l) => l.level === 50 && l.err?.message === 'Cannot read properties of undefined')).toBe(true);
  });

  it('a Herder call that never answers: 500 "Request timed out"', async () => {
    const herder = new MemoryHerder();
    herder.connectorStatus = () => new Promise(() => {});
    await herder.putConnectorConfig('a', { ...(demoConfig() as Record<string, string>), name: 'a' }, { allowReplace: false });
    const { app } = setup({ herder, requestTimeoutMs: 20 });
    const res = await call(app, 'GET', '/connectors/a/status');
    expect(res.status).toBe(500);
    expect(res.body.message).toMatch(/^Request timed out/);
  });
});

describe('request logging', () => {
  it('is silent at info; at debug one line per request with method, url, status, never the body', async () => {
    const { app } = setup();
    const before = logLines.length;
    await call(app, 'PUT', '/connectors/s/config', demoConfig({ 'api.password': 'top-secret-value' }));
    expect(logLines.length).toBe(before);

    loggerLevels.set('test.rest', 'DEBUG');
    try {
      await call(app, 'PUT', '/connectors/s/config', demoConfig({ 'api.password': 'top-secret-value' }));
    } finally {
      loggerLevels.set('test.rest', 'INFO');
    }
    const lines = logLines.slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('top-secret-value');
    expect(JSON.parse(lines[0])).toMatchObject({ level: 20, logger: 'test.rest', method: 'PUT', url: '/connectors/s/config', status: 200, msg: 'REST request' });
  });
});
