/**
 * A small keep-alive HTTP/1.1 client over net.Socket, for plain http: URLs: a pool of at most
 * `max` connections per origin, one request per connection at a time (no pipelining). A request is
 * its head (request line, headers, content-length) and its body written corked, so that the kernel
 * gets them in one writev, with the body's Buffer as it is. The answer is parsed here: status line,
 * headers, then a body framed by Content-Length, chunked transfer-encoding, or the end of the
 * connection; 1xx answers are skipped. A connection is reused unless the answer said
 * `connection: close` (or was HTTP/1.0 without keep-alive), was framed by the end of the
 * connection, or left bytes behind it; one idle longer than IDLE_MS, or than the server's
 * `Keep-Alive: timeout=N` less a second, is closed rather than reused (servers close idle
 * connections after a few seconds, node's after 5, and a request written as they do fails).
 *
 * What it leaves to its caller (HttpClient): the deadline and the abort signal of each exchange,
 * which end it through `cancel`; the response's bounded body.
 */
import { connect, type Socket } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

/** What a pool needs of one request and how it tells it what came back. */
export interface H1Exchange {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly body: Buffer | string | undefined;
  /** Settled (timed out, aborted): a waiting exchange is dropped when its turn comes. */
  readonly settled: boolean;
  /** Set by the pool when the exchange has a connection: ends it from the caller's side. */
  cancel: (() => void) | null;
  h1Head(status: number, headers: IncomingHttpHeaders): void;
  h1Data(chunk: Buffer): void;
  h1End(): void;
  h1Error(code: string, message: string, cause?: unknown): void;
}

/** Idle connections older than this are closed, not reused. */
const IDLE_MS = 4000;
/** How much sooner than the server's Keep-Alive timeout an idle connection is given up. */
const KEEP_ALIVE_MARGIN_MS = 1000;
/** The most bytes of a response head (status line and headers). */
const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Headers as request-head text, cached per headers object (a sink sends the same object every time). */
const headText = new WeakMap<object, string>();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;

function headersText(headers: Readonly<Record<string, unknown>>): string {
  let text = headText.get(headers);
  if (text !== undefined) return text;
  text = '';
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (v === undefined || v === null) continue;
    const lower = name.toLowerCase();
    // The client owns these: the body's length and the connection's reuse.
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection' || lower === 'host') continue;
    if (!TOKEN.test(name)) throw new Error(`Invalid header name ${JSON.stringify(name)}`);
    for (const one of Array.isArray(v) ? v : [v]) {
      const s = String(one);
      if (BAD_VALUE.test(s)) throw new Error(`Invalid value of header ${name}`);
      text += `${name}: ${s}\r\n`;
    }
  }
  headText.set(headers, text);
  return text;
}

export class H1Pool {
  private readonly host: string;
  private readonly port: number;
  /** The Host header: the URL's host, with its port unless it is the default. */
  private readonly hostHeader: string;
  private readonly max: number;
  private readonly lookup: ((...args: any[]) => void) | undefined;
  private readonly idle: Connection[] = [];
  private readonly waiting: H1Exchange[] = [];
  private open = 0;
  private closed = false;

  constructor(url: URL, max: number, lookup?: (...args: any[]) => void) {
    // An IPv6 literal's brackets are the URL's, not the address's.
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port ? Number(url.port) : 80;
    this.hostHeader = url.host;
    this.max = max;
    this.lookup = lookup;
  }

  dispatch(ex: H1Exchange): void {
    if (this.closed) return ex.h1Error('ECONNRESET', 'The client is closed');
    const now = Date.now();
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      if (now - c.idleSince <= c.idleLimit && !c.socket.destroyed) return c.start(ex);
      c.destroy();
    }
    if (this.open < this.max) return this.connect().start(ex);
    this.waiting.push(ex);
  }

  /** The request head: request line, the caller's headers, Host and Content-Length. */
  head(ex: H1Exchange, length: number | undefined): string {
    return `${ex.method} ${ex.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n${headersText(ex.headers)}${length === undefined ? '' : `content-length: ${length}\r\n`}\r\n`;
  }

  private connect(): Connection {
    this.open++;
    const socket = connect({ host: this.host, port: this.port, ...(this.lookup ? { lookup: this.lookup } : {}) });
    socket.setNoDelay(true);
    return new Connection(this, socket);
  }

  /** A connection whose exchange ended with it reusable: the next waiting exchange, or idle. */
  release(c: Connection): void {
    for (let ex = this.waiting.shift(); ex !== undefined; ex = this.waiting.shift()) if (!ex.settled) return c.start(ex);
    if (this.closed) return c.destroy();
    c.idleSince = Date.now();
    c.socket.unref();
    this.idle.push(c);
  }

  /** A connection is gone: it no longer counts, and a waiting exchange may open another. */
  removed(c: Connection): void {
    this.open--;
    const at = this.idle.indexOf(c);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.closed) return;
    while (this.waiting.length > 0 && this.waiting[0].settled) this.waiting.shift();
    if (this.waiting.length > 0 && this.open < this.max) this.connect().start(this.waiting.shift()!);
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.destroy();
    for (const ex of this.waiting.splice(0)) if (!ex.settled) ex.h1Error('ECONNRESET', 'The client is closed');
  }
}

/** How the body of the answer being read is framed. */
const Body = { None: 0, Length: 1, Chunked: 2, UntilClose: 3 } as const;

/** Where a chunked body's decoder is: a size line, data, the CRLF after data, trailers. */
const Chunk = { Size: 0, Data: 1, DataEnd: 2, Trailers: 3 } as const;

class Connection {
  readonly socket: Socket;
  private readonly pool: H1Pool;
  idleSince = 0;
  /** How long it may stay idle and still be reused: IDLE_MS, or less when the server's Keep-Alive header says so. */
  idleLimit = IDLE_MS;
  private ex: H1Exchange | null = null;
  private gone = false;
  /** The answer being read is complete (set inside data(), which then releases the connection). */
  private done = false;
  private readonly cancel = (): void => this.destroy();
  /** The head read so far (it may come in several chunks). */
  private pending: Buffer | null = null;
  private reading = false;
  private framing: number = Body.None;
  private remaining = 0;
  private keepAlive = true;
  private chunk: number = Chunk.Size;
  private line = '';

  constructor(pool: H1Pool, socket: Socket) {
    this.pool = pool;
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.data(d));
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail(e.code ?? 'ECONNRESET', e.message, e));
    socket.on('close', () => this.closed());
  }

  start(ex: H1Exchange): void {
    this.ex = ex;
    this.reading = false;
    this.pending = null;
    ex.cancel = this.cancel;
    const socket = this.socket;
    socket.ref();
    const body = ex.body;
    let head: string;
    try {
      const length = body === undefined ? (ex.method === 'GET' || ex.method === 'HEAD' ? undefined : 0) : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      head = this.pool.head(ex, length);
    } catch (e) {
      this.ex = null;
      ex.cancel = null;
      ex.h1Error('EINVALIDHEADER', (e as Error).message);
      return this.pool.release(this);
    }
    if (body === undefined || body.length === 0) socket.write(head, 'latin1');
    else if (typeof body === 'string') socket.write(head + body);
    else {
      // One writev: the head and the body's own bytes.
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(body);
      socket.uncork();
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private data(d: Buffer): void {
    if (this.ex === null) {
      // Bytes nobody asked for: the connection cannot be trusted any more.
      this.destroy();
      return;
    }
    let at = 0;
    while (at < d.length && this.ex !== null) {
      if (!this.reading) {
        at = this.readHead(d, at);
        if (at < 0) return;
      } else at = this.readBody(d, at);
    }
    if (this.done) {
      this.done = false;
      // Reused only when nothing came after the answer (no pipelining here) and the whole request
      // was written (an early answer may leave some of it queued).
      if (at === d.length && this.keepAlive && this.socket.writableLength === 0 && !this.socket.destroyed) this.pool.release(this);
      else this.destroy();
    }
  }

  /** Reads head bytes from d at `at`; returns where the body starts, d.length if the head is not complete yet, or -1 after an error. */
  private readHead(d: Buffer, at: number): number {
    let buf = at === 0 ? d : d.subarray(at);
    let before = 0;
    if (this.pending !== null) {
      before = this.pending.length;
      buf = Buffer.concat([this.pending, buf]);
    }
    // The end of the head may straddle the boundary of two chunks: search a little before it.
    const end = buf.indexOf(CRLFCRLF, Math.max(0, before - 3));
    if (end < 0) {
      if (buf.length > MAX_HEAD) return this.protocolError('The response head is too large');
      this.pending = buf === d ? Buffer.from(buf) : buf;
      return d.length;
    }
    this.pending = null;
    const text = buf.toString('latin1', 0, end);
    const consumed = end + 4 - before; // bytes of d taken from `at`
    const eol = text.indexOf('\r\n');
    const statusLine = eol < 0 ? text : text.slice(0, eol);
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
    if (m === null) return this.protocolError(`Not an HTTP/1.x response: ${JSON.stringify(statusLine.slice(0, 40))}`);
    const status = Number(m[2]);
    const headers: IncomingHttpHeaders = {};
    if (eol >= 0) {
      for (const line of text.slice(eol + 2).split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        const prev = headers[name];
        if (name === 'set-cookie') ((headers[name] as string[] | undefined) ?? (headers[name] = [])).push(value);
        else headers[name] = prev === undefined ? value : `${prev as string}, ${value}`;
      }
    }
    const next = at + consumed;
    if (status >= 100 && status < 200 && status !== 101) return next; // 100 Continue and the like: the answer follows
    const ex = this.ex!;
    const connection = String(headers.connection ?? '').toLowerCase();
    this.keepAlive = m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const te = headers['transfer-encoding'];
    if (ex.method === 'HEAD' || status === 204 || status === 304 || status === 101) this.framing = Body.None;
    else if (te !== undefined && String(te).toLowerCase().includes('chunked')) {
      this.framing = Body.Chunked;
      this.chunk = Chunk.Size;
      this.line = '';
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0) return this.protocolError('Invalid Content-Length in the response');
      this.framing = n === 0 ? Body.None : Body.Length;
      this.remaining = n;
    } else {
      this.framing = Body.UntilClose;
      this.keepAlive = false;
    }
    if (status === 101) this.keepAlive = false;
    const hint = headers['keep-alive'];
    if (hint !== undefined) {
      const t = /timeout=(\d+)/i.exec(String(hint));
      if (t !== null) {
        this.idleLimit = Math.min(IDLE_MS, Number(t[1]) * 1000 - KEEP_ALIVE_MARGIN_MS);
        if (this.idleLimit <= 0) this.keepAlive = false;
      }
    }
    this.reading = true;
    ex.h1Head(status, headers);
    if (this.framing === Body.None) this.complete();
    return next;
  }

  /** Reads body bytes from d at `at`; returns where they end. */
  private readBody(d: Buffer, at: number): number {
    const ex = this.ex!;
    switch (this.framing) {
      case Body.Length: {
        const n = Math.min(this.remaining, d.length - at);
        ex.h1Data(at === 0 && n === d.length ? d : d.subarray(at, at + n));
        this.remaining -= n;
        if (this.remaining === 0) this.complete();
        return at + n;
      }
      case Body.UntilClose:
        ex.h1Data(at === 0 ? d : d.subarray(at));
        return d.length;
      case Body.Chunked:
        return this.readChunked(d, at);
      default:
        return at;
    }
  }

  private readChunked(d: Buffer, at: number): number {
    const ex = this.ex!;
    while (at < d.length && this.ex !== null) {
      if (this.chunk === Chunk.Data) {
        const n = Math.min(this.remaining, d.length - at);
        ex.h1Data(d.subarray(at, at + n));
        this.remaining -= n;
        at += n;
        if (this.remaining === 0) this.chunk = Chunk.DataEnd;
        continue;
      }
      // A line: a chunk's size, the CRLF after its data, or a trailer.
      const lf = d.indexOf(10, at);
      if (lf < 0) {
        this.line += d.toString('latin1', at);
        if (this.line.length > MAX_HEAD) this.protocolError('A chunk line of the response is too long');
        return d.length;
      }
      const line = (this.line + d.toString('latin1', at, lf)).replace(/\r$/, '');
      this.line = '';
      at = lf + 1;
      if (this.chunk === Chunk.DataEnd) {
        if (line !== '') {
          this.protocolError('No CRLF after a chunk of the response');
          return d.length;
        }
        this.chunk = Chunk.Size;
      } else if (this.chunk === Chunk.Size) {
        const semi = line.indexOf(';');
        const size = parseInt(semi < 0 ? line : line.slice(0, semi), 16);
        if (!Number.isSafeInteger(size) || size < 0) {
          this.protocolError('Invalid chunk size in the response');
          return d.length;
        }
        if (size === 0) this.chunk = Chunk.Trailers;
        else {
          this.chunk = Chunk.Data;
          this.remaining = size;
        }
      } else if (line === '') this.complete(); // the empty line after the trailers
    }
    return at;
  }

  /** The answer is complete: the exchange ends; data() then reuses or closes the connection. */
  private complete(): void {
    const ex = this.ex!;
    this.ex = null;
    this.reading = false;
    this.done = true;
    ex.cancel = null;
    ex.h1End();
  }

  private protocolError(message: string): -1 {
    this.fail('EPROTO', message);
    this.destroy();
    return -1;
  }

  private fail(code: string, message: string, cause?: unknown): void {
    const ex = this.ex;
    if (ex === null) return;
    this.ex = null;
    ex.cancel = null;
    ex.h1Error(code, message, cause);
  }

  private closed(): void {
    if (this.ex !== null) {
      if (this.reading && this.framing === Body.UntilClose) {
        this.complete();
        this.done = false;
      } else this.fail('ECONNRESET', 'The connection closed before the response ended');
    }
    if (this.gone) return;
    this.gone = true;
    this.pool.removed(this);
  }
}
