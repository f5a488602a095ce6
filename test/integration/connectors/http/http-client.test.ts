/** The HTTP sink's client (our own HTTP/1.1 pool for http:, undici for https:) against real servers: what node:http did, it still does. */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
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

  describe('its own HTTP/1.1 client (http: URLs)', () => {
    const raws: Array<{ server: NetServer; sockets: Set<Socket> }> = [];
    afterEach(async () => {
      await Promise.all(
        raws.splice(0).map(({ server, sockets }) => {
          for (const s of sockets) s.destroy();
          return new Promise((resolve) => server.close(resolve));
        }),
      );
    });

    /** A server answering each request (read up to the end of its head and the body its content-length announces) with raw bytes, in pieces. */
    async function raw(answer: (index: number) => Array<string | Buffer>, afterAnswer?: (socket: Socket, index: number) => void): Promise<{ url: string; connections: () => number; heads: string[] }> {
      let connections = 0;
      let index = 0;
      const heads: string[] = [];
      const sockets = new Set<Socket>();
      const srv = createNetServer((socket) => {
        connections++;
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        let buf = Buffer.alloc(0);
        socket.on('error', () => {});
        socket.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          for (;;) {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = buf.toString('latin1', 0, end);
            const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
            if (buf.length < end + 4 + length) return;
            heads.push(head);
            buf = buf.subarray(end + 4 + length);
            const i = index++;
            const pieces = answer(i);
            // Each piece its own write, a little apart: the client must put the answer together.
            void (async () => {
              for (const piece of pieces) {
                socket.write(piece);
                await new Promise((r) => setTimeout(r, 2));
              }
              afterAnswer?.(socket, i);
            })();
          }
        });
      });
      raws.push({ server: srv, sockets });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, connections: () => connections, heads };
    }

    it('reads chunked bodies cut anywhere, skips a 100 Continue, joins repeated headers and keeps set-cookie a list', async () => {
      const s = await raw((i) =>
        i === 0
          ? ['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 20', '0 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r', '\n5\r\nhel', 'lo\r', '\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n', '\r\n']
          : ['HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbu', 'sy'],
      );
      const c = client(1);
      const res = await c.send({ url: `${s.url}/a?b=1`, method: 'POST', headers: { 'content-type': 'text/plain' }, body: Buffer.from('xyz'), timeoutMs: 5000 });
      expect(res).toEqual({ status: 200, headers: expect.objectContaining({ 'x-a': '1, 2', 'set-cookie': ['a=1', 'b=2'] }), body: 'hello, world', truncated: false });
      const busy = await c.send({ url: `${s.url}/a`, method: 'POST', headers: {}, body: 'x', timeoutMs: 5000 });
      expect(busy).toMatchObject({ status: 503, body: 'busy', headers: expect.objectContaining({ 'retry-after': '7' }) });
      expect(s.connections()).toBe(1);
      expect(s.heads[0]).toMatch(/^POST \/a\?b=1 HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\ncontent-type: text\/plain\r\ncontent-length: 3$/);
    });

    it('reads a body that ends with the connection, and opens a new connection after connection: close or an idle one closed by the server', async () => {
      const s = await raw(
        (i) => (i === 0 ? ['HTTP/1.0 200 OK\r\n\r\nuntil ', 'close'] : i === 1 ? ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'] : ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes']),
        (socket, i) => {
          // The first answer ends with the connection; the third one's connection is closed by the server once idle.
          if (i === 0 || i === 2) setTimeout(() => socket.end(), 20);
        },
      );
      const c = client(1);
      expect((await c.send({ url: `${s.url}/1`, method: 'GET', headers: {}, timeoutMs: 5000 })).body).toBe('until close');
      expect((await c.send({ url: `${s.url}/2`, method: 'GET', headers: {}, timeoutMs: 5000 })).body).toBe('ok');
      expect((await c.send({ url: `${s.url}/3`, method: 'GET', headers: {}, timeoutMs: 5000 })).body).toBe('yes');
      await new Promise((r) => setTimeout(r, 100));
      expect((await c.send({ url: `${s.url}/4`, method: 'GET', headers: {}, timeoutMs: 5000 })).body).toBe('yes');
      expect(s.connections()).toBe(4);
      // A GET without a body says no content-length.
      expect(s.heads[0]).not.toMatch(/content-length/i);
    });

    it('fails a response that is not HTTP (EPROTO) and a server that closes before answering (ECONNRESET), then works on', async () => {
      const s = await raw(
        (i) => (i === 0 ? ['SSH-2.0-OpenSSH\r\n\r\n'] : i === 1 ? [] : ['HTTP/1.1 204 No Content\r\n\r\n']),
        (socket, i) => {
          if (i === 1) socket.destroy();
        },
      );
      const c = client(1);
      expect((await failure(c.send({ url: `${s.url}/x`, method: 'POST', headers: {}, body: 'a', timeoutMs: 5000 }))).code).toBe('EPROTO');
      expect((await failure(c.send({ url: `${s.url}/y`, method: 'POST', headers: {}, body: 'b', timeoutMs: 5000 }))).code).toBe('ECONNRESET');
      expect(await c.send({ url: `${s.url}/z`, method: 'POST', headers: {}, body: 'c', timeoutMs: 5000 })).toMatchObject({ status: 204, body: '' });
    });

    it("gives up an idle connection a second before the server's Keep-Alive timeout says it closes it", async () => {
      const ports = new Set<number>();
      const httpServer = await new Promise<Server>((resolve) => {
        const raw = createServer((req, res) => {
          ports.add((req.socket as Socket).remotePort!);
          req.resume();
          req.on('end', () => res.end('ok'));
        });
        raw.keepAliveTimeout = 2000; // answers say Keep-Alive: timeout=2
        raw.listen(0, '127.0.0.1', () => resolve(raw));
      });
      try {
        const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/x`;
        const c = client(1);
        await c.send({ url, method: 'POST', headers: {}, body: 'a', timeoutMs: 5000 });
        await c.send({ url, method: 'POST', headers: {}, body: 'b', timeoutMs: 5000 });
        expect(ports.size).toBe(1);
        // Idle 1.5 s: the server would still take it, but it is past timeout=2 less a second.
        await new Promise((r) => setTimeout(r, 1500));
        await c.send({ url, method: 'POST', headers: {}, body: 'c', timeoutMs: 5000 });
        expect(ports.size).toBe(2);
        c.close();
      } finally {
        httpServer.closeAllConnections();
        await new Promise((resolve) => httpServer.close(resolve));
      }
    });

    it('refuses a header value that would split the request head, without sending it', async () => {
      const s = await server();
      const c = client(1);
      expect((await failure(c.send({ url: `${s.url}/x`, method: 'POST', headers: { 'x-bad': 'a\r\nx-injected: 1' }, body: 'a', timeoutMs: 1000 }))).code).toBe('EINVALIDHEADER');
      expect((await c.send({ url: `${s.url}/y`, method: 'POST', headers: { 'x-good': 'b' }, body: 'b', timeoutMs: 1000 })).status).toBe(200);
      expect(s.requests.map((r) => [r.url, r.headers['x-good']])).toEqual([['/y', 'b']]);
    });
  });
});
