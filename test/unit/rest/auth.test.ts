import { describe, expect, it } from 'vitest';
import { assertSafeBinding, authenticator, isLoopback } from '../../../runtime/rest/index.ts';
import { call, setup } from './helpers.ts';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('auth: none', () => {
  it('serves everything without credentials', async () => {
    const { app } = setup({ auth: { type: 'none' } });
    expect((await call(app, 'GET', '/connectors')).status).toBe(200);
  });
});

describe('auth: basic', () => {
  const { app } = setup({ auth: { type: 'basic', users: { admin: 'pa:ss wörd' } } });

  it('401 with WWW-Authenticate and the Connect error shape when missing', async () => {
    const res = await call(app, 'GET', '/connectors');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="tributary", charset="UTF-8"');
    expect(res.body).toEqual({ error_code: 401, message: 'Authentication required (basic).' });
  });

  it('401 for a wrong password, an unknown user, a malformed header, or the wrong scheme', async () => {
    for (const authorization of [basic('admin', 'nope'), basic('root', 'pa:ss wörd'), 'Basic !!!', 'Bearer pa:ss wörd', basic('admin', 'pa:ss wörd').slice(0, -4)]) {
      const res = await call(app, 'GET', '/connectors', undefined, { authorization });
      expect(res.status, authorization).toBe(401);
      expect(res.body).toEqual({ error_code: 401, message: 'Invalid credentials.' });
    }
  });

  it('200 with the right credentials (passwords may hold colons and non-ASCII)', async () => {
    const res = await call(app, 'GET', '/connectors', undefined, { authorization: basic('admin', 'pa:ss wörd') });
    expect(res.status).toBe(200);
  });

  it('guards every API route, including /metrics and /admin/loggers; /health and the /ui shell stay open', async () => {
    for (const url of ['/', '/connectors', '/connector-plugins', '/admin/loggers', '/metrics', '/connectors/x/status']) {
      expect((await call(app, 'GET', url)).status, url).toBe(401);
    }
    const health = await call(app, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', message: 'Worker is ready.' });
    expect((await call(app, 'GET', '/ui')).status).toBe(200);
  });

  it('is checked before the body is parsed', async () => {
    const res = await call(app, 'POST', '/connectors', '{not json', { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
  });
});

describe('auth: bearer', () => {
  const { app } = setup({ auth: { type: 'bearer', tokens: ['tok-1', 'tok-2'], realm: 'prod' } });

  it('401 with a Bearer challenge', async () => {
    const res = await call(app, 'GET', '/connectors', undefined, { authorization: 'Bearer wrong' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="prod"');
    expect(res.body).toEqual({ error_code: 401, message: 'Invalid credentials.' });
  });

  it('accepts any configured token, case-insensitive scheme', async () => {
    expect((await call(app, 'GET', '/connectors', undefined, { authorization: 'Bearer tok-2' })).status).toBe(200);
    expect((await call(app, 'GET', '/connectors', undefined, { authorization: 'bearer tok-1' })).status).toBe(200);
    expect((await call(app, 'GET', '/connectors', undefined, { authorization: 'Bearer tok-' })).status).toBe(401);
  });
});

describe('authenticator', () => {
  it('refuses impossible configurations at build time', () => {
    expect(() => authenticator({ type: 'basic' })).toThrow(/no users/);
    expect(() => authenticator({ type: 'bearer', tokens: [''] })).toThrow(/no tokens/);
    expect(() => authenticator({ type: 'kerberos' as 'none' })).toThrow(/Unknown REST authentication type/);
    expect(() => setup({ auth: { type: 'basic', users: {} } })).toThrow(/no users/);
  });
});

describe('assertSafeBinding', () => {
  it('allows anything on loopback', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) {
      expect(isLoopback(host), host).toBe(true);
      expect(() => assertSafeBinding(host, undefined)).not.toThrow();
      expect(() => assertSafeBinding(host, { type: 'none' })).not.toThrow();
    }
  });

  it('refuses a non-loopback address without auth, with a message saying what to do', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'worker-1.example.com', '']) {
      expect(isLoopback(host), host).toBe(false);
      expect(() => assertSafeBinding(host, { type: 'none' })).toThrow(/without authentication.*rest\.auth\.allow\.insecure=true/s);
    }
    expect(() => assertSafeBinding('0.0.0.0', undefined)).toThrow(/Refusing to serve the REST API on 0\.0\.0\.0/);
  });

  it('allows a non-loopback address with auth, or when insecure is explicitly allowed', () => {
    expect(() => assertSafeBinding('0.0.0.0', { type: 'bearer', tokens: ['t'] })).not.toThrow();
    expect(() => assertSafeBinding('0.0.0.0', { type: 'basic', users: { a: 'b' } })).not.toThrow();
    expect(() => assertSafeBinding('0.0.0.0', { type: 'none', allowInsecure: true })).not.toThrow();
  });

  it('still refuses a broken auth configuration', () => {
    expect(() => assertSafeBinding('0.0.0.0', { type: 'bearer', tokens: [] })).toThrow(/no tokens/);
  });
});
