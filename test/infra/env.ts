// What integration tests (and benchmarks) import to find the test services:
//   import { services } from '../../infra/env.ts';
//   new Admin({ bootstrapBrokers: [services.kafka.bootstrapServers], ... })
// Under vitest the global setup (test/infra/global-setup.ts) has already started them and put their
// addresses in TRIBUTARY_TEST_* environment variables, which win here; elsewhere the addresses
// come from the same configuration the services were started with (endpoints.ts).
import { serviceInfo } from './endpoints.ts';
import type { ServiceInfo } from './endpoints.ts';

export type { KafkaInfo, PostgresInfo, RedisInfo, S3Info, ServiceInfo } from './endpoints.ts';

/** The environment variables the global setup exports, one per field of ServiceInfo. */
export const ENV = {
  kafkaBootstrapServers: 'TRIBUTARY_TEST_KAFKA',
  postgresUrl: 'TRIBUTARY_TEST_PG_URL',
  s3Endpoint: 'TRIBUTARY_TEST_S3_ENDPOINT',
  s3Region: 'TRIBUTARY_TEST_S3_REGION',
  s3AccessKeyId: 'TRIBUTARY_TEST_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'TRIBUTARY_TEST_S3_SECRET_ACCESS_KEY',
  redisUrl: 'TRIBUTARY_TEST_REDIS_URL',
} as const;

export function toEnv(info: ServiceInfo): Record<string, string> {
  return {
    [ENV.kafkaBootstrapServers]: info.kafka.bootstrapServers,
    [ENV.postgresUrl]: info.postgres.url,
    [ENV.s3Endpoint]: info.s3.endpoint,
    [ENV.s3Region]: info.s3.region,
    [ENV.s3AccessKeyId]: info.s3.accessKeyId,
    [ENV.s3SecretAccessKey]: info.s3.secretAccessKey,
    [ENV.redisUrl]: info.redis.url,
  };
}

export function testServices(env: NodeJS.ProcessEnv = process.env): ServiceInfo {
  const defaults = serviceInfo();
  const pick = (name: string, fallback: string) => env[name] || fallback;
  return {
    kafka: { bootstrapServers: pick(ENV.kafkaBootstrapServers, defaults.kafka.bootstrapServers) },
    postgres: { url: pick(ENV.postgresUrl, defaults.postgres.url) },
    s3: {
      endpoint: pick(ENV.s3Endpoint, defaults.s3.endpoint),
      region: pick(ENV.s3Region, defaults.s3.region),
      accessKeyId: pick(ENV.s3AccessKeyId, defaults.s3.accessKeyId),
      secretAccessKey: pick(ENV.s3SecretAccessKey, defaults.s3.secretAccessKey),
      forcePathStyle: true,
    },
    redis: { url: pick(ENV.redisUrl, defaults.redis.url) },
  };
}

/** The test services' addresses, for `import { services } from '.../test/infra/env.ts'`. */
export const services: ServiceInfo = testServices();

/** `['127.0.0.1:19092']`, the shape @platformatic/kafka's bootstrapBrokers takes. */
export function kafkaBrokers(info: ServiceInfo = services): string[] {
  return info.kafka.bootstrapServers.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A name no other run or test uses: `${prefix}-<time>-<random>`, safe for topics, buckets, slots and queues. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
