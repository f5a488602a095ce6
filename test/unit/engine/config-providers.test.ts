import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../runtime/api/index.ts';
import {
  createConfigResolver, hasReferences, parseProperties, resolveConfig, type ConfigProvider,
} from '../../../runtime/engine/config-providers.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-providers-'));
  await writeFile(
    join(dir, 'db.properties'),
    [
      '# database credentials',
      '! also a comment',
      '   ',
      'user=app',
      'password : s3cr3t',
      'url jdbc:postgresql://db:5432/app',
      'multi = first, \\',
      '        second, \\',
      '        third',
      'escaped\\ key=tab\\there\\u0021',
      'empty=',
      '# continued\\',
      'after.comment=yes',
      'user=app2',
    ].join('\n'),
  );
  await writeFile(join(dir, 'token.txt'), '  tok-123\n');
  await mkdir(join(dir, 'secrets'));
  await writeFile(join(dir, 'secrets', 'api-key'), 'key-with-newline\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function caught(p: Promise<unknown>): Promise<ConfigError> {
  return p.then(
    () => {
      throw new Error('expected a ConfigError');
    },
    (e) => {
      if (e instanceof ConfigError) return e;
      throw e;
    },
  );
}

describe('parseProperties (java.util.Properties.load)', () => {
  it('reads key=value, key: value and key value, skipping comments and blank lines', () => {
    const p = parseProperties('a=1\nb: 2\nc 3\n# x=1\n  ! y=2\n\n d = 4 \n');
    expect([...p]).toEqual([['a', '1'], ['b', '2'], ['c', '3'], ['d', '4 ']]);
  });

  it('joins continued lines, dropping leading whitespace of the next line', () => {
    expect(parseProperties('k = a\\\n    b\\\n\tc\n').get('k')).toBe('abc');
    // An even number of backslashes is an escaped backslash, not a continuation.
    expect(parseProperties('k = a\\\\\nm=1').get('k')).toBe('a\\');
    expect(parseProperties('k = end\\').get('k')).toBe('end');
  });

  it('does not continue comment lines', () => {
    expect([...parseProperties('# comment \\\nk=v')]).toEqual([['k', 'v']]);
  });

  it('handles escapes, separators in keys and \\r\\n line ends', () => {
    const p = parseProperties('a\\=b=c\r\nx\\:y:z\r\nu=\\u00e9\\n\\t\\q\r\nw=a=b');
    expect(p.get('a=b')).toBe('c');
    expect(p.get('x:y')).toBe('z');
    expect(p.get('u')).toBe('é\n\tq');
    expect(p.get('w')).toBe('a=b');
  });

  it('keeps the last of duplicate keys and allows empty values', () => {
    const p = parseProperties('k=1\nk=2\ne=\nbare');
    expect(p.get('k')).toBe('2');
    expect(p.get('e')).toBe('');
    expect(p.get('bare')).toBe('');
  });

  it('rejects a malformed \\u escape', () => {
    expect(() => parseProperties('k=\\u12')).toThrow(/uxxxx/);
  });
});

describe('resolveConfig', () => {
  it('resolves ${file:path:key} from a properties file and reports the secret keys', async () => {
    const props = join(dir, 'db.properties');
    const { resolved, secretKeys } = await resolveConfig({
      'connector.class': 'postgres',
      'database.user': `\${file:${props}:user}`,
      'database.password': `\${file:${props}:password}`,
      'database.url': `\${file:${props}:url}`,
      tables: `\${file:${props}:multi}`,
      odd: `\${file:${props}:escaped key}`,
      'after.comment': `\${file:${props}:after.comment}`,
    });
    expect(resolved).toEqual({
      'connector.class': 'postgres',
      'database.user': 'app2',
      'database.password': 's3cr3t',
      'database.url': 'jdbc:postgresql://db:5432/app',
      tables: 'first, second, third',
      odd: 'tab\there!',
      'after.comment': 'yes',
    });
    expect([...secretKeys].sort()).toEqual(['after.comment', 'database.password', 'database.url', 'database.user', 'odd', 'tables']);
  });

  it('resolves ${file:path} to the whole file, trimmed, and ${directory:dir:file} as is', async () => {
    const { resolved } = await resolveConfig({
      token: `\${file:${join(dir, 'token.txt')}}`,
      key: `\${directory:${join(dir, 'secrets')}:api-key}`,
    });
    expect(resolved).toEqual({ token: 'tok-123', key: 'key-with-newline\n' });
  });

  it('resolves ${env:VAR} and several references inside one value', async () => {
    const r = createConfigResolver({ env: { DB_HOST: 'db.internal', DB_PASS: 'pw' } });
    const { resolved, secretKeys } = await r.resolveConfig({
      'connection.url': 'postgres://app:${env:DB_PASS}@${env:DB_HOST}:5432/app',
      'also.env': '${env::DB_HOST}',
      plain: 'no references',
    });
    expect(resolved['connection.url']).toBe('postgres://app:pw@db.internal:5432/app');
    expect(resolved['also.env']).toBe('db.internal');
    expect(resolved.plain).toBe('no references');
    expect([...secretKeys].sort()).toEqual(['also.env', 'connection.url']);
  });

  it('reads process.env by default', async () => {
    process.env.TRIBUTARY_TEST_SECRET = 'from-env';
    try {
      expect((await resolveConfig({ k: '${env:TRIBUTARY_TEST_SECRET}' })).resolved.k).toBe('from-env');
    } finally {
      delete process.env.TRIBUTARY_TEST_SECRET;
    }
  });

  it('fails with a ConfigError naming the config key and the variable when a variable is missing', async () => {
    const r = createConfigResolver({ env: {} });
    const e = await caught(r.resolveConfig({ 'database.password': '${env:DB_PASSWORD}' }));
    expect(e.fields).toHaveLength(1);
    expect(e.fields[0].name).toBe('database.password');
    expect(e.fields[0].message).toContain('${env:DB_PASSWORD}');
    expect(e.fields[0].message).toContain('environment variable DB_PASSWORD is not set');
    expect(e.message).toContain('database.password');
  });

  it('fails naming the key when a properties file has no such key, or the file is missing', async () => {
    const props = join(dir, 'db.properties');
    const e = await caught(resolveConfig({ a: `\${file:${props}:nope}`, b: `\${file:${join(dir, 'missing.properties')}:x}`, c: 'fine' }));
    expect(e.fields.map((f) => f.name)).toEqual(['a', 'b']);
    expect(e.fields[0].message).toContain('has no key "nope"');
    expect(e.fields[1].message).toContain('does not exist');
  });

  it('never puts a resolved secret in an error', async () => {
    const props = join(dir, 'db.properties');
    const e = await caught(resolveConfig({ k: `\${file:${props}:password}-\${file:${props}:missing}` }));
    expect(e.message).not.toContain('s3cr3t');
  });

  it('leaves references to unknown providers as they are, as Kafka Connect does', async () => {
    const { resolved, secretKeys } = await resolveConfig({ a: '${vault:secret/db:password}', b: 'topic-${topic}' });
    expect(resolved).toEqual({ a: '${vault:secret/db:password}', b: 'topic-${topic}' });
    expect(secretKeys.size).toBe(0);
  });

  it('does not resolve recursively', async () => {
    const r = createConfigResolver({ env: { A: '${env:B}', B: 'b' } });
    expect((await r.resolveConfig({ k: '${env:A}' })).resolved.k).toBe('${env:B}');
  });

  it('reads each source once per resolution and leaves the input untouched', async () => {
    let calls = 0;
    const counting: ConfigProvider = {
      async get(_path, keys) {
        calls++;
        return new Map([...keys].map((k) => [k, k.toUpperCase()]));
      },
    };
    const r = createConfigResolver({ providers: { vault: counting } });
    const config = { a: '${vault:p:x}', b: '${vault:p:y}', c: '${vault:q:z}' };
    const { resolved } = await r.resolveConfig(config);
    expect(resolved).toEqual({ a: 'X', b: 'Y', c: 'Z' });
    expect(calls).toBe(2);
    expect(config.a).toBe('${vault:p:x}');
  });

  it('restricts files to allowedPaths (symlinks included)', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'tributary-outside-'));
    try {
      await writeFile(join(outside, 'x.txt'), 'nope');
      await symlink(join(outside, 'x.txt'), join(dir, 'secrets', 'link'));
      const r = createConfigResolver({ allowedPaths: [join(dir, 'secrets')] });
      expect((await r.resolveConfig({ k: `\${directory:${join(dir, 'secrets')}:api-key}` })).resolved.k).toBe('key-with-newline\n');
      const e1 = await caught(r.resolveConfig({ k: `\${file:${join(outside, 'x.txt')}}` }));
      expect(e1.fields[0].message).toContain('outside the paths');
      const e2 = await caught(r.resolveConfig({ k: `\${directory:${join(dir, 'secrets')}:link}` }));
      expect(e2.fields[0].message).toContain('outside the paths');
      const e3 = await caught(r.resolveConfig({ k: `\${directory:${join(dir, 'secrets')}:../token.txt}` }));
      expect(e3.fields[0].message).toContain('not a file name');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('rejects relative paths', async () => {
    const e = await caught(resolveConfig({ k: '${file:relative/secret.txt}' }));
    expect(e.fields[0].message).toContain('absolute path');
  });

  it('detects references', () => {
    expect(hasReferences('${env:X}')).toBe(true);
    expect(hasReferences('a ${file:/x:y} b')).toBe(true);
    expect(hasReferences('${topic}')).toBe(false);
    expect(hasReferences('plain')).toBe(false);
  });
});
