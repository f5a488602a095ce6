// A record that does not fit the Parquet schema, in a real worker on real Kafka and S3Proxy: with
// errors.tolerance=all it goes to the dead-letter topic (with the reason in __connect.errors.*
// headers) and its neighbours are written; with tolerance none the task fails saying which column.
import { Admin } from '@platformatic/kafka';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaBus } from '../../../../runtime/engine/kafka-bus.ts';
import type { ConsumedRecord } from '../../../../runtime/engine/topic-bus.ts';
import { eventually, http, startWorkerProcess } from '../../../helpers/worker-process.ts';
import type { WorkerProcess } from '../../../helpers/worker-process.ts';
import { kafkaBrokers, services, uniqueName } from '../../../infra/env.ts';
import { s3Client } from '../../../infra/s3.ts';

const s3 = s3Client(services.s3);
const bucket = uniqueName('s3dlq');
const topic = uniqueName('s3dlq-in');
const dlq = uniqueName('s3dlq-dlq');
let worker: WorkerProcess | undefined;

afterAll(async () => {
  await worker?.stop();
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => null);
  for (const c of listed?.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: c.Key! }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  const admin = new Admin({ clientId: uniqueName('s3dlq-cleanup'), bootstrapBrokers: kafkaBrokers() });
  await admin.deleteTopics({ topics: [topic, dlq] }).catch(() => undefined);
  await admin.close();
  s3.destroy();
});

describe('S3 sink: a record that does not fit the Parquet schema', () => {
  it('goes to the DLQ with errors.tolerance=all, and fails the task naming the column with tolerance none', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const bus = new KafkaBus({ bootstrapServers: kafkaBrokers(), clientId: uniqueName('s3dlq') });
    await bus.start();
    const producer = bus.producer('s3dlq-producer');
    const values = [{ a: 1, b: 'x' }, { a: 'not a number', b: 'y' }, { a: 3, b: 'z' }];
    const sent = await producer.send(values.map((v) => ({ topic, kafkaPartition: 0, value: undefined, valueBytes: Buffer.from(JSON.stringify(v)) })));
    await sent.durable;

    worker = await startWorkerProcess({ env: { TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(',') } });
    const common = {
      'connector.class': 'S3SinkConnector', topics: topic, 'format.class': 'parquet', 'flush.size': '2',
      's3.bucket.name': bucket, 's3.region': services.s3.region, 'store.url': services.s3.endpoint,
      'aws.access.key.id': services.s3.accessKeyId, 'aws.secret.access.key': services.s3.secretAccessKey,
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false',
    };
    expect((await http('POST', `${worker.url}/connectors`, { name: 'tolerant', config: {
      ...common, 'topics.dir': 'tolerant', 'errors.tolerance': 'all', 'errors.deadletterqueue.topic.name': dlq, 'errors.deadletterqueue.context.headers.enable': 'true',
    } })).status).toBe(201);
    expect((await http('POST', `${worker.url}/connectors`, { name: 'strict', config: { ...common, 'topics.dir': 'strict' } })).status).toBe(201);

    const key = `tolerant/${topic}/partition=0/${topic}+0+0000000000.snappy.parquet`;
    const bytes: Uint8Array = await eventually(async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).catch(() => null);
      return got ? got.Body!.transformToByteArray() : null;
    }, 30_000, 'the Parquet object') as Uint8Array;
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    expect(rows).toEqual([{ a: 1, b: 'x' }, { a: 3, b: 'z' }]);

    const consumer = bus.consumer({ groupId: uniqueName('s3dlq-reader'), memberId: 'm', topics: [dlq] });
    try {
      const got: ConsumedRecord[] = [];
      const deadline = Date.now() + 30_000;
      while (got.length < 1 && Date.now() < deadline) got.push(...(await consumer.poll(10, 1000, new AbortController().signal)));
      expect(got.length).toBe(1);
      expect(JSON.parse(got[0].valueBytes!.toString())).toEqual(values[1]);
      const headers = Object.fromEntries((got[0].headers ?? []).map((h) => [h.key, String(h.value)]));
      expect(headers['__connect.errors.offset']).toBe('1');
      expect(headers['__connect.errors.exception.message']).toMatch(/does not fit the Parquet schema: column a: expected a number/);
    } finally {
      await consumer.close();
      await bus.close();
    }

    const failed = await eventually(async () => {
      const s = (await http('GET', `${worker!.url}/connectors/strict/status`)).body;
      return s?.tasks?.[0]?.state === 'FAILED' ? s.tasks[0] : null;
    }, 30_000, 'the strict sink task to fail');
    expect(failed.trace).toMatch(/column a: expected a number/);
    expect((await http('GET', `${worker.url}/connectors/tolerant/status`)).body.tasks[0].state).toBe('RUNNING');
  });
});
