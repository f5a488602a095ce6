import { describe, expect, it } from 'vitest';
import { Allowlist } from '../../../../connectors/http/allowlist.ts';
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
