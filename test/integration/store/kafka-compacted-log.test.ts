import { Admin, ConfigResourceTypes, Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPartition } from '../../../runtime/engine/kafka/codec.ts';
import type { LogValue, RecordMeta } from '../../../runtime/store/compacted-log.ts';
import { ConfigStore } from '../../../runtime/store/config-store.ts';
import { InternalTopicError, KafkaCompactedLog } from '../../../runtime/store/kafka-compacted-log.ts';
import { OffsetStore } from '../../../runtime/store/offset-store.ts';
import { StatusStore } from '../../../runtime/store/status-store.ts';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';
import { captureLogger } from '../../unit/store/helpers.ts';

const brokers = kafkaBrokers();
const created: string[] = [];
let admin: Admin;

function topicName(prefix: string): string {
  const name = uniqueName(prefix);
  created.push(name);
  return name;
}

function open(topic: string, partitions: number): KafkaCompactedLog {
  return new KafkaCompactedLog({ bootstrapBrokers: brokers, topic, partitions, replicationFactor: 1, logger: captureLogger(), fetchMaxWaitMs: 200 });
}

beforeAll(() => {
  admin = new Admin({ clientId: 'kafka-log-test-admin', bootstrapBrokers: brokers });
});

afterAll(async () => {
  const existing = new Set(await admin.listTopics());
  const mine = created.filter((t) => existing.has(t));
  if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  await admin.close();
});

describe('KafkaCompactedLog', () => {
  it('creates a compacted topic with the given partitions and writes keys and JSON values as Kafka Connect does', async () => {
    const topic = topicName('tributary-log-offsets');
    const log = open(topic, 25);
    const seen: Array<[string, LogValue, RecordMeta]> = [];
    log.subscribe((key, value, meta) => seen.push([key, value, meta]));
    await log.start();
    try {
      const [config] = await admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['cleanup.policy'] }],
      });
      expect(config.configs.find((c) => c.name === 'cleanup.policy')?.value).toBe('compact');
      const md = await admin.metadata({ topics: [topic] });
      expect(md.topics.get(topic)?.partitionsCount).toBe(25);

      const key = '["file-source",{"filename":"/data/a.txt"}]';
      await log.appendAll([
        { key, value: { position: 42 } },
        { key: 'other', value: null },
      ]);
      await log.readToEnd();
      expect(seen.map(([k, v]) => [k, v])).toEqual(
        expect.arrayContaining([
          [key, { position: 42 }],
          ['other', null],
        ]),
      );
      // The Java producer's partition for the key bytes.
      expect(seen.find(([k]) => k === key)![2].partition).toBe(keyPartition(Buffer.from(key), 25));

      // Records another client wrote the way Connect writes them (string key, JSON text value, null tombstone) read back.
      const producer = new Producer({ clientId: 'kafka-log-test-producer', bootstrapBrokers: brokers });
      try {
        const k = Buffer.from('["conn",{"p":1}]');
        await producer.send({
          messages: [
            { topic, partition: keyPartition(k, 25), key: k, value: Buffer.from('{"o":7}') },
            { topic, partition: keyPartition(k, 25), key: k, value: null as unknown as Buffer },
          ],
        });
      } finally {
        await producer.close();
      }
      await log.readToEnd();
      expect(seen.slice(-2).map(([k, v]) => [k, v])).toEqual([
        ['["conn",{"p":1}]', { o: 7 }],
        ['["conn",{"p":1}]', null],
      ]);
    } finally {
      await log.close();
    }
  });

  it('refuses an existing topic that is not compacted, naming it and saying what to do', async () => {
    const topic = topicName('tributary-log-deleting');
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: [{ name: 'cleanup.policy', value: 'delete' }] });
    const log = open(topic, 1);
    const error = await log.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InternalTopicError);
    expect((error as Error).message).toContain(topic);
    expect((error as Error).message).toContain('cleanup.policy=delete');
    expect((error as Error).message).toMatch(/cleanup\.policy=compact/);
    await expect(log.append('k', 1)).rejects.toThrow(/closed/);
  });

  it('refuses a config topic with more than one partition', async () => {
    const topic = topicName('tributary-log-multi');
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] });
    await expect(open(topic, 1).start()).rejects.toThrow(/exactly 1/);
  });

  it('readToEnd resolves once everything written before it (by anyone) was delivered', async () => {
    const topic = topicName('tributary-log-status');
    const writer = open(topic, 5);
    const reader = open(topic, 5);
    const seen = new Map<string, LogValue>();
    reader.subscribe((key, value) => seen.set(key, value));
    await Promise.all([writer.start(), reader.start()]);
    try {
      const n = 500;
      // Many concurrent appends (batched together), then one readToEnd on another instance.
      const t0 = performance.now();
      await Promise.all(Array.from({ length: n }, (_, i) => writer.append(`k-${i}`, { i })));
      const appended = performance.now();
      await reader.readToEnd();
      const read = performance.now();
      expect(seen.size).toBe(n);
      for (let i = 0; i < n; i++) expect(seen.get(`k-${i}`)).toEqual({ i });
      console.log(`[kafka log] ${n} concurrent appends acknowledged in ${(appended - t0).toFixed(0)} ms; another instance's readToEnd ${(read - appended).toFixed(0)} ms`);

      // A readToEnd with nothing new resolves at once (one ListOffsets round trip).
      const t1 = performance.now();
      await reader.readToEnd();
      console.log(`[kafka log] readToEnd with nothing new: ${(performance.now() - t1).toFixed(1)} ms`);

      // A fresh instance replays everything in start().
      const late = open(topic, 5);
      const replayed = new Map<string, LogValue>();
      late.subscribe((key, value) => replayed.set(key, value));
      const t2 = performance.now();
      await late.start();
      console.log(`[kafka log] start() replaying ${n} records over 5 partitions: ${(performance.now() - t2).toFixed(0)} ms`);
      expect(replayed).toEqual(seen);
      await late.close();
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
    await expect(reader.readToEnd()).rejects.toThrow(/closed/);
  });
});

describe('the stores over Kafka', () => {
  it('ConfigStore: two workers see each other\'s writes; task configs apply at their commit; a restart reads the state back', async () => {
    const topic = topicName('tributary-configs');
    const a = new ConfigStore(open(topic, 1), { logger: captureLogger() });
    const b = new ConfigStore(open(topic, 1), { logger: captureLogger() });
    await Promise.all([a.start(), b.start()]);
    try {
      await a.putConnectorConfig('orders', { 'connector.class': 'demo', 'tasks.max': '2' });
      await b.putTargetState('orders', 'PAUSED');
      await b.putTaskConfigs('orders', [{ task: '0' }, { task: '1' }]);
      await a.putConnectorConfig('gone', { 'connector.class': 'demo' });
      await a.removeConnector('gone');
      for (const s of [a, b]) {
        // Writes resolve once read back by their writer; the other store catches up with its log.
        await s.putTargetState('orders', 'PAUSED');
        const snap = s.snapshot();
        expect(snap.connectors.get('orders')).toEqual({ 'connector.class': 'demo', 'tasks.max': '2' });
        expect(snap.targetStates.get('orders')).toBe('PAUSED');
        expect(snap.taskConfigs.get('orders')).toEqual([{ task: '0' }, { task: '1' }]);
        expect(snap.connectors.has('gone')).toBe(false);
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const again = new ConfigStore(open(topic, 1), { logger: captureLogger() });
    await again.start();
    try {
      const snap = again.snapshot();
      expect([...snap.connectors.keys()]).toEqual(['orders']);
      expect(snap.targetStates.get('orders')).toBe('PAUSED');
      expect(snap.taskConfigs.get('orders')).toEqual([{ task: '0' }, { task: '1' }]);
    } finally {
      await again.close();
    }
  });

  it('OffsetStore: offsets written by one worker are read by another and after a restart; null resets', async () => {
    const topic = topicName('tributary-offsets');
    const a = new OffsetStore(open(topic, 25), { logger: captureLogger() });
    const b = new OffsetStore(open(topic, 25), { logger: captureLogger() });
    await Promise.all([a.start(), b.start()]);
    try {
      await a.set('src', [
        { partition: { file: 'a' }, offset: { pos: 1 } },
        { partition: { file: 'b' }, offset: { pos: 2 } },
      ]);
      await a.set('src', [{ partition: { file: 'a' }, offset: { pos: 10 } }]);
      await b.set('other', [{ partition: { table: 't' }, offset: { lsn: '0/16' } }]);
      expect(await b.get('src', { file: 'a' })).toEqual({ pos: 10 });
      expect(await a.get('other', { table: 't' })).toEqual({ lsn: '0/16' });
      await b.set('src', [{ partition: { file: 'b' }, offset: null }]);
      expect(await a.getAll('src')).toEqual([{ partition: { file: 'a' }, offset: { pos: 10 } }]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const again = new OffsetStore(open(topic, 25), { logger: captureLogger() });
    await again.start();
    try {
      expect(await again.getAll('src')).toEqual([{ partition: { file: 'a' }, offset: { pos: 10 } }]);
      expect((await again.connectors()).sort()).toEqual(['other', 'src']);
    } finally {
      await again.close();
    }
  });

  it('StatusStore: statuses are visible from every worker and after a restart; newer generations win safe puts', async () => {
    const topic = topicName('tributary-status');
    const logA = open(topic, 5);
    const a = new StatusStore(logA, { logger: captureLogger() });
    const b = new StatusStore(open(topic, 5), { logger: captureLogger() });
    await Promise.all([a.start(), b.start()]);
    try {
      await a.putConnector('c', { state: 'RUNNING', workerId: 'w1:8083', generation: 1 });
      await a.putTask('c', 0, { state: 'RUNNING', workerId: 'w1:8083', generation: 1 });
      await b.putTask('c', 1, { state: 'FAILED', trace: 'Error: boom', workerId: 'w2:8083', generation: 2 });
      await b.putTask('c', 0, { state: 'RUNNING', workerId: 'w2:8083', generation: 2 }, { safe: true });
      // Another worker's writes arrive through the log.
      await logA.readToEnd();
      expect(await a.putTask('c', 0, { state: 'FAILED', workerId: 'w1:8083', generation: 1 }, { safe: true })).toBe(false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const again = new StatusStore(open(topic, 5), { logger: captureLogger() });
    await again.start();
    try {
      expect(again.getConnector('c')).toEqual({ state: 'RUNNING', workerId: 'w1:8083', generation: 1 });
      expect(again.getTasks('c')).toEqual([
        { id: 0, state: 'RUNNING', workerId: 'w2:8083', generation: 2 },
        { id: 1, state: 'FAILED', trace: 'Error: boom', workerId: 'w2:8083', generation: 2 },
      ]);
    } finally {
      await again.close();
    }
  });
});
