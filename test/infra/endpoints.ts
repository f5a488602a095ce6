// Where the test services listen: pure configuration, no client libraries, no probing. Ports come
// from TRIBUTARY_TEST_{KAFKA,KAFKA_CONTROLLER,S3,PG,REDIS}_PORT, else the defaults below (chosen so
// that a developer's own Kafka on 9092, MinIO on 9000 or Postgres on 5432 do not clash).
import { envPort } from './common.ts';

export interface KafkaInfo {
  /** host:port, comma-separated if ever more than one. */
  bootstrapServers: string;
}

export interface S3Info {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** S3Proxy serves path-style URLs only: clients need `forcePathStyle: true`. */
  forcePathStyle: true;
}

export interface PostgresInfo {
  /** postgres://postgres@127.0.0.1:5433/tributary: trust auth, wal_level=logical, replication allowed. */
  url: string;
}

export interface RedisInfo {
  url: string;
}

export interface ServiceInfo {
  kafka: KafkaInfo;
  postgres: PostgresInfo;
  s3: S3Info;
  redis: RedisInfo;
}

export const HOST = '127.0.0.1';

export function kafkaPorts(): { port: number; controllerPort: number } {
  const port = envPort('TRIBUTARY_TEST_KAFKA_PORT', 19092);
  return { port, controllerPort: envPort('TRIBUTARY_TEST_KAFKA_CONTROLLER_PORT', port + 1) };
}

export function kafkaInfo(): KafkaInfo {
  return { bootstrapServers: `${HOST}:${kafkaPorts().port}` };
}

export function s3Port(): number {
  return envPort('TRIBUTARY_TEST_S3_PORT', 19000);
}

export function s3Info(): S3Info {
  return {
    endpoint: `http://${HOST}:${s3Port()}`,
    region: 'us-east-1',
    accessKeyId: 'tributary',
    secretAccessKey: 'tributary-secret',
    forcePathStyle: true,
  };
}

export function postgresPort(): number {
  return envPort('TRIBUTARY_TEST_PG_PORT', 5433);
}

export const POSTGRES_DATABASE = 'tributary';

export function postgresInfo(): PostgresInfo {
  return { url: `postgres://postgres@${HOST}:${postgresPort()}/${POSTGRES_DATABASE}` };
}

export function redisPort(): number {
  return envPort('TRIBUTARY_TEST_REDIS_PORT', 6379);
}

export function redisInfo(): RedisInfo {
  return { url: `redis://${HOST}:${redisPort()}` };
}

/**
 * Where the test services listen, from configuration alone: it neither probes nor starts anything
 * (ensureServices() in services.ts does that).
 */
export function serviceInfo(): ServiceInfo {
  return { kafka: kafkaInfo(), postgres: postgresInfo(), s3: s3Info(), redis: redisInfo() };
}
