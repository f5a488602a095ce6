import { createHash } from 'node:crypto';
import { FatalError, RetriableError } from '../../runtime/api/index.ts';
import type { JsonObject, JsonValue, Logger, SourceRecord, SourceTask, SourceTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { Allowlist } from './allowlist.ts';
import { HttpClient, NetworkError, parseRetryAfter, redactUrl } from './http-client.ts';
import { httpPollerConfig } from './poller-config.ts';
import { sleep } from '../../runtime/api/index.ts';

type PollerConfig = ReturnType<typeof httpPollerConfig.parse>;

/** Where the next call starts. `skip`: records of that page already written. `seen`: fingerprints of records at `since`. */
interface Position {
  cursor?: string | null;
  page?: number;
  skip?: number;
  since?: string | number | null;
  seen?: string[];
}

/**
 * Calls an API on an interval and follows its pagination. Every record carries the position to
 * resume from once it is committed: the page it came from plus how many of that page were taken
 * (or, for the last record of a page that has a successor, the successor), so a restart neither
 * skips records nor, while pages are stable, repeats committed ones.
 */
export class HttpPollerTask implements SourceTask {
  private cfg!: PollerConfig;
  private logger!: Logger;
  private client!: HttpClient;
  private headers: Record<string, string> = {};
  private partition: JsonObject = {};
  private position: Position = {};
  private nextPollAt = 0;

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    this.cfg = httpPollerConfig.parse(config);
    this.logger = context.logger;
    this.client = new HttpClient({ maxSockets: 1, allowlist: new Allowlist(this.cfg['http.allowed.hosts']) });
    this.headers = authHeaders(this.cfg);
    const u = new URL(this.cfg['http.url']);
    this.partition = { url: `${u.origin}${u.pathname}` };
    const stored = await context.offsetStorageReader.offset(this.partition);
    this.position = stored ? (stored as Position) : this.initial();
    this.logger.info({ url: redactUrl(this.cfg['http.url']), pagination: this.cfg['http.poll.pagination'], resumeFrom: stored ? this.position : 'start' }, 'http poller started');
  }

  private initial(): Position {
    switch (this.cfg['http.poll.pagination']) {
      case 'cursor':
        return { cursor: null, skip: 0 };
      case 'page':
        return { page: this.cfg['http.poll.page.start'], skip: 0 };
      case 'timestamp':
        return { since: this.cfg['http.poll.timestamp.initial'], seen: [] };
      default:
        return {};
    }
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    const wait = this.nextPollAt - Date.now();
    if (wait > 0) {
      await sleep(Math.min(wait, 1000), signal);
      return [];
    }
    const body = await this.fetch(signal);
    if (signal.aborted) return [];
    const items = recordsAt(body, this.cfg['http.poll.records.path']);
    const { records, next, more } = this.paginate(body, items);
    this.position = next;
    if (!more) this.nextPollAt = Date.now() + this.cfg['http.poll.interval.ms'];
    return records;
  }

  stop(): void {
    this.client?.close();
  }

  private paginate(body: unknown, items: unknown[]): { records: SourceRecord[]; next: Position; more: boolean } {
    const cfg = this.cfg;
    const pos = this.position;
    switch (cfg['http.poll.pagination']) {
      case 'cursor':
      case 'page': {
        const cursorMode = cfg['http.poll.pagination'] === 'cursor';
        const skip = pos.skip ?? 0;
        const fresh = items.slice(skip);
        let successor: Position | null = null;
        if (cursorMode) {
          const c = get(body, cfg['http.poll.cursor.path']);
          const cursor = c === null || c === undefined || c === '' ? null : String(c);
          if (cursor !== null && cursor !== pos.cursor) successor = { cursor, skip: 0 };
        } else {
          const size = cfg['http.poll.page.size'];
          const full = size > 0 ? items.length >= size : items.length > 0;
          if (full) successor = { page: (pos.page ?? cfg['http.poll.page.start']) + 1, skip: 0 };
        }
        const here = (n: number): Position => (cursorMode ? { cursor: pos.cursor ?? null, skip: n } : { page: pos.page, skip: n });
        const records = fresh.map((v, i) => this.record(v, successor && i === fresh.length - 1 ? successor : here(skip + i + 1)));
        return { records, next: successor ?? here(skip + fresh.length), more: successor !== null };
      }
      case 'timestamp': {
        const field = cfg['http.poll.timestamp.field'];
        let since = pos.since ?? null;
        let seen = new Set(pos.seen ?? []);
        const records: SourceRecord[] = [];
        for (const v of items) {
          const ts = get(v, field);
          if (typeof ts !== 'string' && typeof ts !== 'number') {
            throw new FatalError(`A record has no ${field} (string or number) to paginate by; set http.poll.timestamp.field to its timestamp field.`);
          }
          const fp = fingerprint(v);
          if (since !== null) {
            const c = compare(ts, since);
            if (c < 0 || (c === 0 && seen.has(fp))) continue;
            if (c > 0) seen = new Set();
          }
          since = ts;
          seen.add(fp);
          const kept = [...seen].slice(-1000);
          records.push(this.record(v, { since, seen: kept }));
        }
        return { records, next: { since, seen: [...seen].slice(-1000) }, more: records.length > 0 };
      }
      default:
        return { records: items.map((v) => this.record(v, {})), next: {}, more: false };
    }
  }

  private record(value: unknown, offset: Position): SourceRecord {
    const keyField = this.cfg['http.poll.key.field'];
    return {
      topic: this.cfg.topic,
      key: keyField ? (get(value, keyField) ?? null) : undefined,
      value,
      sourcePartition: this.partition,
      sourceOffset: offset as JsonObject,
    };
  }

  private requestUrl(): string {
    const u = new URL(this.cfg['http.url']);
    const pos = this.position;
    const q = u.searchParams;
    switch (this.cfg['http.poll.pagination']) {
      case 'cursor':
        if (pos.cursor) q.set(this.cfg['http.poll.cursor.param'], pos.cursor);
        break;
      case 'page':
        q.set(this.cfg['http.poll.page.param'], String(pos.page ?? this.cfg['http.poll.page.start']));
        if (this.cfg['http.poll.page.size.param'] && this.cfg['http.poll.page.size'] > 0) q.set(this.cfg['http.poll.page.size.param'], String(this.cfg['http.poll.page.size']));
        break;
      case 'timestamp':
        if (pos.since !== null && pos.since !== undefined) q.set(this.cfg['http.poll.timestamp.param'], String(pos.since));
        break;
    }
    return u.toString();
  }

  private async fetch(signal: AbortSignal): Promise<unknown> {
    const target = redactUrl(this.cfg['http.url']);
    let res;
    try {
      res = await this.client.send({
        url: this.requestUrl(),
        method: this.cfg['http.method'],
        headers: { accept: 'application/json', ...this.headers },
        timeoutMs: this.cfg['http.timeout'] * 1000,
        maxBodyBytes: 256 * 1024 * 1024,
        signal,
      });
    } catch (e) {
      if (signal.aborted) return undefined;
      const code = e instanceof NetworkError ? e.code : 'ENETWORK';
      if (code === 'EHOSTNOTALLOWED') throw new FatalError((e as Error).message);
      throw new RetriableError(`Polling ${target} failed: ${code} ${(e as Error).message}`, { cause: e });
    }
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      throw new RetriableError(`Polling ${target} answered ${res.status}`, { retryAfterMs: parseRetryAfter(res.headers['retry-after']) });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new FatalError(`Polling ${target} answered ${res.status}: ${res.body.slice(0, 500)}. Check http.url and the authorization settings.`);
    }
    try {
      return JSON.parse(res.body);
    } catch (e) {
      throw new RetriableError(`Polling ${target} returned a body that is not JSON (${(e as Error).message})`);
    }
  }
}

function authHeaders(cfg: PollerConfig): Record<string, string> {
  const h: Record<string, string> = {};
  for (const entry of cfg['http.headers.additional']) {
    const colon = entry.indexOf(':');
    h[entry.slice(0, colon).trim().toLowerCase()] = entry.slice(colon + 1).trim();
  }
  if (cfg['http.authorization.type'] === 'static') h[cfg['http.authorization.header'].toLowerCase()] = cfg['http.headers.authorization'] ?? '';
  if (cfg['http.authorization.type'] === 'basic') h.authorization = `Basic ${Buffer.from(`${cfg['http.auth.username']}:${cfg['http.auth.password'] ?? ''}`).toString('base64')}`;
  if (cfg['http.authorization.type'] === 'bearer') h.authorization = `Bearer ${cfg['http.auth.token']}`;
  return h;
}

function get(v: unknown, path: string): JsonValue | undefined {
  if (path === '') return v as JsonValue;
  let cur: unknown = v;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur as JsonValue | undefined;
}

function recordsAt(body: unknown, path: string): unknown[] {
  const v = get(body, path);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FatalError(`The response has no array at ${path === '' ? 'its top level' : path}; set http.poll.records.path to where its records are.`);
  return v;
}

function compare(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const na = Number(a);
  const nb = Number(b);
  if (String(a).trim() !== '' && String(b).trim() !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  const da = Date.parse(String(a));
  const db = Date.parse(String(b));
  if (!Number.isNaN(da) && !Number.isNaN(db) && da !== db) return da - db;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function fingerprint(v: unknown): string {
  return createHash('sha1').update(JSON.stringify(v) ?? 'undefined').digest('base64').slice(0, 16);
}
