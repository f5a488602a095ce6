// Bad input seen from a real worker's REST API: a missing bucket is refused at validation (and a
// task started against one fails with the field to fix: s3-store.test.ts); an unreachable endpoint
// is retried for errors.retry.timeout and then fails the task with a trace naming store.url.
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, http, startWorkerProcess } from '../../../helpers/worker-process.ts';
import type { WorkerProcess } from '../../../helpers/worker-process.ts';
import { services, uniqueName } from '../../../infra/env.ts';

const workers: WorkerProcess[] = [];
afterAll(async () => {
  for (const w of workers) await w.stop();
});

const creds = {
  's3.region': services.s3.region,
  'aws.access.key.id': services.s3.accessKeyId,
  'aws.secret.access.key': services.s3.secretAccessKey,
};

describe('S3 sink bad input in a worker', () => {
  it('missing bucket: validation and PUT name s3.bucket.name; unreachable endpoint: the task FAILS after the retry timeout', async () => {
    const w = await startWorkerProcess();
    workers.push(w);
    const bucket = uniqueName('missing');
    const sinkConfig = {
      'connector.class': 'S3SinkConnector', topics: 'gen', 'flush.size': '10',
      's3.bucket.name': bucket, 'store.url': services.s3.endpoint, ...creds,
    };
    const validated = await http('PUT', `${w.url}/connector-plugins/S3SinkConnector/config/validate`, { name: 'lake', ...sinkConfig });
    expect(validated.status).toBe(200);
    expect(validated.body.error_count).toBeGreaterThan(0);
    const bucketField = validated.body.configs.find((c: { value: { name: string } }) => c.value.name === 's3.bucket.name');
    expect(bucketField.value.errors.join(' ')).toMatch(new RegExp(`bucket ${bucket} does not exist`));

    const refused = await http('PUT', `${w.url}/connectors/lake/config`, sinkConfig);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/s3\.bucket\.name: .*does not exist/);

    // An endpoint that is down is not a config error (it may come back): the connector is created,
    // its task retries uploads for errors.retry.timeout, then FAILS naming store.url.
    await http('POST', `${w.url}/connectors`, { name: 'gen', config: { 'connector.class': 'demo', topic: 'gen', shape: 'sequence', rate: '200' } });

    const created = await http('PUT', `${w.url}/connectors/down/config`, {
      ...sinkConfig, 's3.bucket.name': 'any', 'store.url': 'http://127.0.0.1:9', 's3.part.retries': '0',
      'errors.retry.timeout': '1500', 'errors.retry.delay.max.ms': '200',
    });
    expect(created.status).toBe(201);
    const down = await eventually(async () => {
      const s = (await http('GET', `${w.url}/connectors/down/status`)).body;
      return s?.tasks?.[0]?.state === 'FAILED' ? s.tasks[0] : null;
    }, 30_000, 'the unreachable sink task to fail');
    expect(down.trace).toMatch(/http:\/\/127\.0\.0\.1:9 cannot be reached .*Check store\.url/);
  });
});
