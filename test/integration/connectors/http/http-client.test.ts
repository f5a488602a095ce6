/** The HTTP sink's client (undici dispatch) against real servers: what node:http did, it still does. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Allowlist } from '../../../../connectors/http/allowlist.ts';
import { HttpClient, NetworkError } from '../../../../connectors/http/http-client.ts';
import { freePort } from '../../../helpers/worker-process.ts';
import { startServer, type TestServer } from './test-server.ts';

const servers: TestServer[] = [];
const clients: HttpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

function client(maxSockets = 2, allowlist?: Allowlist): HttpClient {
  const c = new HttpClient({ maxSockets, allowlist });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<NetworkError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(NetworkError);
    return e as NetworkError;
  }
  throw new Error('expected a NetworkError');
}

describe('HttpClient', () => {
  it('sends method, path, query, headers and a Buffer or string body; returns status, headers and body', async () => {
    const s = await server((_q, res) => {
      res.writeHead(201, { 'x-answer': '42', 'retry-after': '3' });
      res.end('créé');
    });
    const c = client();
    const res = await c.send({ url: `${s.url}/a/b?x=1&y=%2F`, method: 'PUT', headers: { 'content-type': 'application/x-ndjson', authorization: 'Bearer t' }, body: Buffer.from('{"a":1}\n{"b":2}'), timeoutMs: 5000 });
    expect(res).toEqual({ status: 201, headers: expect.objectContaining({ 'x-answer': '42', 'retry-after': '3' }), body: 'créé', truncated: false });
    await c.send({ url: `${s.url}/s`, method: 'POST', headers: {}, body: 'héllo', timeoutMs: 5000 });
    expect(s.requests.map((r) => [r.method, r.url, r.body, r.headers['content-length']])).toEqual([
      ['PUT', '/a/b?x=1&y=%2F', '{"a":1}\n{"b":2}', '15'],
      ['POST', '/s', 'héllo', '6'],
    ]);
    expect(s.requests[0].headers).toMatchObject({ 'content-type': 'application/x-ndjson', authorization: 'Bearer t' });
  });

  it('keeps at most maxBodyBytes of a response, says it was cut, and reuses the connection', async () => {
    const ports = new Set<number>();
    const s = await server((q, res) => res.end(q.url === '/big' ? 'x'.repeat(100_000) : 'small'));
    const httpServer = await new Promise<Server>((resolve) => {
      // Which client ports the requests came from: one keep-alive connection for both.
      const raw = createServer((req, res) => {
        ports.add((req.socket as Socket).remotePort!);
        req.resume();
        req.on('end', () => res.end(req.url === '/big' ? 'y'.repeat(100_000) : 'small'));
      }).listen(0, '127.0.0.1', () => resolve(raw));
    });
    const port = (httpServer.address() as AddressInfo).port;
    try {
      const c = client(1);
      const big = await c.send({ url: `${s.url}/big`, method: 'GET', headers: {}, timeoutMs: 5000, maxBodyBytes: 10 });
      expect(big).toMatchObject({ status: 200, body: 'xxxxxxxxxx', truncated: true });
      expect((await c.send({ url: `${s.url}/small`, method: 'GET', headers: {}, timeoutMs: 5000, maxBodyBytes: 10 })).truncated).toBe(false);
      for (const path of ['/big', '/small', '/big']) await c.send({ url: `http://127.0.0.1:${port}${path}`, method: 'POST', headers: {}, body: 'b', timeoutMs: 5000, maxBodyBytes: 4 });
      expect(ports.size).toBe(1);
    } finally {
      await new Promise((resolve) => httpServer.close(resolve));
    }
  });

  it('times out a request with no answer (ETIMEDOUT), and a request waiting for a busy connection within its own deadline', async () => {
    const s = await server((q, res) => {
      if (q.url !== '/hang') res.end('ok');
    });
    const c = client(1);
    let hungEnded = false;
    const hung = failure(c.send({ url: `${s.url}/hang`, method: 'POST', headers: {}, body: 'a', timeoutMs: 1500 })).finally(() => (hungEnded = true));
    // The only connection is taken by /hang: this one waits, and its deadline runs while it waits,
    // so it ends before the request it waits behind.
    const waiting = await failure(c.send({ url: `${s.url}/queued`, method: 'POST', headers: {}, body: 'b', timeoutMs: 100 }));
    expect(waiting.code).toBe('ETIMEDOUT');
    expect(hungEnded).toBe(false);
    expect((await hung).code).toBe('ETIMEDOUT');
    // The request that timed out while waiting is never sent; the client goes on working.
    expect((await c.send({ url: `${s.url}/after`, method: 'POST', headers: {}, body: 'c', timeoutMs: 5000 })).status).toBe(200);
    expect(s.requests.map((r) => r.url)).toEqual(['/hang', '/after']);
  });

  it('ends a request when the signal aborts (EABORTED), in flight or waiting', async () => {
    const s = await server((q, res) => {
      if (q.url !== '/hang') res.end('ok');
    });
    const c = client(1);
    const ac = new AbortController();
    const inflight = failure(c.send({ url: `${s.url}/hang`, method: 'POST', headers: {}, body: 'a', timeoutMs: 30_000, signal: ac.signal }));
    const waiting = failure(c.send({ url: `${s.url}/queued`, method: 'POST', headers: {}, body: 'b', timeoutMs: 30_000, signal: ac.signal }));
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    expect((await inflight).code).toBe('EABORTED');
    expect((await waiting).code).toBe('EABORTED');
    expect((await failure(c.send({ url: `${s.url}/x`, method: 'POST', headers: {}, timeoutMs: 1000, signal: ac.signal }))).code).toBe('EABORTED');
    expect(s.requests.map((r) => r.url)).toEqual(['/hang']);
  });

  it('reports a refused connection as ECONNREFUSED and a connection closed mid-answer as ECONNRESET', async () => {
    const c = client();
    const refused = await failure(c.send({ url: `http://127.0.0.1:${await freePort()}/x`, method: 'POST', headers: {}, body: 'a', timeoutMs: 5000 }));
    expect(refused.code).toBe('ECONNREFUSED');
    expect(refused.message).toContain('ECONNREFUSED');
    const s = await server((_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    expect((await failure(c.send({ url: `${s.url}/x`, method: 'POST', headers: {}, body: 'a', timeoutMs: 5000 }))).code).toBe('ECONNRESET');
  });

  it('refuses invalid URLs and hosts outside the allowlist without connecting', async () => {
    const s = await server();
    const c = client(2, new Allowlist(['10.0.0.0/8']));
    expect((await failure(c.send({ url: 'not a url', method: 'POST', headers: {}, timeoutMs: 1000 }))).code).toBe('EINVALIDURL');
    expect((await failure(c.send({ url: `${s.url}/x`, method: 'POST', headers: {}, timeoutMs: 1000 }))).code).toBe('EHOSTNOTALLOWED');
    const byName = await failure(c.send({ url: `http://localhost:${s.port}/x`, method: 'POST', headers: {}, timeoutMs: 1000 }));
    expect(byName.code).toBe('EHOSTNOTALLOWED');
    expect(byName.message).toContain('outside http.allowed.hosts');
    expect(s.requests).toHaveLength(0);
  });
});
