/**
 * Issue 6's benchmark: Kafka -> S3 sink -> S3Proxy, in a real worker process.
 *
 * N records of ~500 bytes are produced to a 4-partition Kafka topic first (once per format:
 * schemaless JSON for JSON lines, Connect schema envelopes for Parquet). Then, per run:
 * - ceiling: the same bytes consumed from Kafka by a plain @platformatic/kafka consumer loop and
 *   PUT to the same S3 endpoint as objects of the same size (the values joined by newlines),
 *   uploaded as `@aws-sdk/lib-storage` multipart uploads of the same part size;
 * - ours: a worker running the S3 sink (1 task), records/s from connector creation until every
 *   record is in an uploaded object (summed from the objects' record-count metadata), and the
 *   worker's peak RSS.
 *
 * Needs the test services (`npm run services:up`). Prints medians; never fails on a time.
 *   node bench/s3-sink.ts            BENCH_RECORDS=1000000 BENCH_RUNS=1 by default;
 *   BENCH_FLUSH_SIZE (N/20: five objects per partition), BENCH_FORMATS=json,passthrough,parquet,
 *   BENCH_BUFFER_MAX_BYTES (the sink's s3.buffer.max.bytes; its default when unset)
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaBrokers, services, uniqueName } from '../test/infra/env.ts';
import { median, printTable, rssOf, spawnWorker, stopChild, waitHealthy } from './lib.ts';
import { freePortSync } from './ports.ts';

const N = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
// Each partition gets exactly N / PARTITIONS records: five full objects each, so no tail waits for a timer.
const PARTITIONS = 4;
const FLUSH_SIZE = Number(process.env.BENCH_FLUSH_SIZE ?? Math.max(1, Math.floor(N / PARTITIONS / 5)));
const FORMATS = (process.env.BENCH_FORMATS ?? 'json,passthrough,parquet').split(',');
const PART_SIZE = 5 * 1024 * 1024;

const s3 = new S3Client({
  endpoint: services.s3.endpoint,
  region: services.s3.region,
  forcePathStyle: true,
  credentials: { accessKeyId: services.s3.accessKeyId, secretAccessKey: services.s3.secretAccessKey },
});

const SCHEMA = {
  type: 'struct', name: 'bench.Row', optional: false,
  fields: [
    { field: 'id', type: 'int64', optional: false },
    { field: 'name', type: 'string', optional: false },
    { field: 'email', type: 'string', optional: false },
    { field: 'amount', type: 'float64', optional: false },
    { field: 'note', type: 'string', optional: true },
    { field: 'updated_at', type: 'int64', optional: false, name: 'org.apache.kafka.connect.data.Timestamp', version: 1 },
  ],
};

function row(i: number): Record<string, unknown> {
  return { id: i, name: `name ${i}`, email: `user${i}@example.com`, amount: i * 1.25, note: 'x'.repeat(380), updated_at: 1_764_000_000_000 + i };
}

async function produce(topic: string, withSchema: boolean): Promise<number> {
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: kafkaBrokers() });
  await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  await admin.close();
  const producer = new Producer({ clientId: 'bench-producer', bootstrapBrokers: kafkaBrokers() });
  let bytes = 0;
  const BATCH = 1000; // under the broker's message.max.bytes per partition batch
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < N; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      const value = Buffer.from(JSON.stringify(withSchema ? { schema: SCHEMA, payload: row(j) } : row(j)));
      bytes += value.length;
      messages.push({ topic, key: Buffer.from(String(j)), value, partition: j % PARTITIONS });
    }
    inFlight.push(producer.send({ messages }));
    if (inFlight.length >= 8) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.close();
  return bytes / N;
}

async function listKeys(bucket: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const c of page.Contents ?? []) out.push(c.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function emptyBucket(bucket: string): Promise<void> {
  for (const k of await listKeys(bucket)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** The plain loop: consume every value, join FLUSH_SIZE of them per partition with newlines, PUT. */
async function ceiling(topic: string): Promise<number> {
  const bucket = uniqueName('bench-ceiling');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const consumer = new Consumer({ groupId: uniqueName('bench-ceiling'), clientId: 'bench-ceiling', bootstrapBrokers: kafkaBrokers(), maxBytes: 8 * 1024 * 1024, maxWaitTime: 100 });
  const started = performance.now();
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  const pending = new Map<number, { chunks: Buffer[]; start: number }>();
  const uploads: Promise<unknown>[] = [];
  let done = 0;
  const put = (p: number, b: { chunks: Buffer[]; start: number }) => {
    const body = Buffer.concat(b.chunks);
    const key = `topics/${topic}/partition=${p}/${topic}+${p}+${String(b.start).padStart(10, '0')}.json`;
    return new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body }, partSize: PART_SIZE, queueSize: 4 }).done();
  };
  const NL = Buffer.from('\n');
  for await (const m of stream as AsyncIterable<{ partition: number; offset: bigint; value: Buffer }>) {
    let b = pending.get(m.partition);
    if (!b) pending.set(m.partition, (b = { chunks: [], start: Number(m.offset) }));
    b.chunks.push(m.value, NL);
    if (b.chunks.length >= FLUSH_SIZE * 2) {
      pending.delete(m.partition);
      uploads.push(put(m.partition, b));
      if (uploads.length >= 2) await uploads.shift();
    }
    if (++done >= N) break;
  }
  for (const [p, b] of pending) uploads.push(put(p, b));
  await Promise.all(uploads);
  const secs = (performance.now() - started) / 1000;
  await stream.close();
  await consumer.close();
  await emptyBucket(bucket);
  return N / secs;
}

type Variant = 'json' | 'parquet' | 'passthrough';

async function ours(topic: string, format: Variant): Promise<{ rate: number; peakMb: number }> {
  const bucket = uniqueName(`bench-${format}`);
  // A new connector name (so a new consumer group) each run: a second run under the same name
  // resumed at the first one's committed offsets, found nothing to read and waited for ever.
  const name = uniqueName(`bench-${format}`);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const dir = mkdtempSync(join(tmpdir(), 'bench-s3-'));
  const port = freePortSync();
  const child = spawnWorker({ TRIBUTARY_REST_PORT: String(port), TRIBUTARY_STATE_DIR: join(dir, 'state'), TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(',') });
  const url = `http://127.0.0.1:${port}`;
  const counts = new Map<string, number>();
  let peakMb = 0;
  try {
    await waitHealthy(url);
    const started = performance.now();
    const res = await fetch(`${url}/connectors`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, config: {
        'connector.class': 'S3SinkConnector', topics: topic, 'tasks.max': '1',
        's3.bucket.name': bucket, 's3.region': services.s3.region, 'store.url': services.s3.endpoint,
        'aws.access.key.id': services.s3.accessKeyId, 'aws.secret.access.key': services.s3.secretAccessKey,
        'flush.size': String(FLUSH_SIZE), 's3.part.size': String(PART_SIZE),
        ...(format === 'passthrough'
          ? { 'format.class': 'bytes', 'format.bytearray.extension': '.json', 'value.converter': 'org.apache.kafka.connect.converters.ByteArrayConverter' }
          : { 'format.class': format, 'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': String(format === 'parquet') }),
        'key.converter': 'org.apache.kafka.connect.converters.ByteArrayConverter', 'consumer.max.poll.records': '5000',
        ...(process.env.BENCH_BUFFER_MAX_BYTES ? { 's3.buffer.max.bytes': process.env.BENCH_BUFFER_MAX_BYTES } : {}),
      } }),
    });
    if (res.status !== 201) throw new Error(`cannot create the sink: ${res.status} ${await res.text()}`);
    let total = 0;
    while (total < N) {
      peakMb = Math.max(peakMb, rssOf(child.pid!).rssMb);
      for (const key of await listKeys(bucket)) {
        if (counts.has(key)) continue;
        // S3Proxy's filesystem store can list a key a moment before HEAD finds it: try again next round.
        const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => null);
        if (h) counts.set(key, Number(h.Metadata?.['record-count'] ?? 0));
      }
      total = [...counts.values()].reduce((a, b) => a + b, 0);
      const status = await (await fetch(`${url}/connectors/${name}/status`)).json() as { tasks: Array<{ state: string; trace?: string }> };
      if (status.tasks?.[0]?.state === 'FAILED') throw new Error(`sink failed: ${status.tasks[0].trace}`);
      if (total < N) await new Promise((r) => setTimeout(r, 200));
    }
    return { rate: N / ((performance.now() - started) / 1000), peakMb: Math.max(peakMb, rssOf(child.pid!).peakMb) };
  } finally {
    await stopChild(child);
    await emptyBucket(bucket).catch(() => undefined);
  }
}

export async function run(): Promise<void> {
  const jsonTopic = uniqueName('bench-s3-json');
  const pqTopic = uniqueName('bench-s3-parquet');
  console.log(`s3 sink: ${N.toLocaleString('en-US')} records, ${RUNS} run(s), medians; flush.size ${FLUSH_SIZE}, s3.part.size ${PART_SIZE / 1024 / 1024} MiB, ${PARTITIONS} partitions`);
  const jsonBytes = FORMATS.includes('json') || FORMATS.includes('passthrough') ? await produce(jsonTopic, false) : 0;
  const pqBytes = FORMATS.includes('parquet') ? await produce(pqTopic, true) : 0;
  console.log(`produced: ${Math.round(jsonBytes)} B per schemaless JSON record, ${Math.round(pqBytes)} B per schema-envelope record`);
  const rows: Array<Record<string, string | number>> = [];
  for (const [format, topic] of [['json', jsonTopic], ['passthrough', jsonTopic], ['parquet', pqTopic]] as const) {
    if (!FORMATS.includes(format)) continue;
    const c: number[] = [];
    const o: Array<{ rate: number; peakMb: number }> = [];
    for (let i = 0; i < RUNS; i++) {
      c.push(await ceiling(topic));
      console.error(`  ${format} run ${i + 1}: ceiling ${Math.round(c[i])} records/s`);
      o.push(await ours(topic, format));
      console.error(`  ${format} run ${i + 1}: ours ${Math.round(o[i].rate)} records/s (${(o[i].rate / c[i]).toFixed(2)}), peak RSS ${Math.round(o[i].peakMb)} MB`);
    }
    const cm = median(c);
    const om = median(o.map((x) => x.rate));
    rows.push({ what: `ceiling: consume + PUT loop (${format} topic)`, 'records/s': Math.round(cm), 'peak RSS MB': '-', ratio: '-' });
    const label = { json: 'JSON lines (JsonConverter + JsonFormat)', passthrough: 'JSON lines passed through (ByteArrayConverter + bytes, .json)', parquet: 'Parquet (snappy)' }[format];
    // The figure is the ratio within each run (the ceiling moves with the machine's load), then its median.
    rows.push({ what: `tributary S3 sink, ${label}`, 'records/s': Math.round(om), 'peak RSS MB': Math.round(median(o.map((x) => x.peakMb))), ratio: median(o.map((x, i) => x.rate / c[i])).toFixed(2) });
  }
  printTable('Kafka -> S3 (S3Proxy), 1 sink task (goal: JSON lines >= 0.70 of the ceiling)', rows);
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: kafkaBrokers() });
  await admin.deleteTopics({ topics: [jsonTopic, pqTopic] }).catch(() => undefined);
  await admin.close();
  s3.destroy();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
