/**
 * One HTTP request: over our own keep-alive HTTP/1.1 pool for http: URLs (./h1.ts: the head and
 * the body's Buffer in one writev, the answer parsed there), over undici's Agent through its
 * low-level dispatch API for https: (a keep-alive pool of connections per origin, one request per
 * connection at a time, the body written as it is). A deadline covers the
 * whole exchange, from waiting for a connection to the end of the response; the response body
 * (bounded) comes back as text. Network failures reject with the socket's error code
 * (ECONNREFUSED, ECONNRESET, ...) or ETIMEDOUT for the deadline.
 */
import { Agent, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Allowlist } from './allowlist.ts';
import { H1Pool, type H1Exchange } from './h1.ts';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body was longer than maxBodyBytes and was cut. */
  truncated: boolean;
}

export interface HttpCall {
  url: string;
  method: string;
  headers: OutgoingHttpHeaders;
  body?: Buffer | string;
  timeoutMs: number;
  /** Keep at most this many bytes of the body (the rest is read and dropped). */
  maxBodyBytes?: number;
  signal?: AbortSignal;
}

export class NetworkError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A URL taken apart once: what dispatch needs, or why it cannot be called. */
type Target = { origin: string; path: string; pool: H1Pool | undefined } | { error: NetworkError };

/** undici's codes for what node:http reported with the socket's. */
const CODES: Record<string, string> = {
  UND_ERR_SOCKET: 'ECONNRESET',
  UND_ERR_CLOSED: 'ECONNRESET',
  UND_ERR_CONNECT_TIMEOUT: 'ETIMEDOUT',
  UND_ERR_HEADERS_TIMEOUT: 'ETIMEDOUT',
  UND_ERR_BODY_TIMEOUT: 'ETIMEDOUT',
};

export class HttpClient {
  private readonly maxSockets: number;
  /** https: only (http: goes through the pools), made on first use. */
  private agentCache: Agent | undefined;
  /** Our own connection pools, one per http: origin. */
  private readonly pools = new Map<string, H1Pool>();
  private readonly allowlist: Allowlist | undefined;
  /** Parsed URLs (sinks call one URL, or a few per template), bounded. */
  private readonly targets = new Map<string, Target>();
  private readonly watched = new WeakMap<AbortSignal, Set<Exchange>>();

  constructor(options: { maxSockets: number; allowlist?: Allowlist }) {
    this.allowlist = options.allowlist && !options.allowlist.isEmpty ? options.allowlist : undefined;
    this.maxSockets = options.maxSockets;
  }

  private get agent(): Agent {
    return (this.agentCache ??= new Agent({
      connections: this.maxSockets,
      // The call's own deadline covers connecting, headers and body, as with node:http.
      connectTimeout: 0,
      headersTimeout: 0,
      bodyTimeout: 0,
      // Names are resolved by the allowlist's lookup, which refuses addresses outside it at connect time.
      ...(this.allowlist ? { connect: { lookup: this.allowlist.lookup } } : {}),
    }));
  }

  send(call: HttpCall): Promise<HttpResponse> {
    const target = this.target(call.url);
    if ('error' in target) return Promise.reject(target.error);
    if (call.signal?.aborted) return Promise.reject(new NetworkError('The request was aborted (the task is stopping)', 'EABORTED'));
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(call, target.path, resolve, reject, this.watch(call.signal));
      if (target.pool) return target.pool.dispatch(exchange);
      this.agent.dispatch({ origin: target.origin, path: target.path, method: call.method as Dispatcher.HttpMethod, headers: call.headers as Record<string, string>, body: call.body ?? null }, exchange);
    });
  }

  /**
   * The exchanges under one signal, ended together when it aborts: one listener per signal (a
   * task's), rather than one added and removed per request.
   */
  private watch(signal: AbortSignal | undefined): Set<Exchange> | undefined {
    if (!signal) return undefined;
    let set = this.watched.get(signal);
    if (!set) {
      const exchanges = (set = new Set<Exchange>());
      this.watched.set(signal, set);
      if (!signal.aborted) signal.addEventListener('abort', () => {
        for (const e of exchanges) e.abort();
      }, { once: true });
    }
    return set;
  }

  private target(url: string): Target {
    let t = this.targets.get(url);
    if (t) return t;
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(u.protocol);
      t = this.allowlist && this.allowlist.precheck(u.hostname) === false ? { error: new NetworkError(`${u.hostname} is not in http.allowed.hosts; refusing to call it`, 'EHOSTNOTALLOWED') } : { origin: u.origin, path: u.pathname + u.search, pool: u.protocol === 'http:' ? this.pool(u) : undefined };
    } catch {
      t = { error: new NetworkError(`Not a valid URL: ${redactUrl(url)}`, 'EINVALIDURL') };
    }
    if (this.targets.size >= 1000) this.targets.clear();
    this.targets.set(url, t);
    return t;
  }

  private pool(u: URL): H1Pool {
    let pool = this.pools.get(u.origin);
    if (!pool) this.pools.set(u.origin, (pool = new H1Pool(u, this.maxSockets, this.allowlist?.lookup)));
    return pool;
  }

  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    this.targets.clear();
    this.agentCache?.destroy().catch(() => {});
  }
}

function timedOut(e: Exchange): void {
  e.timeout();
}

/** One request's handler (for our pool, or undici's): its deadline, its abort, the response as it comes. */
class Exchange implements Dispatcher.DispatchHandler, H1Exchange {
  private readonly call: HttpCall;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly body: Buffer | string | undefined;
  cancel: (() => void) | null = null;
  private readonly resolve: (res: HttpResponse) => void;
  private readonly reject: (err: Error) => void;
  /** The exchanges of the call's signal, which this one is in until it ends. */
  private readonly watched: Set<Exchange> | undefined;
  private readonly max: number;
  private readonly timer: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | null = null;
  settled = false;
  /** Why the request was ended before undici started it (it waited for a connection). */
  private ended: NetworkError | null = null;
  private status = 0;
  private responseHeaders: IncomingHttpHeaders = {};
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(call: HttpCall, path: string, resolve: (res: HttpResponse) => void, reject: (err: Error) => void, watched: Set<Exchange> | undefined) {
    this.call = call;
    this.method = call.method;
    this.path = path;
    this.headers = call.headers as Record<string, unknown>;
    this.body = call.body;
    this.resolve = resolve;
    this.reject = reject;
    this.watched = watched;
    this.max = call.maxBodyBytes ?? 64 * 1024;
    this.timer = setTimeout(timedOut, call.timeoutMs, this);
    watched?.add(this);
  }

  timeout(): void {
    this.end(new NetworkError(`No complete response within ${this.call.timeoutMs} ms`, 'ETIMEDOUT'));
  }

  abort(): void {
    this.end(new NetworkError('The request was aborted (the task is stopping)', 'EABORTED'));
  }

  /** Ends the exchange from our side: aborts the request if undici has started it, and rejects now. */
  private end(err: NetworkError): void {
    if (this.settled) return;
    if (this.cancel) this.cancel();
    else if (this.controller) this.controller.abort(err);
    else this.ended = err;
    this.finish(err);
  }

  private finish(err: Error | null, res?: HttpResponse): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.watched?.delete(this);
    if (err) this.reject(err);
    else this.resolve(res!);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.ended) controller.abort(this.ended);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.h1Head(statusCode, headers);
  }

  h1Head(status: number, headers: IncomingHttpHeaders): void {
    this.status = status;
    this.responseHeaders = headers;
  }

  h1Data(chunk: Buffer): void {
    const { size, max } = this;
    if (size < max) this.chunks.push(size + chunk.length > max ? chunk.subarray(0, max - size) : chunk);
    this.size = size + chunk.length;
  }

  h1End(): void {
    this.onResponseEnd();
  }

  h1Error(code: string, message: string, cause?: unknown): void {
    this.finish(new NetworkError(message, code, { cause }));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.h1Data(chunk);
  }

  onResponseEnd(): void {
    const body = this.chunks.length === 0 ? '' : this.chunks.length === 1 ? this.chunks[0].toString('utf8') : Buffer.concat(this.chunks).toString('utf8');
    this.finish(null, { status: this.status, headers: this.responseHeaders, body, truncated: this.size > this.max });
  }

  onResponseError(_controller: Dispatcher.DispatchController, e: Error): void {
    if (e instanceof NetworkError) return this.finish(e);
    const raw = (e as NodeJS.ErrnoException).code;
    const code = (raw && CODES[raw]) ?? raw ?? 'ENETWORK';
    this.finish(new NetworkError(e.message, code, { cause: e }));
  }
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** A URL for messages and logs: no user info, no query (either may carry a secret). */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Exponential backoff with full jitter between half and all of the step: base * 2^attempt, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(step / 2 + random() * (step / 2));
}
