// The test S3 server speaks the S3 API with SigV4 and the AWS SDK's default checksums: buckets,
// put, ListObjectsV2, get, and a multipart upload read back byte for byte.
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { services, uniqueName } from '../../infra/env.ts';
import { s3Client } from '../../infra/s3.ts';

const s3 = s3Client(services.s3);
const bucket = uniqueName('smoke');
const keys = new Set<string>();

afterAll(async () => {
  for (const key of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  s3.destroy();
});

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('s3 (smoke)', () => {
  it('creates a bucket, puts, lists and gets an object', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const key = 'dir/hello.json';
    const body = JSON.stringify({ hello: 'tributary', at: Date.now() });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    keys.add(key);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/' }));
    expect(listed.KeyCount).toBe(1);
    expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
    expect(listed.Contents?.[0].Size).toBe(Buffer.byteLength(body));

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body?.transformToString()).toBe(body);
  });

  it('completes a multipart upload of three parts and reads it back byte-exact', async () => {
    const key = 'multipart/big.bin';
    const partSize = 5 * 1024 * 1024;
    const data = randomBytes(2 * partSize + 12_345); // two full 5 MiB parts and a short last one
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: data }, partSize, queueSize: 2, leavePartsOnError: false });
    const result = await upload.done();
    keys.add(key);
    expect(result.ETag).toMatch(/-3"?$/); // a multipart ETag names its part count

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await got.Body!.transformToByteArray();
    expect(bytes.length).toBe(data.length);
    expect(sha256(bytes)).toBe(sha256(data));
  });
});
