/**
 * A small client for a worker's REST API (the same API Kafka Connect tools use), with global fetch.
 * Failures are one of two errors: UnreachableError (nothing answered at the URL) and RestError (the
 * worker answered with an error status; `message` is the worker's own).
 */

export interface ClientOptions {
  url: string;
  user?: string;
  password?: string;
  token?: string;
  /** Per request; the worker itself gives up on a Herder call after 90 s. */
  timeoutMs?: number;
}

export class UnreachableError extends Error {
  constructor(url: string, reason: string) {
    super(`Cannot reach a Tributary worker at ${url} (${reason}). Is one running? Start one with \`tributary start\`, or point --url (or TRIBUTARY_URL) at a running worker.`);
    this.name = 'UnreachableError';
  }
}

export class RestError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'RestError';
    this.status = status;
  }
}

export interface Response<T> {
  status: number;
  body: T;
}

export class RestClient {
  readonly baseUrl: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new Error(`Invalid worker URL "${options.url}": expected something like http://127.0.0.1:8083.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new Error(`Invalid worker URL "${options.url}": use http:// or https://.`);
    }
    this.baseUrl = options.url.replace(/\/+$/, '');
    if (options.token) this.authorization = `Bearer ${options.token}`;
    else if (options.user !== undefined) this.authorization = `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`;
    this.timeoutMs = options.timeoutMs ?? 100_000;
  }

  /** `segments` are encoded path segments' raw values: `path('connectors', name, 'status')`. */
  static path(...segments: Array<string | number>): string {
    return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<Response<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: globalThis.Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new UnreachableError(this.baseUrl, reason(e));
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        if (res.ok) throw new RestError(res.status, `The server at ${this.baseUrl} answered ${method} ${path} with something other than JSON; is --url pointing at a Tributary (or Kafka Connect) worker?`);
      }
    }
    if (!res.ok && !okStatuses.includes(res.status)) {
      const message = (parsed as { message?: unknown } | undefined)?.message;
      let text2 = typeof message === 'string' && message !== '' ? message : `HTTP ${res.status} ${res.statusText} from ${method} ${path}`;
      if (res.status === 401) text2 += ' Pass --token (TRIBUTARY_TOKEN), or --user and --password (TRIBUTARY_USER, TRIBUTARY_PASSWORD).';
      throw new RestError(res.status, text2);
    }
    return { status: res.status, body: parsed as T };
  }
}

function reason(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'no answer in time';
  const code = err?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code) return code;
  return err?.cause?.message ?? err?.message ?? String(e);
}
