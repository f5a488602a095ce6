// The addresses the integration tests get: defaults, port overrides, and the env round trip the
// global setup relies on.
import { describe, expect, it } from 'vitest';
import { serviceInfo } from '../../infra/endpoints.ts';
import { testServices, toEnv, uniqueName } from '../../infra/env.ts';

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const noOverrides = {
  TRIBUTARY_TEST_KAFKA_PORT: undefined,
  TRIBUTARY_TEST_KAFKA_CONTROLLER_PORT: undefined,
  TRIBUTARY_TEST_S3_PORT: undefined,
  TRIBUTARY_TEST_PG_PORT: undefined,
  TRIBUTARY_TEST_REDIS_PORT: undefined,
};

describe('test service endpoints', () => {
  it('default to ports that stay clear of a developer\'s own services', () => {
    const info = withEnv(noOverrides, serviceInfo);
    expect(info).toEqual({
      kafka: { bootstrapServers: '127.0.0.1:19092' },
      postgres: { url: 'postgres://postgres@127.0.0.1:5433/tributary' },
      s3: { endpoint: 'http://127.0.0.1:19000', region: 'us-east-1', accessKeyId: 'tributary', secretAccessKey: 'tributary-secret', forcePathStyle: true },
      redis: { url: 'redis://127.0.0.1:6379' },
    });
  });

  it('follow TRIBUTARY_TEST_*_PORT overrides and reject a non-port', () => {
    const info = withEnv({ ...noOverrides, TRIBUTARY_TEST_KAFKA_PORT: '29092', TRIBUTARY_TEST_PG_PORT: '6543' }, serviceInfo);
    expect(info.kafka.bootstrapServers).toBe('127.0.0.1:29092');
    expect(info.postgres.url).toBe('postgres://postgres@127.0.0.1:6543/tributary');
    expect(() => withEnv({ TRIBUTARY_TEST_S3_PORT: 'abc' }, serviceInfo)).toThrow(/TRIBUTARY_TEST_S3_PORT=abc is not a TCP port/);
  });

  it('survive the trip through the environment that the global setup makes', () => {
    const info = withEnv({ ...noOverrides, TRIBUTARY_TEST_REDIS_PORT: '6380' }, serviceInfo);
    expect(testServices(toEnv(info))).toEqual(info);
  });

  it('give unique names', () => {
    const a = uniqueName('smoke');
    expect(a).toMatch(/^smoke-[a-z0-9]+-[a-z0-9]+$/);
    expect(uniqueName('smoke')).not.toBe(a);
  });
});
