// All four test services at once: `node test/infra/services.ts up|down|status [--json]`
// (npm run services:up|down|status). `status --json` prints one JSON object and nothing else.
import { ServiceError, errorText, isMain, runCli, seconds } from './common.ts';
import type { EnsureOptions, Log } from './common.ts';
import { serviceInfo } from './endpoints.ts';
import type { ServiceInfo } from './endpoints.ts';
import { ensureKafka, kafkaStatus, stopKafka } from './kafka.ts';
import { ensurePostgres, postgresStatus, stopPostgres } from './postgres.ts';
import { ensureRedis, redisStatus, stopRedis } from './redis.ts';
import { ensureS3, s3Status, stopS3 } from './s3.ts';

export { serviceInfo };
export type { ServiceInfo };

export type ServiceStatus = {
  [K in keyof ServiceInfo]: ServiceInfo[K] & { running: boolean; startedByUs: boolean };
};

export async function serviceStatus(): Promise<ServiceStatus> {
  const [kafka, postgres, s3, redis] = await Promise.all([kafkaStatus(), postgresStatus(), s3Status(), redisStatus()]);
  return { kafka, postgres, s3, redis };
}

/**
 * Brings all four up (the two JVMs start in parallel) and resolves to serviceInfo(). If any fails,
 * the others are still waited for, and the error names every failed service, one line each.
 */
export async function ensureServices(opts: EnsureOptions = {}): Promise<ServiceInfo> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const results = await Promise.allSettled([ensureKafka({ log }), ensureS3({ log }), ensurePostgres({ log }), ensureRedis({ log })]);
  const names = ['kafka', 's3', 'postgres', 'redis'];
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ name: names[i], reason: r.reason as unknown }] : []));
  if (failures.length === 1) {
    const { name, reason } = failures[0];
    throw reason instanceof ServiceError ? reason : new ServiceError(name, errorText(reason));
  }
  if (failures.length > 1) {
    const lines = failures.map(({ name, reason }) => (reason instanceof ServiceError ? reason.line : `${name}: ${errorText(reason)}`));
    throw new ServiceError('services', `${failures.length} failed:\n  ${lines.join('\n  ')}`);
  }
  return serviceInfo();
}

export async function stopServices(opts: EnsureOptions = {}): Promise<void> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const results = await Promise.allSettled([stopKafka({ log }), stopS3({ log }), stopPostgres({ log }), stopRedis({ log })]);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new ServiceError('services', failed.map((r) => errorText(r.reason)).join('; '));
}

if (isMain(import.meta.url)) {
  await runCli({
    name: 'services',
    up: async () => {
      const started = Date.now();
      await ensureServices();
      console.log(`services: all up in ${seconds(started)} (node test/infra/services.ts status --json for the addresses)`);
    },
    down: () => stopServices(),
    status: async (json) => {
      const status = await serviceStatus();
      if (json) {
        console.log(JSON.stringify(status));
        return;
      }
      const where = { kafka: status.kafka.bootstrapServers, postgres: status.postgres.url, s3: status.s3.endpoint, redis: status.redis.url };
      for (const name of ['kafka', 'postgres', 's3', 'redis'] as const) {
        const s = status[name];
        console.log(`${name.padEnd(8)} ${(s.running ? 'running' : 'down').padEnd(8)} ${where[name]}${s.startedByUs ? '  (started by us)' : ''}`);
      }
    },
  });
}
