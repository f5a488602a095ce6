import { afterEach, describe, expect, it } from 'vitest';
import { httpSinkConfig } from '../../../../connectors/http/index.ts';
import { HttpSinkTask } from '../../../../connectors/http/http-sink-task.ts';
import { ConfigError, DataError, RetriableError, type Logger, type SinkRecord } from '../../../../runtime/api/index.ts';
import { freePort } from '../../../helpers/worker-process.ts';
import { sinkContext, sinkRecords, type FakeSinkContext } from '../../../unit/connectors/fake-context.ts';
import { startServer, type TestServer } from './test-server.ts';

const servers: TestServer[] = [];
const tasks: HttpSinkTask[] = [];

afterEach(async () => {
  for (const t of tasks.splice(0)) await t.stop();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(...args: Parameters<typeof startServer>): Promise<TestServer> {
  const s = await startServer(...args);
  servers.push(s);
  return s;
}

async function task(config: Record<string, string>, ctx: FakeSinkContext = sinkContext()): Promise<{ task: HttpSinkTask; ctx: FakeSinkContext }> {
  const t = new HttpSinkTask();
  await t.start({ 'retry.backoff.ms': '10', ...config }, ctx);
  tasks.push(t);
  return { task: t, ctx };
}

function keyed(entries: Array<[unknown, unknown]>, topic = 't'): SinkRecord[] {
  return sinkRecords(entries.map(([, v]) => v), topic).map((r, i) => ({ ...r, key: entries[i][0] }));
}

/** What the runtime does with a batch of records: put, then flush before committing. */
async function deliver(t: HttpSinkTask, records: SinkRecord[]): Promise<void> {
  await t.put(records);
  await t.flush(new Map());
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('HTTP sink against a real server', () => {
  it('sends one POST per record with the value as JSON, in order', async () => {
    const s = await server();
    const { task: t } = await task({ 'http.url': `${s.url}/events` });
    await deliver(t, sinkRecords([{ id: 1 }, { id: 2 }, 'plain text', null]));
    expect(s.requests.map((r) => [r.method, r.url, r.body, r.headers['content-type']])).toEqual([
      ['POST', '/events', '{"id":1}', 'application/json'],
      ['POST', '/events', '{"id":2}', 'application/json'],
      ['POST', '/events', 'plain text', 'text/plain; charset=utf-8'],
    ]);
  });

  it('batches as NDJSON up to batch.max.size, and as a JSON array', async () => {
    const s = await server();
    const { task: nd } = await task({ 'http.url': `${s.url}/nd`, 'batching.enabled': 'true', 'batch.max.size': '2', 'http.method': 'PUT' });
    await deliver(nd, sinkRecords([{ a: 1 }, { a: 2 }, { a: 3 }, { a: 4 }, { a: 5 }]));
    expect(s.requests.map((r) => r.body)).toEqual(['{"a":1}\n{"a":2}', '{"a":3}\n{"a":4}', '{"a":5}']);
    expect(s.requests.every((r) => r.method === 'PUT' && r.headers['content-type'] === 'application/x-ndjson')).toBe(true);

    const { task: arr } = await task({ 'http.url': `${s.url}/arr`, 'batching.enabled': 'true', 'batch.format': 'json-array', 'batch.max.size': '10' });
    await deliver(arr, sinkRecords([{ a: 1 }, 'two', 3]));
    expect(s.requests[3].url).toBe('/arr');
    expect(JSON.parse(s.requests[3].body)).toEqual([{ a: 1 }, 'two', 3]);

    // Bytes inside values become base64, int64 past 2^53 a string, in both formats.
    await deliver(nd, sinkRecords([{ b: Buffer.from('hi') }, { big: 2n ** 60n }, 'text']));
    expect(s.requests[4].body).toBe('{"b":"aGk="}\n{"big":"1152921504606846976"}');
    expect(s.requests[5].body).toBe('text');
    await deliver(arr, sinkRecords([{ b: Buffer.from('hi') }, 7]));
    expect(JSON.parse(s.requests[6].body)).toEqual([{ b: 'aGk=' }, 7]);
  });

  it('sends the JSON text read from Kafka (valueJson) byte for byte, unbatched, as NDJSON and as a JSON array', async () => {
    // Spacing, number formats and escapes JSON.stringify(value) would not reproduce: the server must
    // get exactly these bytes, so a sink that ignored valueJson or copied it wrongly would fail here.
    const texts = ['{ "n" : 1.50, "big": 12345678901234567890 }', '{"s":"caf\\u00e9 \u00e9","e":1e3}', '[1 ,2]', '7.0'];
    const values = [{ n: 1.5, big: 12345678901234567000 }, { s: 'caf\u00e9 \u00e9', e: 1000 }, [1, 2], 7];
    const json = (): SinkRecord[] => sinkRecords(values).map((r, i) => ({ ...r, valueJson: Buffer.from(texts[i]) }));
    const s = await server();

    const { task: one } = await task({ 'http.url': `${s.url}/one` });
    await deliver(one, json());
    expect(s.requests.map((r) => r.body)).toEqual(texts);
    expect(s.requests.every((r) => r.headers['content-type'] === 'application/json')).toBe(true);

    const { task: nd } = await task({ 'http.url': `${s.url}/nd`, 'batching.enabled': 'true', 'batch.max.size': '3' });
    await deliver(nd, json());
    expect(s.requests.slice(4).map((r) => r.body)).toEqual([texts.slice(0, 3).join('\n'), texts[3]]);

    const { task: framed } = await task({ 'http.url': `${s.url}/framed`, 'batching.enabled': 'true', 'batch.prefix': '<', 'batch.separator': '||', 'batch.suffix': '>' });
    await deliver(framed, json());
    expect(s.requests[6].body).toBe(`<${texts.join('||')}>`);

    const { task: arr } = await task({ 'http.url': `${s.url}/arr`, 'batching.enabled': 'true', 'batch.format': 'json-array' });
    await deliver(arr, json());
    expect(s.requests[7].body).toBe(`[${texts.join(',')}]`);
    expect(JSON.parse(s.requests[7].body)).toEqual(values);
  });

  it('serializes a value whose JSON text spans lines rather than split an NDJSON line, and sends string values as text', async () => {
    const s = await server();
    const { task: nd } = await task({ 'http.url': `${s.url}/nd`, 'batching.enabled': 'true' });
    const records = sinkRecords([{ a: 1 }, { b: 2 }, 'text', { c: 3 }]).map((r, i) => ({ ...r, valueJson: Buffer.from(['{ "a": 1 }', '{\n  "b": 2\n}', '"text"', '{"c" :3}'][i]) }));
    await deliver(nd, records);
    // The pretty-printed value is serialized; the others keep their bytes; a string is sent as it is, as without valueJson.
    expect(s.requests.map((r) => r.body)).toEqual(['{ "a": 1 }\n{"b":2}\ntext\n{"c" :3}']);

    // Only JSON values with line breaks in the batch: the same.
    await deliver(nd, records.slice(0, 2));
    expect(s.requests[1].body).toBe('{ "a": 1 }\n{"b":2}');
    // A separator without a line break takes the text as it is.
    const { task: comma } = await task({ 'http.url': `${s.url}/c`, 'batching.enabled': 'true', 'batch.separator': ',' });
    await deliver(comma, records.slice(0, 2));
    expect(s.requests[2].body).toBe('{ "a": 1 },{\n  "b": 2\n}');
    // Byte values (ByteArrayConverter) are sent as they are, line breaks and all.
    await deliver(nd, sinkRecords([Buffer.from('x\ny'), Buffer.from('z')]));
    expect(s.requests[3].body).toBe('x\ny\nz');
  });

  it('renders ${topic}, ${key}, ${value.x} and ${partition} per record, URL-encoded, and batches only equal URLs', async () => {
    const s = await server();
    const { task: t, ctx } = await task({ 'http.url': `${s.url}/t/\${topic}/k/\${key}?user=\${value.user.id}&p=\${partition}`, 'batching.enabled': 'true' });
    await deliver(t, keyed([['a', { user: { id: 7 } }], ['b/c', { user: { id: 8 } }], ['a', { user: { id: 7 } }], [null, { user: { id: 9 } }]], 'orders'));
    expect(s.requests.map((r) => [r.url, r.body.split('\n').length])).toEqual([
      ['/t/orders/k/a?user=7&p=0', 2],
      ['/t/orders/k/b%2Fc?user=8&p=0', 1],
    ]);
    // The record without a key cannot be addressed: it goes to the DLQ, the others are sent.
    expect(ctx.errors).toHaveLength(1);
    expect(ctx.errors[0].error).toBeInstanceOf(DataError);
    expect(String(ctx.errors[0].error)).toContain('${key}');
  });

  it('renders a ${topic}/${partition} template per partition run, and batches records by it', async () => {
    const s = await server();
    const { task: t } = await task({ 'http.url': `${s.url}/t/\${topic}/p/\${partition}`, 'batching.enabled': 'true' });
    const records = [...sinkRecords([{ a: 1 }, { a: 2 }], 'orders', 0), ...sinkRecords([{ b: 1 }], 'orders', 1), ...sinkRecords([{ c: 1 }], 'refunds', 1), ...sinkRecords([{ a: 3 }], 'orders', 0, 2)];
    await deliver(t, records);
    expect(s.requests.map((r) => [r.url, r.body])).toEqual([
      ['/t/orders/p/0', '{"a":1}\n{"a":2}\n{"a":3}'],
      ['/t/orders/p/1', '{"b":1}'],
      ['/t/refunds/p/1', '{"c":1}'],
    ]);
  });

  it.each([
    ['basic', { 'http.authorization.type': 'basic', 'http.auth.username': 'ann', 'http.auth.password': 's3cret-pw' }, 'authorization', `Basic ${Buffer.from('ann:s3cret-pw').toString('base64')}`, 's3cret-pw'],
    ['bearer', { 'http.authorization.type': 'bearer', 'http.auth.token': 'tok-123456' }, 'authorization', 'Bearer tok-123456', 'tok-123456'],
    ['static header', { 'http.authorization.type': 'static', 'http.headers.authorization': 'key-987654', 'http.authorization.header': 'X-API-Key' }, 'x-api-key', 'key-987654', 'key-987654'],
  ])('authenticates with %s and never logs the secret', async (_name, auth, header, expected, secret) => {
    const lines: string[] = [];
    const logger: Logger = {
      debug: (o, m) => lines.push(JSON.stringify([o, m])),
      info: (o, m) => lines.push(JSON.stringify([o, m])),
      warn: (o, m) => lines.push(JSON.stringify([o, m])),
      error: (o, m) => lines.push(JSON.stringify([o, m])),
      child: () => logger,
    };
    // The first answer is a 500 echoing the request headers, so the retry path logs too.
    const s = await server((req, res, i) => {
      res.statusCode = i === 0 ? 500 : 200;
      res.end(i === 0 ? 'boom' : 'ok');
    });
    const ctx = { ...sinkContext(), logger };
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'http.headers.additional': 'X-Trace:abc', ...auth }, ctx);
    await deliver(t, sinkRecords([{ n: 1 }]));
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1].headers[header]).toBe(expected);
    expect(s.requests[1].headers['x-trace']).toBe('abc');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join('\n')).not.toContain(secret);
    expect(lines.join('\n')).not.toContain(Buffer.from(`ann:${secret}`).toString('base64'));
  });
});

describe('HTTP sink limits', () => {
  it('keeps at most http.max.concurrency requests in flight', async () => {
    let open = 0;
    let most = 0;
    const s = await server((_q, res) => {
      most = Math.max(most, ++open);
      setTimeout(() => {
        open--;
        res.end('ok');
      }, 30);
    });
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'http.max.concurrency': '3' });
    await deliver(t, sinkRecords(Array.from({ length: 12 }, (_, n) => ({ n }))));
    expect(s.requests).toHaveLength(12);
    expect(most).toBe(3);
  });

  it('spaces requests out to http.rate.limit per second', async () => {
    const s = await server();
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'http.rate.limit': '5', 'http.max.concurrency': '4' });
    await deliver(t, sinkRecords(Array.from({ length: 6 }, (_, n) => ({ n }))));
    expect(s.requests).toHaveLength(6);
    // One token at the start, then one every 200 ms: the sixth request is a second after the first.
    expect(s.requests[5].at - s.requests[0].at).toBeGreaterThanOrEqual(900);
  });
});

describe('HTTP sink retries', () => {
  it('retries 500s with backoff and then delivers', async () => {
    const s = await server((_q, res, i) => {
      res.statusCode = i < 2 ? 500 : 200;
      res.end();
    });
    const { task: t, ctx } = await task({ 'http.url': `${s.url}/x`, 'max.retries': '3' });
    await deliver(t, sinkRecords([{ n: 1 }]));
    expect(s.requests).toHaveLength(3);
    expect(s.requests.every((r) => r.body === '{"n":1}')).toBe(true);
    expect(ctx.errors).toHaveLength(0);
  });

  it('honours Retry-After on a 503 before retrying', async () => {
    const s = await server((_q, res, i) => {
      if (i === 0) {
        res.writeHead(503, { 'retry-after': '1' });
        res.end('busy');
      } else res.end('ok');
    });
    // retry.backoff.ms is 10: a gap of about a second can only come from Retry-After.
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'max.retries': '2' });
    await deliver(t, sinkRecords([{ n: 1 }]));
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it('hands a 429 to the runtime with retryAfterMs once its own retries are spent, and resends only what was not delivered', async () => {
    let limited = true;
    const s = await server((req, res) => {
      if (limited && req.body.includes('"n":3')) {
        res.writeHead(429, { 'retry-after': '7' });
        res.end('slow down');
      } else res.end('ok');
    });
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'max.retries': '0', 'batching.enabled': 'true', 'batch.max.size': '2' });
    const records = sinkRecords([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    const err = await rejection(deliver(t, records));
    expect(err).toBeInstanceOf(RetriableError);
    expect((err as RetriableError).retryAfterMs).toBe(7000);
    expect((err as Error).message).toContain('429');
    limited = false;
    await t.flush(new Map()); // what the runtime does after its backoff: flush again
    expect(s.requests.map((r) => r.body)).toEqual(['{"n":1}\n{"n":2}', '{"n":3}\n{"n":4}', '{"n":3}\n{"n":4}']);
  });

  it('skips tombstones inside a batch and, when the runtime retries a failed put, sends only what was not delivered', async () => {
    let down = true;
    const s = await server((req, res) => {
      res.statusCode = down && req.body.includes('"n":4') ? 503 : 200;
      res.end();
    });
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'max.retries': '0', 'batching.enabled': 'true', 'batch.max.size': '2' });
    const records = sinkRecords([{ n: 1 }, null, { n: 2 }, { n: 3 }, { n: 4 }, null, { n: 5 }, { n: 6 }]);
    // At concurrency 1 the put stops at the failed request: the third batch is not sent.
    expect(await rejection(t.put(records))).toBeInstanceOf(RetriableError);
    down = false;
    await deliver(t, records); // the runtime's retry of the same put after its backoff
    expect(s.requests.map((r) => r.body)).toEqual(['{"n":1}\n{"n":2}', '{"n":3}\n{"n":4}', '{"n":3}\n{"n":4}', '{"n":5}\n{"n":6}']);
    // A put with nothing to skip goes out in slices of the put, the same bodies.
    await deliver(t, sinkRecords([{ n: 7 }, { n: 8 }, { n: 9 }]));
    expect(s.requests.slice(4).map((r) => r.body)).toEqual(['{"n":7}\n{"n":8}', '{"n":9}']);
  });

  it('at concurrency 1, lets nothing overtake a failed request', async () => {
    const s = await server((req, res, i) => {
      res.statusCode = i === 0 ? 500 : 200;
      res.end();
    });
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'max.retries': '0' });
    const records = sinkRecords([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(await rejection(t.put(records))).toBeInstanceOf(RetriableError);
    await deliver(t, records); // the runtime's retry of the same put
    expect(s.requests.map((r) => r.body)).toEqual(['{"n":1}', '{"n":1}', '{"n":2}', '{"n":3}']);
  });

  it('times out a request that gets no answer and retries it', async () => {
    const s = await server((_q, res, i) => {
      if (i > 0) res.end('ok'); // the first request hangs
    });
    const { task: t } = await task({ 'http.url': `${s.url}/x`, 'http.timeout': '1', 'max.retries': '2' });
    await deliver(t, sinkRecords([{ n: 1 }]));
    expect(s.requests).toHaveLength(2);
    expect(s.requests[1].at - s.requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it('retries a refused connection, then fails retriably; the same put succeeds once the server is up', async () => {
    const port = await freePort();
    const { task: t } = await task({ 'http.url': `http://127.0.0.1:${port}/x`, 'max.retries': '2' });
    const records = sinkRecords([{ n: 1 }, { n: 2 }]);
    const err = await rejection(deliver(t, records));
    expect(err).toBeInstanceOf(RetriableError);
    expect((err as Error).message).toContain('ECONNREFUSED');
    const s = await server(undefined, port);
    await deliver(t, records);
    expect(s.requests.map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}']);
  });

  it('sends a 400 to the dead-letter queue with the status and response body, and goes on', async () => {
    const s = await server((req, res) => {
      if (req.body.includes('bad')) {
        res.statusCode = 400;
        res.end('{"error":"field x is required"}');
      } else res.end('ok');
    });
    const { task: t, ctx } = await task({ 'http.url': `${s.url}/x`, 'max.retries': '3' });
    await deliver(t, sinkRecords([{ n: 1 }, { n: 'bad' }, { n: 3 }]));
    expect(s.requests).toHaveLength(3); // no retry of the 400
    expect(ctx.errors).toHaveLength(1);
    expect(ctx.errors[0].record.kafkaOffset).toBe(1);
    const e = ctx.errors[0].error as Error;
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toContain('HTTP 400');
    expect(e.message).toContain('field x is required');
  });

  it('fails the put on a 400 when the runtime does not tolerate errors', async () => {
    const s = await server((_q, res) => {
      res.statusCode = 422;
      res.end('nope');
    });
    const ctx = sinkContext();
    ctx.reportError = async (_r, e) => {
      throw e;
    };
    const { task: t } = await task({ 'http.url': `${s.url}/x` }, ctx);
    const err = await rejection(deliver(t, sinkRecords([{ n: 1 }])));
    expect((err as Error).message).toContain('HTTP 422');
  });
});

describe('HTTP sink guards', () => {
  it('rejects bad URLs and templates at validation, naming http.url', () => {
    for (const bad of ['not a url', 'ftp://127.0.0.1/x', 'http://127.0.0.1/${nope}', 'http://127.0.0.1/${topic', 'http://${key}.example.com/x']) {
      const errors = httpSinkConfig.errors({ 'http.url': bad });
      expect(errors.map((e) => e.name), bad).toEqual(['http.url']);
    }
    expect(() => httpSinkConfig.parse({ 'http.url': 'http://127.0.0.1/x', 'http.authorization.type': 'bearer' })).toThrow(ConfigError);
    expect(httpSinkConfig.errors({ 'http.url': 'http://127.0.0.1/x', 'http.allowed.hosts': '10.0.0.0/8' }).map((e) => e.name)).toEqual(['http.url']);
    expect(httpSinkConfig.errors({ 'http.url': 'http://127.0.0.1/x', 'http.allowed.hosts': '10.0.0.0/99' }).map((e) => e.name)).toEqual(['http.allowed.hosts']);
  });

  it('allows a name that resolves inside an allowed range, and refuses one that resolves outside it', async () => {
    const s = await server();
    const { task: ok } = await task({ 'http.url': `http://localhost:${s.port}/in`, 'http.allowed.hosts': '127.0.0.0/8,::1' });
    await deliver(ok, sinkRecords([{ n: 1 }]));
    expect(s.requests.map((r) => r.url)).toEqual(['/in']);

    // localhost is neither listed nor inside 10.0.0.0/8: the connection is refused before it is made.
    const { task: refused, ctx } = await task({ 'http.url': `http://localhost:${s.port}/out`, 'http.allowed.hosts': '10.0.0.0/8' });
    await deliver(refused, sinkRecords([{ n: 2 }]));
    expect(s.requests).toHaveLength(1);
    expect(ctx.errors).toHaveLength(1);
    expect(String(ctx.errors[0].error)).toContain('outside http.allowed.hosts');
  });
});
