// The test Kafka is a real broker: records go through a Producer and come back through a group
// Consumer, and a compacted topic created with Admin reports its cleanup.policy.
import {
  Admin, ConfigResourceTypes, Consumer, FetchIsolationLevels, MessagesStreamModes, Producer, ProduceAcks, stringDeserializers, stringSerializers,
} from '@platformatic/kafka';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { kafkaBrokers, services, uniqueName } from '../../infra/env.ts';

const brokers = kafkaBrokers();
const created: string[] = [];
const admin = new Admin({ clientId: uniqueName('smoke-admin'), bootstrapBrokers: brokers });

afterAll(async () => {
  if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.close();
});

describe('kafka (smoke)', () => {
  it('is the broker the global setup provided', () => {
    expect(inject('tributaryServices').kafka.bootstrapServers).toBe(services.kafka.bootstrapServers);
  });

  it('produces and consumes records through a consumer group', async () => {
    const topic = uniqueName('smoke-roundtrip');
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    created.push(topic);

    const producer = new Producer({ clientId: uniqueName('smoke-producer'), bootstrapBrokers: brokers, serializers: stringSerializers });
    const sent = Array.from({ length: 10 }, (_, i) => ({ topic, key: `key-${i}`, value: `value-${i}` }));
    try {
      const result = await producer.send({ messages: sent, acks: ProduceAcks.ALL });
      expect(result.offsets?.length ?? 0).toBeGreaterThan(0);
    } finally {
      await producer.close();
    }

    const consumer = new Consumer({
      clientId: uniqueName('smoke-consumer'),
      groupId: uniqueName('smoke-group'),
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
      maxWaitTime: 500,
    });
    const received = new Map<string, string>();
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
      for await (const message of stream) {
        received.set(message.key, message.value);
        if (received.size === sent.length) break;
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    expect(Object.fromEntries(received)).toEqual(Object.fromEntries(sent.map((m) => [m.key, m.value])));
  });

  it('runs transactions on the single node: a read_committed consumer sees the committed record, not the aborted one', async () => {
    const topic = uniqueName('smoke-tx');
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    created.push(topic);

    const producer = new Producer({
      clientId: uniqueName('smoke-tx-producer'),
      bootstrapBrokers: brokers,
      serializers: stringSerializers,
      transactionalId: uniqueName('smoke-tx-id'),
      idempotent: true,
      acks: ProduceAcks.ALL,
    });
    try {
      const aborted = await producer.beginTransaction();
      await aborted.send({ messages: [{ topic, key: 'aborted', value: 'never visible' }] });
      await aborted.abort();
      const committed = await producer.beginTransaction();
      await committed.send({ messages: [{ topic, key: 'committed', value: 'visible' }] });
      await committed.commit();
    } finally {
      await producer.close();
    }

    const consumer = new Consumer({
      clientId: uniqueName('smoke-tx-consumer'),
      groupId: uniqueName('smoke-tx-group'),
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      maxWaitTime: 500,
    });
    const keys: string[] = [];
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
      for await (const message of stream) {
        keys.push(message.key);
        if (message.key === 'committed') break;
      }
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    expect(keys).toEqual(['committed']);
  });

  it('creates a compacted topic and reads its cleanup.policy back', async () => {
    const topic = uniqueName('smoke-compacted');
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] });
    created.push(topic);

    const [description] = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['cleanup.policy'] }],
    });
    expect(description.resourceName).toBe(topic);
    expect(description.configs.find((c) => c.name === 'cleanup.policy')?.value).toBe('compact');
  });
});
