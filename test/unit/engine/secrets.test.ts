import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { defineConfig } from '../../../runtime/api/index.ts';
import {
  MASK, isSecretKeyName, looksLikeSecretValue, maskConfig, pinoRedactOptions, redactSecrets, restoreMaskedValues, secretKeysFor, secretValues,
} from '../../../runtime/engine/secrets.ts';

const spec = defineConfig({
  'database.hostname': { type: 'string', doc: 'Host.' },
  'database.pwd.value': { type: 'password', doc: 'A password-typed key with an unusual name.' },
});

describe('secret keys', () => {
  it('recognises secret-looking key names', () => {
    const secret = [
      'database.password', 'password', 'ssl.key.password', 'db_password', 'client.secret', 'aws.secret.key', 'aws.secret.access.key',
      'bearer.token', 'http.api.key', 'apikey', 'gcp.credentials', 'http.headers.authorization', 'sasl.jaas.config',
      'value.converter.basic.auth.user.info', 'ssl.keystore.key', 'snowflake.private.key', 'Database.PASSWORD',
    ];
    const plain = ['database.hostname', 'password.min.length', 'topic.prefix', 'tokenizer', 'key.converter', 'secret.name.prefix', 'tasks.max'];
    for (const k of secret) expect(isSecretKeyName(k), k).toBe(true);
    for (const k of plain) expect(isSecretKeyName(k), k).toBe(false);
  });

  it('recognises values carrying a password', () => {
    expect(looksLikeSecretValue('postgres://app:pw@db:5432/app')).toBe(true);
    expect(looksLikeSecretValue('jdbc:sqlserver://db;user=app;password=pw')).toBe(true);
    expect(looksLikeSecretValue('jdbc:mysql://db/app?user=app&password=pw')).toBe(true);
    expect(looksLikeSecretValue('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==')).toBe(true);
    expect(looksLikeSecretValue('postgres://app@db:5432/app')).toBe(false);
    expect(looksLikeSecretValue('http://db:8080/path')).toBe(false);
    expect(looksLikeSecretValue(42)).toBe(false);
  });

  it('combines password-typed spec keys, provider-resolved keys and the name heuristics', () => {
    const config = {
      'database.hostname': 'db',
      'database.pwd.value': 'x',
      'database.password': 'y',
      'connection.url': 'postgres://u:p@h/db',
      'table.list': '${file:/etc/tables.properties:list}',
    };
    expect([...secretKeysFor(config, spec, ['table.list'])].sort()).toEqual(['connection.url', 'database.password', 'database.pwd.value', 'table.list']);
    expect([...secretKeysFor(config)].sort()).toEqual(['connection.url', 'database.password']);
  });
});

describe('maskConfig', () => {
  it('replaces the values of secret keys with [hidden], as Kafka Connect masks passwords', () => {
    const config = { 'database.hostname': 'db', 'database.password': 's3cr3t', 'api.key': '' };
    const masked = maskConfig(config, ['database.password', 'api.key', 'not.present']);
    expect(masked).toEqual({ 'database.hostname': 'db', 'database.password': '[hidden]', 'api.key': '[hidden]' });
    expect(config['database.password']).toBe('s3cr3t');
    expect(MASK).toBe('[hidden]');
  });

  it('gives stored secrets back to a PUT of a masked config', () => {
    const stored = { 'database.password': 's3cr3t', 'database.hostname': 'db' };
    const incoming = { 'database.password': '[hidden]', 'database.hostname': 'db2' };
    expect(restoreMaskedValues(incoming, stored, ['database.password'])).toEqual({ 'database.password': 's3cr3t', 'database.hostname': 'db2' });
    const changed = { 'database.password': 'new', 'database.hostname': 'db' };
    expect(restoreMaskedValues(changed, stored, ['database.password'])).toBe(changed);
    expect(restoreMaskedValues(incoming, undefined, ['database.password'])).toBe(incoming);
  });

  it('lists resolved secret values for the log line redactor', () => {
    expect(secretValues({ a: 's3cr3t', b: 'plain', c: '', d: 'TRUE' }, ['a', 'c', 'd', 'missing'])).toEqual(['s3cr3t']);
  });
});

describe('redactSecrets', () => {
  it('masks secret keys at any depth and leaves everything else as it is', () => {
    const entry = {
      connector: 'pg',
      config: { 'database.password': 'pw', 'custom.key': 'ck', 'database.hostname': 'db' },
      tasks: [{ config: { 'custom.key': 'ck2' } }],
      headers: { authorization: 'Bearer x' },
    };
    const out = redactSecrets(entry, new Set(['custom.key']));
    expect(out).toEqual({
      connector: 'pg',
      config: { 'database.password': '[hidden]', 'custom.key': '[hidden]', 'database.hostname': 'db' },
      tasks: [{ config: { 'custom.key': '[hidden]' } }],
      headers: { authorization: '[hidden]' },
    });
    expect(entry.config['database.password']).toBe('pw');
  });

  it('returns the same object when there is nothing to hide, and copes with cycles', () => {
    const clean = { a: 1, b: { c: [1, 2] } };
    expect(redactSecrets(clean)).toBe(clean);
    const cyclic: Record<string, unknown> = { password: 'x' };
    cyclic.self = cyclic;
    expect((redactSecrets(cyclic) as Record<string, unknown>).password).toBe('[hidden]');
  });

  it('works as a pino serializer and as pino redact paths', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const keys = new Set(['custom.key']);
    const log = pino({ serializers: { config: (c: Record<string, string>) => redactSecrets(c, keys) } }, sink);
    log.info({ config: { 'custom.key': 'ck', 'database.password': 'pw', ok: 'yes' } }, 'starting');
    const redacted = pino({ redact: pinoRedactOptions(['custom.key']) }, sink);
    redacted.info({ config: { 'custom.key': 'ck' }, task: { config: { 'custom.key': 'ck' } } }, 'starting');
    const text = lines.join('');
    expect(text).not.toContain('"ck"');
    expect(text).not.toContain('"pw"');
    expect(text).toContain('"ok":"yes"');
    expect(JSON.parse(lines[1]).task.config['custom.key']).toBe('[hidden]');
  });
});
