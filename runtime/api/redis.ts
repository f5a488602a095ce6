/**
 * Redis for connectors that opt in with a `redis.url` key (BullMQ queues): the connection options
 * a `redis[s]://[user:password@]host:port[/db]` URL means, in the shape ioredis and BullMQ take.
 * Here so that connectors share one reading of the URL without importing each other.
 */
export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
  /** BullMQ's workers need commands to wait for Redis rather than fail after a few retries. */
  maxRetriesPerRequest: null;
}

export function redisConnectionOptions(url: string): RedisConnectionOptions {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}
