// AWS SDK errors as the API's error classes: the runtime retries SlowDown, 5xx and network
// failures, and fails with the field to fix for a missing bucket or bad credentials.
import { S3ServiceException } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { classifyS3Error } from '../../../../connectors/s3/store.ts';
import { ConfigError, FatalError, RetriableError } from '../../../../runtime/api/index.ts';

const sdk = (name: string, status: number | undefined, message = 'boom') =>
  new S3ServiceException({ name, $fault: status && status < 500 ? 'client' : 'server', $metadata: { httpStatusCode: status }, message });
const o = { bucket: 'lake', url: 'http://minio:9000' };

describe('classifyS3Error', () => {
  it.each([
    ['SlowDown', 503],
    ['InternalError', 500],
    ['ServiceUnavailable', 503],
    ['RequestTimeout', 400],
    ['TooManyRequests', 429],
    ['SomethingNew', 502],
  ])('%s (HTTP %s) is retriable', (name, status) => {
    const e = classifyS3Error(sdk(name, status), 'Cannot upload k', o);
    expect(e).toBeInstanceOf(RetriableError);
    expect(e.message).toContain(name);
  });

  it('no response at all (connection refused, timeout) is retriable and names store.url', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:9000'), { code: 'ECONNREFUSED' });
    const e = classifyS3Error(refused, 'Cannot upload k', o);
    expect(e).toBeInstanceOf(RetriableError);
    expect(e.message).toMatch(/http:\/\/minio:9000 cannot be reached \(ECONNREFUSED/);
    expect(classifyS3Error(Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'x', o)).toBeInstanceOf(RetriableError);
  });

  it('a missing bucket and bad credentials are config errors naming the field', () => {
    const missing = classifyS3Error(sdk('NoSuchBucket', 404), 'Cannot upload k', o) as ConfigError;
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.fields.map((f) => f.name)).toEqual(['s3.bucket.name']);
    const headMissing = classifyS3Error(sdk('NotFound', 404), 'Cannot check', { ...o, checkingBucket: true }) as ConfigError;
    expect(headMissing.fields.map((f) => f.name)).toEqual(['s3.bucket.name']);
    for (const name of ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied']) {
      const e = classifyS3Error(sdk(name, 403), 'Cannot upload k', o) as ConfigError;
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.fields.map((f) => f.name)).toEqual(['aws.access.key.id']);
    }
  });

  it('other client errors are fatal', () => {
    expect(classifyS3Error(sdk('InvalidArgument', 400), 'Cannot upload k', o)).toBeInstanceOf(FatalError);
  });
});
