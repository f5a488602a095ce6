import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpReceiverTask, httpReceiverConfig } from '../../../../connectors/http/index.ts';
import { freePort } from '../../../helpers/worker-process.ts';
import { MemoryOffsets, sourceContext } from '../../../unit/connectors/fake-context.ts';

const tasks: HttpReceiverTask[] = [];
afterEach(async () => {
  for (const t of tasks.splice(0)) await t.stop();
});

async function receiver(config: Record<string, string> = {}) {
  const port = await freePort();
  const t = new HttpReceiverTask();
  const offsets = new MemoryOffsets();
  await t.start({ topic: 'events', 'http.listener.port': String(port), 'http.listener.path': '/hook', ...config }, sourceContext(offsets));
  tasks.push(t);
  const url = `http://127.0.0.1:${port}/hook`;
  /** What the runtime does: poll, then commit the offsets once the records are durable. */
  const drainAndCommit = async () => {
    const records = await t.poll(AbortSignal.timeout(200));
    offsets.commit(records);
    await t.commit(offsets.all());
    return records;
  };
  return { task: t, url, drainAndCommit };
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

describe('HTTP receiver', () => {
  it('answers only after the records were committed, one record per array element', async () => {
    const { task, url } = await receiver();
    let answered = false;
    const res = post(url, '[{"a":1},{"a":2},{"a":3}]').then((r) => {
      answered = true;
      return r;
    });
    const polled = await task.poll(AbortSignal.timeout(2000));
    expect(polled.map((r) => r.value)).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(polled.every((r) => r.topic === 'events')).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false); // polled is not durable yet
    await task.commit([{ partition: polled[2].sourcePartition, offset: polled[2].sourceOffset }]);
    const r = await res;
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ accepted: 3 });
  });

  it('takes NDJSON and raw bodies', async () => {
    const nd = await receiver({ 'http.receiver.format': 'ndjson' });
    const a = post(nd.url, '{"n":1}\n\n{"n":2}\n');
    await new Promise((r) => setTimeout(r, 50));
    expect((await nd.drainAndCommit()).map((r) => r.value)).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await a).status).toBe(200);

    const raw = await receiver({ 'http.receiver.format': 'raw' });
    const b = post(raw.url, 'just text, not JSON', { 'content-type': 'text/plain' });
    await new Promise((r) => setTimeout(r, 50));
    expect((await raw.drainAndCommit()).map((r) => r.value)).toEqual(['just text, not JSON']);
    expect((await b).status).toBe(200);
  });

  it('answers 400 to a body that is not JSON, and ingests nothing of it', async () => {
    const json = await receiver();
    const r1 = await post(json.url, '{"a":1');
    expect(r1.status).toBe(400);
    expect(((await r1.json()) as { error: string }).error).toContain('not JSON');
    const nd = await receiver({ 'http.receiver.format': 'ndjson' });
    const r2 = await post(nd.url, '{"n":1}\n{"n":2}\nnot json\n{"n":4}');
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as { error: string }).error).toContain('Line 3');
    expect(await json.task.poll(AbortSignal.timeout(100))).toEqual([]);
    expect(await nd.task.poll(AbortSignal.timeout(100))).toEqual([]);
    expect((await fetch(json.url)).status).toBe(405);
    expect((await post(json.url.replace('/hook', '/other'), '{}')).status).toBe(404);
  });

  it('checks a shared secret and an HMAC-SHA256 signature of the raw body', async () => {
    const s = await receiver({ 'http.receiver.auth.type': 'secret', 'http.receiver.secret': 'topsecret' });
    expect((await post(s.url, '{}')).status).toBe(401);
    expect((await post(s.url, '{}', { 'x-webhook-secret': 'wrong' })).status).toBe(401);
    const ok = post(s.url, '{"ok":1}', { 'x-webhook-secret': 'topsecret' });
    await new Promise((r) => setTimeout(r, 50));
    expect((await s.drainAndCommit()).map((r) => r.value)).toEqual([{ ok: 1 }]);
    expect((await ok).status).toBe(200);

    const h = await receiver({ 'http.receiver.auth.type': 'hmac-sha256', 'http.receiver.secret': 'k3y' });
    const body = '{"event":"push"}';
    const sig = `sha256=${createHmac('sha256', 'k3y').update(body).digest('hex')}`;
    expect((await post(h.url, body, { 'x-hub-signature-256': sig.replace(/.$/, '0') })).status).toBe(401);
    expect((await post(h.url, `${body} `, { 'x-hub-signature-256': sig })).status).toBe(401);
    const good = post(h.url, body, { 'x-hub-signature-256': sig });
    await new Promise((r) => setTimeout(r, 50));
    expect((await h.drainAndCommit()).map((r) => r.value)).toEqual([{ event: 'push' }]);
    expect((await good).status).toBe(200);
  });

  it('answers 429 with Retry-After while its buffer of uncommitted records is full', async () => {
    const { url, drainAndCommit } = await receiver({ 'http.receiver.buffer.max.records': '4', 'http.receiver.retry.after.seconds': '2' });
    const first = post(url, '[1,2,3]');
    await new Promise((r) => setTimeout(r, 50));
    const full = await post(url, '[4,5]');
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toBe('2');
    expect((await drainAndCommit()).map((r) => r.value)).toEqual([1, 2, 3]);
    expect((await first).status).toBe(200);
    const again = post(url, '[4,5]');
    await new Promise((r) => setTimeout(r, 50));
    expect((await drainAndCommit()).map((r) => r.value)).toEqual([4, 5]);
    expect((await again).status).toBe(200);
  });

  it('rejects a bad listener config naming the field', () => {
    expect(httpReceiverConfig.errors({ topic: 't', 'http.listener.port': '70000' }).map((e) => e.name)).toEqual(['http.listener.port']);
    expect(httpReceiverConfig.errors({ topic: 't', 'http.listener.port': '8080', 'http.receiver.auth.type': 'hmac-sha256' }).map((e) => e.name)).toEqual(['http.receiver.auth.type']);
    expect(httpReceiverConfig.errors({ topic: 't', 'http.listener.port': '8080', 'http.listener.host': '0.0.0.0' }).map((e) => e.name)).toEqual(['http.receiver.auth.type']);
    expect(httpReceiverConfig.errors({ topic: 't', 'http.listener.port': '8080', 'http.listener.host': '0.0.0.0', 'http.receiver.auth.type': 'secret', 'http.receiver.secret': 's' })).toEqual([]);
  });
});
