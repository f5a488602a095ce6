// The sink runner on real Kafka hands a sink the value's JSON bytes as read (`valueJson`) exactly
// when they are the value: plain JSON (schemas.enable=false) and no transform. Envelopes and
// transformed records never carry them, so a sink writing them cannot write a stale value.
import { Admin } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger, SinkRecord, SinkTask } from '../../../runtime/api/index.ts';
import { JsonConverter } from '../../../runtime/converters/json-converter.ts';
import { StringConverter } from '../../../runtime/converters/string-converter.ts';
import { errorHandlingConfig } from '../../../runtime/engine/connector-config.ts';
import { ErrorHandler } from '../../../runtime/engine/error-handler.ts';
import { KafkaBus } from '../../../runtime/engine/kafka-bus.ts';
import { WorkerMetrics } from '../../../runtime/engine/metrics.ts';
import { SinkTaskRunner } from '../../../runtime/engine/worker-sink-task.ts';
import { eventually } from '../../helpers/worker-process.ts';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const topic = uniqueName('value-json');
const texts = ['{"id":1,"name":"a"}', '{ "id" : 2, "big": 12345678901234567890 }', '[1,2,3]', 'null'];
let bus: KafkaBus;

beforeAll(async () => {
  bus = new KafkaBus({ bootstrapServers: kafkaBrokers(), clientId: uniqueName('value-json') });
  await bus.start();
  const sent = await bus.producer('value-json').send(texts.map((t, i) => ({ topic, kafkaPartition: 0, value: undefined, keyBytes: Buffer.from(`k${i}`), valueBytes: Buffer.from(t) })));
  await sent.durable;
});

afterAll(async () => {
  await bus?.close();
  const admin = new Admin({ clientId: uniqueName('value-json-admin'), bootstrapBrokers: kafkaBrokers() });
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.close();
});

/** Runs a sink over the topic until it has every record, and returns what put() saw. */
async function deliver(schemasEnable: boolean, transformed: boolean): Promise<SinkRecord[]> {
  const seen: SinkRecord[] = [];
  const task: SinkTask = { async start() {}, async put(records) { seen.push(...records); }, async flush() {}, async stop() {} };
  const metrics = new WorkerMetrics();
  const runner = new SinkTaskRunner({
    connectorName: uniqueName('sink'), taskId: 0, task, taskConfig: {}, bus, topics: [topic],
    converters: { key: new StringConverter(), value: new JsonConverter({ schemasEnable }) },
    // A transform that copies the record and changes the value, as InsertField would.
    transform: transformed ? (r) => ({ ...r, value: { wrapped: r.value } }) : (r) => r,
    untransformed: !transformed,
    errors: new ErrorHandler({ config: errorHandlingConfig({ 'errors.tolerance': 'all' }), logger: quiet, connectorName: 'c', taskId: 0 }),
    logger: quiet, metrics, status: { onState() {}, onProgress() {}, onTopic() {} },
    offsetFlushIntervalMs: 1000, flushMaxRecords: 1000, maxPollRecords: 500,
  });
  await runner.start();
  try {
    await eventually(async () => (seen.length >= (schemasEnable ? 1 : texts.length) ? true : null), 30_000, 'records delivered to put()');
  } finally {
    await runner.stop();
  }
  return seen;
}

describe('SinkRecord.valueJson', () => {
  it('carries the bytes as read for plain JSON without transforms, and nothing for tombstone-like null', async () => {
    const seen = await deliver(false, false);
    expect(seen.map((r) => r.valueJson?.toString() ?? null)).toEqual([texts[0], texts[1], texts[2], null]);
    expect(seen[0].value).toEqual({ id: 1, name: 'a' });
    expect(seen[3].value).toBeNull();
  });

  it('is absent once a transform runs, even when it copies the record with a spread', async () => {
    const seen = await deliver(false, true);
    expect(seen.map((r) => r.valueJson)).toEqual([undefined, undefined, undefined, undefined]);
    expect(seen[0].value).toEqual({ wrapped: { id: 1, name: 'a' } });
  });

  it('is absent when the bytes are a schemas.enable envelope rather than the value', async () => {
    // The plain records above are not envelopes (tolerance all skips them); this one is.
    const sent = await bus.producer('value-json-env').send([{ topic, kafkaPartition: 0, value: undefined, valueBytes: Buffer.from('{"schema":{"type":"string","optional":false},"payload":"hello"}') }]);
    await sent.durable;
    const seen = await deliver(true, false);
    expect(seen.map((r) => [r.value, r.valueJson])).toEqual([['hello', undefined]]);
  });
});
