// An S3 sink on an in-process topic (standalone, no Kafka) commits nothing until an object of
// flush.size records is uploaded. With flush.size well above the topic's capacity, the topic must
// still let the source run ahead while the sink reads: this pipeline stalled at `capacity` records
// when backpressure counted only what the topic held.
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, http, startWorkerProcess } from '../../../helpers/worker-process.ts';
import type { WorkerProcess } from '../../../helpers/worker-process.ts';
import { services, uniqueName } from '../../../infra/env.ts';
import { s3Client } from '../../../infra/s3.ts';

const s3 = s3Client(services.s3);
const bucket = uniqueName('s3-holdback');
const workers: WorkerProcess[] = [];

async function keys(): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  for (const w of workers) await w.stop();
  for (const key of await keys().catch(() => [])) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
});

describe('S3 sink on an in-process topic', () => {
  it('uploads objects of flush.size records when flush.size is 10x the topic capacity, and the source offsets follow them', async () => {
    const w = await startWorkerProcess({ env: { TRIBUTARY_MEMORY_TOPIC_CAPACITY: '100', TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '100' } });
    workers.push(w);
    const sink = await http('POST', `${w.url}/connectors`, {
      name: 'lake',
      config: {
        'connector.class': 'S3SinkConnector', topics: 'seq', 'flush.size': '1000', 's3.bucket.name': bucket,
        'store.url': services.s3.endpoint, 's3.region': services.s3.region,
        'aws.access.key.id': services.s3.accessKeyId, 'aws.secret.access.key': services.s3.secretAccessKey,
      },
    });
    expect(sink.status).toBe(201);
    await http('POST', `${w.url}/connectors`, {
      name: 'seq', config: { 'connector.class': 'demo', topic: 'seq', shape: 'sequence', rate: '0', 'max.records': '3000' },
    });
    const objects = (await eventually(async () => {
      const k = await keys();
      return k.length >= 3 ? k : null;
    }, 30_000, 'three objects of 1,000 records (no rotation by time is configured)'))!;
    expect(objects).toHaveLength(3);
    const seqs: number[] = [];
    for (const key of objects) {
      const lines = (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString()).split('\n').filter(Boolean);
      expect(lines).toHaveLength(1000);
      for (const line of lines) seqs.push((JSON.parse(line) as { seq: number }).seq);
    }
    expect(seqs.sort((a, b) => a - b)).toEqual([...Array(3000).keys()]);
    // Every record is durable now: the source's committed offset is the next record after the last.
    const offsets = await eventually(async () => {
      await http('PUT', `${w.url}/connectors/seq/stop`);
      const o = await http('GET', `${w.url}/connectors/seq/offsets`);
      return o.status === 200 && o.body.offsets.length > 0 ? o.body.offsets : null;
    }, 15_000, 'the stopped source to report its offsets');
    expect(offsets[0].offset.seq).toBe(3000);
  });
});
