import { describe, expect, it } from 'vitest';
import { redisConnectionOptions } from '../../../runtime/api/index.ts';

describe('redisConnectionOptions', () => {
  it('reads host, port, credentials, database and TLS from a redis URL', () => {
    expect(redisConnectionOptions('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379, db: 0, maxRetriesPerRequest: null });
    expect(redisConnectionOptions('rediss://us%40er:p%3Ass@cache.internal/3')).toEqual({
      host: 'cache.internal', port: 6379, username: 'us@er', password: 'p:ss', db: 3, tls: {}, maxRetriesPerRequest: null,
    });
  });
});
