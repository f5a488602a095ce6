import { describe, expect, it } from 'vitest';
import { Allowlist } from '../../../../connectors/http/allowlist.ts';
import { BodyPool } from '../../../../connectors/http/body-pool.ts';
import { backoffMs, parseRetryAfter, redactUrl } from '../../../../connectors/http/http-client.ts';
import { parseBody } from '../../../../connectors/http/http-receiver-task.ts';
import { bodyOf, jsonOf } from '../../../../connectors/http/http-sink-task.ts';
import { UrlTemplate } from '../../../../connectors/http/template.ts';
import { sinkRecords } from '../fake-context.ts';

describe('UrlTemplate', () => {
  it('renders fields per record, URL-encoded', () => {
    const t = UrlTemplate.parse('http://h:1/a/${topic}/${key.id}?v=${value.n.m}&o=${offset}');
    const [r] = sinkRecords([{ n: { m: 'x y' } }], 'my topic', 3, 42);
    expect(t.render({ ...r, key: { id: 'a/b' } })).toBe('http://h:1/a/my%20topic/a%2Fb?v=x%20y&o=42');
    expect(() => t.render(r)).toThrow('${key.id}');
    expect(UrlTemplate.parse('http://h/x').isStatic).toBe(true);
  });

  it('refuses placeholders in the origin, unknown names and unclosed ones', () => {
    expect(() => UrlTemplate.parse('http://${topic}/x')).toThrow(/path and query/);
    expect(() => UrlTemplate.parse('http://h:${partition}/x')).toThrow(/path and query/);
    expect(() => UrlTemplate.parse('http://h/${headers}')).toThrow(/Unknown placeholder/);
    expect(() => UrlTemplate.parse('http://h/${topic')).toThrow(/Unclosed/);
    expect(() => UrlTemplate.parse('file:///etc/passwd')).toThrow(/http or https/);
  });
});

describe('Allowlist', () => {
  it('matches names, wildcards, IPs and ranges', () => {
    const a = new Allowlist(['api.example.com', '*.hooks.example.org', '10.1.0.0/16', '::1']);
    expect(a.precheck('api.example.com')).toBe(true);
    expect(a.precheck('x.hooks.example.org')).toBe(true);
    expect(a.precheck('10.1.2.3')).toBe(true);
    expect(a.precheck('10.2.0.1')).toBe(false);
    expect(a.precheck('[::1]')).toBe(true);
    expect(a.precheck('169.254.169.254')).toBe(false);
    expect(a.precheck('other.example.com')).toBe('resolve');
    expect(new Allowlist(['api.example.com']).precheck('other.example.com')).toBe(false);
    expect(new Allowlist([]).precheck('anything')).toBe(true);
    expect(Allowlist.check('10.0.0.0/33')).toMatch(/CIDR/);
    expect(Allowlist.check('bad host!')).toMatch(/not a host name/);
  });
});

describe('HTTP helpers', () => {
  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(new Date(10_000 + 3000).toUTCString(), 10_000)).toBe(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(0, 100, 10_000, () => 0)).toBe(50);
    expect(backoffMs(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffMs(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffMs(20, 100, 10_000, () => 1)).toBe(10_000);
  });

  it('keeps user info and query out of logged URLs', () => {
    expect(redactUrl('https://u:pw@h.example/p?token=abc')).toBe('https://h.example/p?…');
  });

  it('serializes bodies: strings as they are, values as JSON, bytes as base64 inside JSON', () => {
    expect(bodyOf('plain')).toBe('plain');
    expect(bodyOf(Buffer.from('raw'))).toBe('raw');
    expect(bodyOf({ a: 1 })).toBe('{"a":1}');
    expect(jsonOf({ b: Buffer.from('hi'), n: 2n ** 60n })).toBe('{"b":"aGk=","n":"1152921504606846976"}');
  });

  it('parses receiver bodies whole or not at all', () => {
    expect(parseBody(Buffer.from('[1,2]'), 'json', true)).toEqual([1, 2]);
    expect(parseBody(Buffer.from('[1,2]'), 'json', false)).toEqual([[1, 2]]);
    expect(parseBody(Buffer.from('{"a":1}\n{"a":2}\n'), 'ndjson', true)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parseBody(Buffer.from('{"a":1}\n{oops'), 'ndjson', true)).toThrow(/Line 2/);
    expect(() => parseBody(Buffer.from('<xml/>'), 'json', true)).toThrow(/not JSON/);
    expect(parseBody(Buffer.from('anything'), 'raw', true)).toEqual(['anything']);
  });
});

describe('BodyPool', () => {
  it('reuses a released body for the next one that fits, and never a body still lent out', () => {
    const pool = new BodyPool(3, 1 << 24, () => false);
    const a = pool.take(20_000);
    const b = pool.take(20_000);
    expect(a.length).toBe(20_000);
    expect(a.buffer).not.toBe(b.buffer);
    pool.release(a);
    const c = pool.take(19_000);
    expect(c.buffer).toBe(a.buffer); // a's buffer again, as a view of the size asked for
    expect(c.length).toBe(19_000);
    expect(pool.take(20_000).buffer).not.toBe(b.buffer); // b is still lent: a new one
    // A buffer that does not fit is not handed out for a larger body.
    pool.release(c);
    expect(pool.take(100_000).buffer).not.toBe(a.buffer);
  });

  it('holds a released body while any connection is writing, and frees it once none is', () => {
    let writing = true;
    const pool = new BodyPool(3, 1 << 24, () => writing);
    const a = pool.take(20_000);
    pool.release(a);
    expect(pool.sizes).toEqual({ free: 0, held: 1, freeBytes: 0 });
    expect(pool.take(20_000).buffer).not.toBe(a.buffer);
    writing = false;
    expect(pool.take(20_000).buffer).toBe(a.buffer);
  });

  it('ignores bodies that are not its own, does not pool small or huge ones, and keeps at most its limits', () => {
    const pool = new BodyPool(2, 1 << 20, () => false);
    pool.release('text');
    pool.release(Buffer.alloc(50_000));
    pool.release(Buffer.from(JSON.stringify({ small: true })));
    expect(pool.sizes.free).toBe(0);
    const small = pool.take(100);
    pool.release(small);
    expect(pool.sizes.free).toBe(0);
    const huge = pool.take((1 << 20) / 4 + 1); // more than a quarter of the pool's bytes
    pool.release(huge);
    expect(pool.sizes.free).toBe(0);
    const bodies = [pool.take(20_000), pool.take(20_000), pool.take(30_000)];
    for (const b of bodies) pool.release(b);
    expect(pool.sizes.free).toBe(2); // the two largest kept
    expect(pool.take(30_000).buffer).toBe(bodies[2].buffer);
    // Releasing twice does not put one buffer in the pool twice.
    pool.release(bodies[2]);
    pool.release(bodies[2]);
    expect(pool.sizes.free).toBe(2);
  });
});
