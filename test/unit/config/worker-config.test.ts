import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig, WorkerConfigError } from '../../../config/worker-config.ts';

describe('worker config', () => {
  it('has Kafka Connect-like defaults', () => {
    const c = loadWorkerConfig({ env: {} });
    expect(c).toMatchObject({ mode: 'standalone', stateDir: '.tributary', bootstrapServers: [], groupId: 'tributary-cluster' });
    expect(c.rest).toMatchObject({ host: '127.0.0.1', port: 8083 });
    expect(c.heapGrowingPercent).toBe(150);
    expect(c.heapGrowingPercentMin).toBe(50);
    expect(c.heapYoungTargetMs).toBe(125);
    expect(c.taskShutdownGracefulTimeoutMs).toBe(5000);
  });

  it('heap.growing.percent: 0 leaves V8 its own heuristic; not a number is an error naming the key', () => {
    expect(loadWorkerConfig({ env: { TRIBUTARY_HEAP_GROWING_PERCENT: '0' } }).heapGrowingPercent).toBe(0);
    expect(() => loadWorkerConfig({ env: { TRIBUTARY_HEAP_GROWING_PERCENT: 'lots' } })).toThrow(/heap\.growing\.percent/);
  });

  it('heap.growing.min.percent and heap.young.target.ms from the environment, with the key named when bad', () => {
    const c = loadWorkerConfig({ env: { TRIBUTARY_HEAP_GROWING_MIN_PERCENT: '80', TRIBUTARY_HEAP_YOUNG_TARGET_MS: '0' } });
    expect(c.heapGrowingPercentMin).toBe(80);
    expect(c.heapYoungTargetMs).toBe(0);
    expect(() => loadWorkerConfig({ env: { TRIBUTARY_HEAP_YOUNG_TARGET_MS: '-5' } })).toThrow(/heap\.young\.target\.ms/);
  });

  it('reads TRIBUTARY_* environment variables', () => {
    const c = loadWorkerConfig({
      env: {
        TRIBUTARY_MODE: 'distributed', TRIBUTARY_REST_PORT: '9999', TRIBUTARY_STATE_DIR: '/tmp/s', TRIBUTARY_BOOTSTRAP_SERVERS: 'a:1, b:2',
        TRIBUTARY_GROUP_ID: 'g1', TRIBUTARY_CONNECTORS_DIR: '/c', TRIBUTARY_REDIS_URL: 'redis://x:6379',
      },
    });
    expect(c).toMatchObject({ mode: 'distributed', stateDir: '/tmp/s', bootstrapServers: ['a:1', 'b:2'], groupId: 'g1', connectorsDir: '/c', redisUrl: 'redis://x:6379' });
    expect(c.rest.port).toBe(9999);
  });

  it('flags win over the environment, which wins over the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wc-'));
    const file = join(dir, 'worker.json');
    writeFileSync(file, JSON.stringify({ 'rest.port': 7000, state: { dir: '/from-file' }, 'log.level': 'debug' }));
    const c = loadWorkerConfig({ file, env: { TRIBUTARY_REST_PORT: '7001' }, args: ['--rest-port', '7002'] });
    expect(c.rest.port).toBe(7002);
    expect(c.stateDir).toBe('/from-file');
    expect(c.logLevel).toBe('debug');
  });

  it('names each bad key', () => {
    const err = (() => {
      try {
        loadWorkerConfig({ env: { TRIBUTARY_MODE: 'cluster', TRIBUTARY_REST_PORT: 'eighty' } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(WorkerConfigError);
    expect(err!.message).toMatch(/mode/);
    expect(err!.message).toMatch(/rest\.port/);
  });

  it('rejects unknown keys in the file and distributed mode without brokers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wc-'));
    const file = join(dir, 'worker.json');
    writeFileSync(file, JSON.stringify({ 'rest.portt': 1 }));
    expect(() => loadWorkerConfig({ file, env: {} })).toThrow(/rest\.portt/);
    expect(() => loadWorkerConfig({ env: { TRIBUTARY_MODE: 'distributed' } })).toThrow(/bootstrap\.servers/);
    expect(() => loadWorkerConfig({ file: join(dir, 'missing.json'), env: {} })).toThrow(/Cannot read worker config/);
  });

  it('requires users for basic auth and tokens for bearer auth', () => {
    expect(() => loadWorkerConfig({ env: { TRIBUTARY_REST_AUTH_TYPE: 'basic' } })).toThrow(/rest.auth.users/);
    const c = loadWorkerConfig({ env: { TRIBUTARY_REST_AUTH_TYPE: 'basic', TRIBUTARY_REST_AUTH_USERS: 'admin:s3cret:x' } });
    expect(c.rest.auth.users).toEqual({ admin: 's3cret:x' });
  });
});
