// The S3 connectors against the real S3 server (S3Proxy), driven through the connector API:
// multipart uploads, Parquet objects read back by hyparquet, the source resuming mid-object, and
// bad input (missing bucket, wrong credentials, unreachable endpoint) as clear errors.
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Sink } from '../../../../connectors/s3/index.ts';
import { S3SinkTask } from '../../../../connectors/s3/s3-sink-task.ts';
import { S3SourceTask } from '../../../../connectors/s3/s3-source-task.ts';
import { ConfigError, RetriableError } from '../../../../runtime/api/index.ts';
import type { Schema, SinkRecord, SourceRecord } from '../../../../runtime/api/index.ts';
import { MemoryOffsets, sinkContext, sinkRecords, sourceContext } from '../../../unit/connectors/fake-context.ts';
import { services, uniqueName } from '../../../infra/env.ts';
import { s3Client } from '../../../infra/s3.ts';
import { tempDir } from '../../../helpers/worker-process.ts';

const s3 = s3Client(services.s3);
const bucket = uniqueName('s3conn');
const base = {
  's3.bucket.name': bucket,
  's3.region': services.s3.region,
  'store.url': services.s3.endpoint,
  'aws.access.key.id': services.s3.accessKeyId,
  'aws.secret.access.key': services.s3.secretAccessKey,
};

async function keys(prefix = ''): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const c of page.Contents ?? []) out.push(c.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  for (const key of await keys().catch(() => [])) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  s3.destroy();
});

describe('S3 sink on S3Proxy', () => {
  it('uploads a large object in s3.part.size parts, with its offset range in the metadata', async () => {
    const task = new S3SinkTask();
    const progress: Record<string, unknown> = {};
    const ctx = { ...sinkContext(), reportProgress: (p: Record<string, unknown>) => Object.assign(progress, p) };
    await task.start({ ...base, 'flush.size': '24000', 's3.part.size': String(5 * 1024 * 1024), 'topics.dir': 'mp' }, ctx);
    const pad = 'x'.repeat(480);
    const values = Array.from({ length: 24_000 }, (_, i) => ({ i, pad }));
    await task.put(sinkRecords(values, 'big', 0, 1000));
    await task.drain(); // the upload runs in the background
    expect(await task.flush(new Map([['big-0', { topic: 'big', partition: 0, offset: 25_000 }]]))).toEqual(new Map([['big-0', { topic: 'big', partition: 0, offset: 25_000 }]]));
    expect(progress).toMatchObject({ objectsUploaded: 1, multipartObjects: 1 });
    await task.stop();
    const key = 'mp/big/partition=0/big+0+0000001000.json';
    expect(await keys('mp/')).toEqual([key]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.Metadata).toMatchObject({ 'start-offset': '1000', 'end-offset': '24999', 'record-count': '24000' });
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    const lines = body.split('\n').filter(Boolean);
    expect(lines.length).toBe(24_000);
    expect(JSON.parse(lines[23_999])).toEqual({ i: 23_999, pad });
  });

  it('writes Parquet that hyparquet and DuckDB (an independent C++ reader) read back with the right types', async () => {
    const schema: Schema = { type: 'struct', fields: [
      { field: 'id', type: 'int32' },
      { field: 'price', type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2' } },
      { field: 'at', type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp' },
    ] };
    const task = new S3SinkTask();
    await task.start({ ...base, 'flush.size': '2', 'format.class': 'parquet', 'topics.dir': 'pq' }, sinkContext());
    const recs: SinkRecord[] = sinkRecords([{ id: 1, price: '1.50', at: new Date(1_700_000_000_000) }, { id: 2, price: '20.00', at: new Date(1_700_000_000_500) }], 'pq', 0)
      .map((r) => ({ ...r, valueSchema: schema }));
    await task.put(recs);
    await task.stop();
    const [key] = await keys('pq/');
    expect(key).toBe('pq/pq/partition=0/pq+0+0000000000.snappy.parquet');
    const bytes = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    expect(rows).toEqual([{ id: 1, price: 1.5, at: new Date(1_700_000_000_000) }, { id: 2, price: 20, at: new Date(1_700_000_000_500) }]);

    // DuckDB shares no code with the writer: its view of the types and values is the lake's.
    const file = join(tempDir('parquet-duckdb'), 'pq.parquet');
    writeFileSync(file, bytes);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const types = (await conn.runAndReadAll(`select column_name, column_type from (describe select * from read_parquet('${file}'))`)).getRowObjects();
      expect(types).toEqual([
        { column_name: 'id', column_type: 'INTEGER' },
        { column_name: 'price', column_type: expect.stringMatching(/^DECIMAL\(\d+,2\)$/) },
        { column_name: 'at', column_type: expect.stringMatching(/^TIMESTAMP/) },
      ]);
      const values = (await conn.runAndReadAll(`select id, cast(price as varchar) as price, epoch_ms(cast("at" as timestamp)) as "at" from read_parquet('${file}') order by id`)).getRowObjects();
      expect(values).toEqual([{ id: 1, price: '1.50', at: 1_700_000_000_000n }, { id: 2, price: '20.00', at: 1_700_000_000_500n }]);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });

  it('a restarted task finds the objects written after the last commit and writes no second copy (default and time partitioners)', async () => {
    const cases: Array<{ dir: string; extra: Record<string, string> }> = [
      { dir: 'rc-default', extra: {} },
      { dir: 'rc-time', extra: { 'partitioner.class': 'hourly', 'timestamp.extractor': 'Record' } },
    ];
    for (const { dir, extra } of cases) {
      const at = (r: SinkRecord): SinkRecord => ({ ...r, timestamp: Date.UTC(2026, 0, 1, r.kafkaOffset % 2) }); // two hour folders, interleaved
      const all = sinkRecords(Array.from({ length: 12 }, (_, n) => ({ n })), 'rc', 3, 500).map(at);
      let task = new S3SinkTask();
      await task.start({ ...base, ...extra, 'flush.size': '4', 'topics.dir': dir }, sinkContext());
      task.open([{ topic: 'rc', partition: 3 }]);
      await task.put(all.slice(0, 10));
      await task.stop(); // crash: uploaded objects, no offset commit
      const before = await keys(`${dir}/`);
      expect(before.length).toBeGreaterThan(0);

      task = new S3SinkTask();
      await task.start({ ...base, ...extra, 'flush.size': '3', 'rotate.schedule.interval.ms': '60000', 'topics.dir': dir }, sinkContext());
      task.open([{ topic: 'rc', partition: 3 }]);
      await task.put(all); // delivered again from the committed offset (500), plus two new records
      await task.stop();
      const seen: number[] = [];
      for (const key of await keys(`${dir}/`)) {
        const text = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
        for (const line of text.split('\n').filter(Boolean)) seen.push((JSON.parse(line) as { n: number }).n);
      }
      const uploadedBefore = new Set(seen);
      expect(seen.length, dir).toBe(uploadedBefore.size); // no record twice
      expect((await keys(`${dir}/`)).filter((k) => before.includes(k)).length).toBe(before.length);
    }
  });

  it('a missing bucket and wrong credentials fail start with the field to fix; validation says the same', async () => {
    const missing = new S3SinkTask();
    const err = await missing.start({ ...base, 's3.bucket.name': uniqueName('nobucket'), 'flush.size': '1' }, sinkContext()).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/does not exist\. Create it, or fix s3\.bucket\.name/);
    expect((err as ConfigError).fields[0].name).toBe('s3.bucket.name');

    const denied = new S3SinkTask();
    const err2 = await denied.start({ ...base, 'aws.secret.access.key': 'wrong-secret', 'flush.size': '1' }, sinkContext()).catch((e) => e);
    expect(err2).toBeInstanceOf(ConfigError);
    expect(err2.message).toMatch(/access denied .*Check aws\.access\.key\.id and aws\.secret\.access\.key/);

    expect(await s3Sink.validate!({ ...base, 's3.bucket.name': 'no-such-bucket-here', 'flush.size': '1' })).toEqual([
      { name: 's3.bucket.name', message: expect.stringMatching(/does not exist/) },
    ]);
    expect(await s3Sink.validate!({ ...base, 'flush.size': '1' })).toEqual([]);
  });

  it('an unreachable endpoint is a RetriableError naming store.url (the runtime retries, then fails per errors.retry.timeout)', async () => {
    const task = new S3SinkTask();
    await task.start({ ...base, 'store.url': 'http://127.0.0.1:9', 's3.part.retries': '0', 'flush.size': '1' }, sinkContext());
    const err = await task.put(sinkRecords([{ a: 1 }], 'u', 0)).catch((e) => e);
    expect(err).toBeInstanceOf(RetriableError);
    expect(err.message).toMatch(/http:\/\/127\.0\.0\.1:9 cannot be reached .*Check store\.url/);
    // Nothing is lost: the record is not durable, so its offset is not committed.
    const flushed = await task.flush(new Map([['u-0', { topic: 'u', partition: 0, offset: 1 }]])).catch((e) => e);
    expect(flushed instanceof RetriableError || (flushed instanceof Map && !flushed.has('u-0'))).toBe(true);
    await task.stop();
  });
});

describe('S3 source on S3Proxy', () => {
  it('reads what the sink wrote, resumes mid-object after a restart and picks up a new object', async () => {
    const sink = new S3SinkTask();
    await sink.start({ ...base, 'flush.size': '5', 'topics.dir': 'src' }, sinkContext());
    await sink.put(sinkRecords(Array.from({ length: 10 }, (_, n) => ({ n })), 'ev', 0));
    const cfg = { ...base, topic: 'copy', prefix: 'src/ev/', 'key.pattern': '\\.json$', 'batch.size': '3', 'poll.interval.ms': '10' };
    const offsets = new MemoryOffsets();
    let source = new S3SourceTask();
    await source.start(cfg, sourceContext(offsets));
    const first = await source.poll(AbortSignal.timeout(500));
    expect(first.map((r) => r.value)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    offsets.commit(first.slice(0, 2)); // committed up to n=1; n=2 was polled but not committed
    await source.stop();

    source = new S3SourceTask();
    await source.start(cfg, sourceContext(offsets));
    const got: SourceRecord[] = [];
    for (let i = 0; i < 6; i++) got.push(...(await source.poll(AbortSignal.timeout(300))));
    expect(got.map((r) => (r.value as { n: number }).n)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    await sink.put(sinkRecords([{ n: 10 }, { n: 11 }, { n: 12 }, { n: 13 }, { n: 14 }], 'ev', 0, 10));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/ev/zz-notes.txt', Body: 'not json' }));
    const later: SourceRecord[] = [];
    for (let i = 0; i < 4; i++) later.push(...(await source.poll(AbortSignal.timeout(300))));
    expect(later.map((r) => (r.value as { n: number }).n)).toEqual([10, 11, 12, 13, 14]);
    await sink.stop();
    await source.stop();
  });
});
