import { describe, expect, it } from 'vitest';
import { ConfigError, defineConfig, oneOf, range, url } from '../../../runtime/api/index.ts';

const spec = defineConfig({
  'database.hostname': { type: 'string', doc: 'Host of the database.', importance: 'high', group: 'Connection' },
  'database.port': { type: 'int', default: 5432, validate: range(1, 65535), doc: 'Port.' },
  'database.password': { type: 'password', default: null, doc: 'Password.' },
  'snapshot.mode': { type: 'string', default: 'initial', validate: oneOf(['initial', 'never']), doc: 'When to snapshot.' },
  'table.include.list': { type: 'list', default: [], doc: 'Tables.' },
  'heartbeat.enabled': { type: 'boolean', default: false, doc: 'Heartbeats.' },
  'rate': { type: 'double', default: 1.5, doc: 'Rate.' },
  'endpoint': { type: 'string', default: null, validate: url(), doc: 'URL.' },
});

describe('ConfigSpec', () => {
  it('parses strings into typed values with defaults', () => {
    const cfg = spec.parse({ 'database.hostname': 'db', 'database.port': '6543', 'table.include.list': 'public.a, public.b', 'heartbeat.enabled': 'true', rate: '2.5' });
    expect(cfg['database.port']).toBe(6543);
    expect(cfg['table.include.list']).toEqual(['public.a', 'public.b']);
    expect(cfg['heartbeat.enabled']).toBe(true);
    expect(cfg.rate).toBe(2.5);
    expect(cfg['snapshot.mode']).toBe('initial');
    expect(cfg['database.password']).toBeNull();
  });

  it('accepts numbers and booleans given in JSON', () => {
    expect(spec.parse({ 'database.hostname': 'db', 'database.port': 1, 'heartbeat.enabled': true })['database.port']).toBe(1);
  });

  it('reports every bad field at once, each naming the key and what is wrong', () => {
    let err: ConfigError | undefined;
    try {
      spec.parse({ 'database.port': 'abc', 'snapshot.mode': 'sometimes', endpoint: 'not a url' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const names = err!.fields.map((f) => f.name).sort();
    expect(names).toEqual(['database.hostname', 'database.port', 'endpoint', 'snapshot.mode']);
    expect(err!.fields.find((f) => f.name === 'database.hostname')!.message).toMatch(/Missing required configuration "database.hostname"/);
    expect(err!.fields.find((f) => f.name === 'database.port')!.message).toMatch(/whole number/);
    expect(err!.fields.find((f) => f.name === 'snapshot.mode')!.message).toMatch(/Must be one of initial, never/);
    expect(err!.message).toContain('database.port');
  });

  it('range validator rejects out-of-range values', () => {
    expect(spec.errors({ 'database.hostname': 'h', 'database.port': '70000' })[0]).toMatchObject({ name: 'database.port' });
  });

  it('describes keys in Kafka Connect ConfigKeyInfo shape', () => {
    const d = spec.describe();
    expect(d[0]).toEqual({
      name: 'database.hostname', type: 'STRING', required: true, default_value: null, importance: 'HIGH',
      documentation: 'Host of the database.', group: 'Connection', order: 0, width: 'NONE', display_name: 'database.hostname', dependents: [],
    });
    expect(d.find((k) => k.name === 'snapshot.mode')!.documentation).toContain('[initial, never]');
    expect(d.find((k) => k.name === 'database.port')!.default_value).toBe('5432');
  });

  it('validate() gives per-field values and errors and hides passwords', () => {
    const v = spec.validate({ 'database.hostname': 'h', 'database.password': 'secret', 'database.port': 'x' });
    const pw = v.find((c) => c.value.name === 'database.password')!;
    expect(pw.value.value).toBe('[hidden]');
    expect(v.find((c) => c.value.name === 'database.port')!.value.errors[0]).toMatch(/whole number/);
    expect(v.find((c) => c.value.name === 'snapshot.mode')!.value.recommended_values).toEqual(['initial', 'never']);
    expect(spec.secretKeys()).toEqual(['database.password']);
  });

  it('extend() merges definitions', () => {
    const more = spec.extend({ extra: { type: 'int', default: 1, doc: 'x' } });
    expect(more.names).toContain('extra');
    expect(more.parse({ 'database.hostname': 'h' }).extra).toBe(1);
  });
});
