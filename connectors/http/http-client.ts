/**
 * One HTTP request over node:http(s) with a keep-alive agent, a deadline covering the whole
 * exchange, and the response body (bounded) as text. Network failures reject with the socket's
 * error code (ECONNREFUSED, ECONNRESET, ...) or ETIMEDOUT for the deadline.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Allowlist } from './allowlist.ts';

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

export class HttpClient {
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  private readonly allowlist: Allowlist | undefined;

  constructor(options: { maxSockets: number; allowlist?: Allowlist }) {
    this.allowlist = options.allowlist && !options.allowlist.isEmpty ? options.allowlist : undefined;
    const common = { keepAlive: true, maxSockets: options.maxSockets, ...(this.allowlist ? { lookup: this.allowlist.lookup } : {}) };
    this.httpAgent = new HttpAgent(common);
    this.httpsAgent = new HttpsAgent(common);
  }

  send(call: HttpCall): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(call.url);
      } catch {
        reject(new NetworkError(`Not a valid URL: ${redactUrl(call.url)}`, 'EINVALIDURL'));
        return;
      }
      if (this.allowlist && this.allowlist.precheck(url.hostname) === false) {
        reject(new NetworkError(`${url.hostname} is not in http.allowed.hosts; refusing to call it`, 'EHOSTNOTALLOWED'));
        return;
      }
      const https = url.protocol === 'https:';
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: call.method,
        headers: call.headers,
        agent: https ? this.httpsAgent : this.httpAgent,
      });
      const max = call.maxBodyBytes ?? 64 * 1024;
      let settled = false;
      const finish = (err: Error | null, res?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res!);
      };
      const timer = setTimeout(() => {
        req.destroy(new NetworkError(`No complete response within ${call.timeoutMs} ms`, 'ETIMEDOUT'));
      }, call.timeoutMs);
      const onAbort = (): void => {
        req.destroy(new NetworkError('The request was aborted (the task is stopping)', 'EABORTED'));
      };
      call.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e: NodeJS.ErrnoException) => {
        finish(e instanceof NetworkError ? e : new NetworkError(e.message, e.code ?? 'ENETWORK', { cause: e }));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        res.on('data', (c: Buffer) => {
          if (size < max) chunks.push(size + c.length > max ? c.subarray(0, max - size) : c);
          if (size + c.length > max) truncated = true;
          size += c.length;
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), truncated }));
        res.on('error', (e: NodeJS.ErrnoException) => finish(new NetworkError(e.message, e.code ?? 'ECONNRESET', { cause: e })));
      });
      req.end(call.body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
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
