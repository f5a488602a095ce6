// The S3 source in a real worker: kill -9 while it is in the middle of an object, restart, and
// every line of every object arrives (no gap); what is read again starts at the committed
// position inside that object, not at its start.
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, startWorkerProcess, tempDir } from '../../../helpers/worker-process.ts';
import type { WorkerProcess } from '../../../helpers/worker-process.ts';
import { services, uniqueName } from '../../../infra/env.ts';
import { s3Client } from '../../../infra/s3.ts';

const s3 = s3Client(services.s3);
const bucket = uniqueName('s3src-crash');
const keys = ['in/a.json', 'in/b.json', 'in/c.json'];
const PER_OBJECT = 60_000;
const workers: WorkerProcess[] = [];

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) await w.kill9();
  for (const k of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k })).catch(() => undefined);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  s3.destroy();
});

function readIds(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
}

describe('S3 source: kill -9 mid-object', () => {
  it('resumes inside the object from the committed position: no line is missing', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [n, key] of keys.entries()) {
      const body = Array.from({ length: PER_OBJECT }, (_, j) => JSON.stringify({ i: n * PER_OBJECT + j, pad: 'p'.repeat(40) })).join('\n') + '\n';
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    }
    const total = keys.length * PER_OBJECT;
    const connectors = tempDir('s3src-connectors');
    const out = join(tempDir('s3src-out'), 'copy.jsonl');
    writeFileSync(join(connectors, 'source.json'), JSON.stringify({ name: 'from-s3', config: {
      'connector.class': 'S3SourceConnector', topic: 'copied', prefix: 'in/', 'batch.size': '500',
      's3.bucket.name': bucket, 's3.region': services.s3.region, 'store.url': services.s3.endpoint,
      'aws.access.key.id': services.s3.accessKeyId, 'aws.secret.access.key': services.s3.secretAccessKey,
    } }));
    writeFileSync(join(connectors, 'sink.json'), JSON.stringify({ name: 'to-file', config: { 'connector.class': 'FileStreamSink', topics: 'copied', file: out } }));
    const stateDir = tempDir('s3src-state');
    // Offsets committed every 20 ms, and an in-process topic of 100 records (the sink syncs every
    // 50): the pipeline reads the second object over dozens of commits (~35 here), however fast
    // the machine. With 200 ms and the default topic, a fast run read it whole between two
    // commits and the crash point below never came.
    const env = { TRIBUTARY_CONNECTORS_DIR: connectors, TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '20', TRIBUTARY_MEMORY_TOPIC_CAPACITY: '100' };

    let w = await startWorkerProcess({ stateDir, env });
    workers.push(w);
    // Crash once a position inside the second object is committed, so the restart must resume there.
    const committedInB = (): number => {
      const log = existsSync(join(stateDir, 'offsets.log')) ? readFileSync(join(stateDir, 'offsets.log'), 'utf8') : '';
      const positions = [...log.matchAll(/"key":"in\/b\.json","position":(\d+)/g)].map((m) => Number(m[1]));
      return positions.length ? Math.max(...positions) : 0;
    };
    await eventually(async () => committedInB() > 0, 60_000, 'a committed position inside the second object');
    await w.kill9();
    const committed = committedInB();

    w = await startWorkerProcess({ stateDir, env });
    workers.push(w);
    await eventually(async () => new Set(readIds(out)).size >= total, 60_000, 'every line');
    expect(await w.stop()).toBe(0);
    const ids = readIds(out);
    const unique = new Set(ids);
    const missing: number[] = [];
    for (let i = 0; i < total; i++) if (!unique.has(i)) missing.push(i);
    expect(missing.slice(0, 10)).toEqual([]);
    // Nothing before the committed position was read again: not the first object, and not the
    // lines of the second object up to that byte position.
    let firstUncommitted = PER_OBJECT;
    for (let bytes = 0; ; firstUncommitted++) {
      bytes += JSON.stringify({ i: firstUncommitted, pad: 'p'.repeat(40) }).length + 1;
      if (bytes > committed) break;
    }
    expect(firstUncommitted).toBeGreaterThan(PER_OBJECT);
    const counts = new Map<number, number>();
    for (const i of ids) counts.set(i, (counts.get(i) ?? 0) + 1);
    const repeated = [...counts].filter(([, c]) => c > 1).map(([i]) => i).sort((a, b) => a - b);
    expect(repeated.filter((i) => i < firstUncommitted).slice(0, 10)).toEqual([]);
  });
});
