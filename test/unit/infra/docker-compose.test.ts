// docker-compose.yml cannot be run here (no Docker engine), so its shape is checked instead: the
// services a user needs, Postgres ready for logical decoding, and three distinct workers in one group.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..', '..');

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean> | string[];
  ports?: Array<string | { target: number; published?: string | number }>;
  depends_on?: string[] | Record<string, unknown>;
}

// Docker Compose honours YAML merge keys (`<<: *worker`); ask the parser to do the same.
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;

function env(service: ComposeService): Record<string, string> {
  const raw = service.environment ?? {};
  const pairs = Array.isArray(raw) ? raw.map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]) : Object.entries(raw).map(([k, v]) => [k, String(v)] as [string, string]);
  return Object.fromEntries(pairs);
}

function command(service: ComposeService): string {
  return Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
}

function publishedPorts(service: ComposeService): number[] {
  return (service.ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').at(-2)) : Number(p.published)));
}

describe('docker-compose.yml', () => {
  it('runs Kafka 4.1 in KRaft mode (no ZooKeeper), broker and controller in one node', () => {
    const kafka = services.kafka;
    expect(kafka.image).toMatch(/^apache\/kafka:4\.1\./);
    const e = env(kafka);
    expect(e.KAFKA_PROCESS_ROLES.split(',').sort()).toEqual(['broker', 'controller']);
    expect(e.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^1@kafka:\d+$/);
    expect(e.KAFKA_CONTROLLER_LISTENER_NAMES).toBe('CONTROLLER');
    expect(e.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(e.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
    expect(e.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
    expect(Object.keys(services).some((name) => /zookeeper/i.test(name))).toBe(false);
  });

  it('runs Postgres with wal_level=logical on its command line', () => {
    const postgres = services.postgres;
    expect(postgres.image).toMatch(/^postgres:1[4-9]/);
    expect(command(postgres)).toMatch(/-c wal_level=logical/);
    expect(env(postgres).POSTGRES_DB).toBe('tributary');
  });

  it('runs an S3-compatible server and Redis', () => {
    const s3 = Object.entries(services).find(([, s]) => /s3proxy|minio/.test(s.image ?? ''));
    expect(s3, 'an S3 server (S3Proxy or MinIO)').toBeDefined();
    expect(services.redis.image).toMatch(/^redis:7/);
  });

  it('builds three workers from the Dockerfile, one distributed group, each on its own port', () => {
    const names = ['worker-1', 'worker-2', 'worker-3'];
    const workers = names.map((name) => services[name]);
    for (const worker of workers) {
      expect(worker, 'worker service').toBeDefined();
      const build = typeof worker.build === 'string' ? { context: worker.build } : worker.build;
      expect(build?.context).toBe('.');
      expect(build?.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
      const e = env(worker);
      expect(e.TRIBUTARY_MODE).toBe('distributed');
      expect(e.TRIBUTARY_BOOTSTRAP_SERVERS).toMatch(/^kafka:\d+$/);
      expect(e.TRIBUTARY_REDIS_URL).toMatch(/^redis:\/\/redis:\d+/);
      expect(e.TRIBUTARY_GROUP_ID).toBeTruthy();
      const dependsOn = Array.isArray(worker.depends_on) ? worker.depends_on : Object.keys(worker.depends_on ?? {});
      expect(dependsOn).toEqual(expect.arrayContaining(['kafka', 'redis']));
    }
    const envs = workers.map(env);
    expect(new Set(envs.map((e) => e.TRIBUTARY_GROUP_ID)).size).toBe(1);
    expect(envs.map((e) => Number(e.TRIBUTARY_REST_PORT))).toEqual([8083, 8084, 8085]);
    expect(new Set(envs.map((e) => e.TRIBUTARY_WORKER_ID)).size).toBe(3);
    expect(workers.map((w) => publishedPorts(w)[0])).toEqual([8083, 8084, 8085]);
  });

  it('has a Dockerfile that builds and runs the CLI entry point on Node 22 with production dependencies only', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:22-slim$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^RUN node .*scripts\/build\.ts$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/runtime\/cli\/main\.js", "start"\]$/m);
  });
});
