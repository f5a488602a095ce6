import { afterEach, describe, expect, it } from 'vitest';
import { httpPollerConfig } from '../../../../connectors/http/index.ts';
import { HttpPollerTask } from '../../../../connectors/http/http-poller-task.ts';
import type { SourceRecord } from '../../../../runtime/api/index.ts';
import { MemoryOffsets, sourceContext } from '../../../unit/connectors/fake-context.ts';
import { startServer, type TestServer } from './test-server.ts';

const servers: TestServer[] = [];
const tasks: HttpPollerTask[] = [];
afterEach(async () => {
  for (const t of tasks.splice(0)) t.stop();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function poller(config: Record<string, string>, offsets = new MemoryOffsets()) {
  const t = new HttpPollerTask();
  await t.start({ topic: 'api', 'http.poll.interval.ms': '10', ...config }, sourceContext(offsets));
  tasks.push(t);
  return t;
}

/** Poll until `n` polls in a row return nothing; commit everything polled. */
async function drain(t: HttpPollerTask, offsets?: MemoryOffsets): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for (let idle = 0; idle < 3; ) {
    const batch = await t.poll(AbortSignal.timeout(2000));
    if (batch.length === 0) idle++;
    else idle = 0;
    out.push(...batch);
    offsets?.commit(batch);
  }
  return out;
}

function query(url: string): URLSearchParams {
  return new URL(url, 'http://x').searchParams;
}

describe('HTTP poller', () => {
  it('follows a cursor to the end, then polls the last cursor for new records without repeating any', async () => {
    const items = Array.from({ length: 12 }, (_, i) => ({ id: i }));
    const s = await startServer((req, res) => {
      const from = Number(query(req.url).get('after') ?? 0);
      const page = items.slice(from, from + 5);
      const next = from + page.length;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: page, meta: { next: page.length === 5 ? String(next) : null } }));
    });
    servers.push(s);
    const offsets = new MemoryOffsets();
    const t = await poller({ 'http.url': `${s.url}/items`, 'http.poll.pagination': 'cursor', 'http.poll.cursor.param': 'after', 'http.poll.cursor.path': 'meta.next', 'http.poll.records.path': 'data', 'http.poll.key.field': 'id' }, offsets);
    const first = await drain(t, offsets);
    expect(first.map((r) => r.value)).toEqual(items);
    expect(first.map((r) => r.key)).toEqual(items.map((i) => i.id));
    items.push({ id: 12 }, { id: 13 });
    const more = await drain(t, offsets);
    expect(more.map((r) => r.value)).toEqual([{ id: 12 }, { id: 13 }]);
    // A new task resumes from the committed offset: it starts at the last cursor, and skips what it took.
    const before = s.requests.length;
    const resumed = await poller({ 'http.url': `${s.url}/items`, 'http.poll.pagination': 'cursor', 'http.poll.cursor.param': 'after', 'http.poll.cursor.path': 'meta.next', 'http.poll.records.path': 'data' }, offsets);
    expect(await drain(resumed)).toEqual([]);
    expect(query(s.requests[before].url).get('after')).toBe('10');
  });

  it('counts pages, and takes the rest of a partial last page when it fills', async () => {
    const items = Array.from({ length: 7 }, (_, i) => `r${i}`);
    const s = await startServer((req, res) => {
      const q = query(req.url);
      const page = Number(q.get('p'));
      const size = Number(q.get('per_page'));
      res.end(JSON.stringify(items.slice((page - 1) * size, page * size)));
    });
    servers.push(s);
    const t = await poller({ 'http.url': `${s.url}/list?sort=asc`, 'http.poll.pagination': 'page', 'http.poll.page.param': 'p', 'http.poll.page.size': '3', 'http.poll.page.size.param': 'per_page' });
    expect((await drain(t)).map((r) => r.value)).toEqual(items);
    items.push('r7', 'r8', 'r9');
    expect((await drain(t)).map((r) => r.value)).toEqual(['r7', 'r8', 'r9']);
    expect(s.requests.every((r) => query(r.url).get('sort') === 'asc')).toBe(true);
  });

  it('sends the newest timestamp seen, dropping boundary records it already wrote', async () => {
    const items = [
      { id: 'a', updated_at: '2026-01-01T00:00:00Z' },
      { id: 'b', updated_at: '2026-01-02T00:00:00Z' },
      { id: 'c', updated_at: '2026-01-02T00:00:00Z' },
    ];
    const s = await startServer((req, res) => {
      const since = query(req.url).get('since');
      res.end(JSON.stringify({ rows: items.filter((i) => since === null || i.updated_at >= since) }));
    });
    servers.push(s);
    const t = await poller({ 'http.url': `${s.url}/changes`, 'http.poll.pagination': 'timestamp', 'http.poll.records.path': 'rows' });
    expect((await drain(t)).map((r) => (r.value as { id: string }).id)).toEqual(['a', 'b', 'c']);
    items.push({ id: 'd', updated_at: '2026-01-02T00:00:00Z' }, { id: 'e', updated_at: '2026-01-03T00:00:00Z' });
    expect((await drain(t)).map((r) => (r.value as { id: string }).id)).toEqual(['d', 'e']);
    expect(query(s.requests.at(-1)!.url).get('since')).toBe('2026-01-03T00:00:00Z');
  });

  it('makes 5xx retriable (with Retry-After) and 4xx fatal', async () => {
    const s = await startServer((req, res) => {
      if (req.url.startsWith('/busy')) res.writeHead(503, { 'retry-after': '3' }).end();
      else res.writeHead(403).end('{"error":"token expired"}');
    });
    servers.push(s);
    const busy = await poller({ 'http.url': `${s.url}/busy` });
    await expect(busy.poll(AbortSignal.timeout(2000))).rejects.toMatchObject({ code: 'RETRIABLE', retryAfterMs: 3000 });
    const denied = await poller({ 'http.url': `${s.url}/denied` });
    await expect(denied.poll(AbortSignal.timeout(2000))).rejects.toMatchObject({ code: 'FATAL', message: expect.stringContaining('token expired') });
  });

  it('rejects a bad URL naming http.url', () => {
    expect(httpPollerConfig.errors({ topic: 't', 'http.url': 'nope' }).map((e) => e.name)).toEqual(['http.url']);
    expect(httpPollerConfig.errors({ topic: 't', 'http.url': 'http://127.0.0.1/x', 'http.poll.pagination': 'offset' }).map((e) => e.name)).toEqual(['http.poll.pagination']);
  });
});
