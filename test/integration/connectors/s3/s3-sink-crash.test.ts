// The S3 sink on real Kafka and the real S3 server, in real worker processes: a worker running the
// sink is killed with SIGKILL twice mid-stream and restarted; afterwards every record is in S3
// exactly once, in objects named after their first offset, contiguous per partition.
import { Admin } from '@platformatic/kafka';
import {
  CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startWorkerProcess, tempDir } from '../../../helpers/worker-process.ts';
import type { WorkerProcess } from '../../../helpers/worker-process.ts';
import { kafkaBrokers, services, uniqueName } from '../../../infra/env.ts';
import { s3Client } from '../../../infra/s3.ts';

const s3 = s3Client(services.s3);
const bucket = uniqueName('s3sink-crash');
const topic = uniqueName('s3-seq');
const admin = new Admin({ clientId: 's3-crash-test', bootstrapBrokers: kafkaBrokers() });
const workers: WorkerProcess[] = [];

async function listAll(prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const c of page.Contents ?? []) keys.push(c.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function readObject(key: string): Promise<string> {
  return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
});

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) await w.kill9();
  for (const key of await listAll().catch(() => [])) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.close();
  s3.destroy();
});

describe('S3 sink: kill -9 mid-stream', () => {
  it('leaves exactly one copy of every record, in contiguous offset-named objects', async () => {
    const total = 20_000;
    const env = { TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(','), TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '200' };
    // The source runs in its own worker, never killed, so Kafka holds each record once.
    const sourceDir = tempDir('s3crash-src');
    mkdirSync(sourceDir, { recursive: true });
    writeFileSync(join(sourceDir, 'source.json'), JSON.stringify({
      name: `${topic}-source`,
      config: { 'connector.class': 'demo', topic, shape: 'sequence', rate: '4000', 'tasks.max': '2', 'max.records': String(total) },
    }));
    workers.push(await startWorkerProcess({ env: { ...env, TRIBUTARY_CONNECTORS_DIR: sourceDir } }));

    const sinkDir = tempDir('s3crash-sink');
    writeFileSync(join(sinkDir, 'sink.json'), JSON.stringify({
      name: `${topic}-sink`,
      config: {
        'connector.class': 'io.confluent.connect.s3.S3SinkConnector', topics: topic, 'tasks.max': '2',
        's3.bucket.name': bucket, 's3.region': services.s3.region, 'store.url': services.s3.endpoint,
        'aws.access.key.id': services.s3.accessKeyId, 'aws.secret.access.key': services.s3.secretAccessKey,
        'flush.size': '700', 'rotate.schedule.interval.ms': '1500',
      },
    }));
    const stateDir = tempDir('s3crash-state');
    let sink = await startWorkerProcess({ stateDir, env: { ...env, TRIBUTARY_CONNECTORS_DIR: sinkDir } });
    workers.push(sink);
    for (const atObjects of [4, 10]) {
      await eventually(async () => (await listAll()).length >= atObjects, 60_000, `${atObjects} objects before a crash`);
      await sink.kill9();
      sink = await startWorkerProcess({ stateDir, env: { ...env, TRIBUTARY_CONNECTORS_DIR: sinkDir } });
      workers.push(sink);
    }

    const seen = new Map<string, number>();
    const where = new Map<string, string[]>();
    await eventually(async () => {
      seen.clear();
      where.clear();
      for (const key of await listAll()) {
        for (const line of (await readObject(key)).split('\n')) {
          if (!line) continue;
          const v = JSON.parse(line) as { task: number; seq: number };
          const id = `${v.task}-${v.seq}`;
          seen.set(id, (seen.get(id) ?? 0) + 1);
          where.set(id, [...(where.get(id) ?? []), key.slice(key.lastIndexOf('/') + 1)]);
        }
      }
      return [...seen.values()].reduce((a, b) => a + b, 0) >= total;
    }, 90_000, `all ${total} records in S3`);
    expect(await sink.stop()).toBe(0);

    const copies = [...seen.values()];
    const twice = [...where].filter(([, keys]) => keys.length > 1);
    expect(twice.slice(0, 5), `records in more than one object (${twice.length}); worker log:\n${sink.output().slice(-3000)}`).toEqual([]);
    expect(copies.reduce((a, b) => a + b, 0)).toBe(total);
    expect(copies.filter((c) => c !== 1)).toEqual([]);
    for (const task of [0, 1]) for (let s = 0; s < total / 2; s++) expect(seen.has(`${task}-${s}`)).toBe(true);

    // Names: topics/<topic>/partition=<p>/<topic>+<p>+<start, 10 digits>.json, each starting where the previous ended.
    const keys = await listAll();
    const pattern = new RegExp(`^topics/${topic}/partition=(\\d)/${topic}\\+(\\d)\\+(\\d{10})\\.json$`);
    const byPartition = new Map<number, Array<{ start: number; key: string }>>();
    for (const key of keys) {
      const m = pattern.exec(key);
      expect(m, key).not.toBeNull();
      expect(m![1]).toBe(m![2]);
      const p = Number(m![1]);
      byPartition.set(p, [...(byPartition.get(p) ?? []), { start: Number(m![3]), key }]);
    }
    expect([...byPartition.keys()].sort()).toEqual([0, 1, 2]);
    let inObjects = 0;
    for (const objects of byPartition.values()) {
      objects.sort((a, b) => a.start - b.start);
      let next = 0;
      for (const o of objects) {
        expect(o.start, o.key).toBe(next);
        const n = (await readObject(o.key)).split('\n').filter(Boolean).length;
        expect(n).toBeLessThanOrEqual(700);
        next = o.start + n;
        inObjects += n;
      }
    }
    expect(inObjects).toBe(total);
  });
});
