import { Admin } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { openKafkaStores } from '../../../runtime/cluster/distributed-herder.ts';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';
import { captureLogger } from '../../unit/store/helpers.ts';

const topics = { configs: uniqueName('tributary-configs'), offsets: uniqueName('tributary-offsets'), status: uniqueName('tributary-status') };

afterAll(async () => {
  const admin = new Admin({ clientId: 'kafka-stores-test-admin', bootstrapBrokers: kafkaBrokers() });
  try {
    const existing = new Set(await admin.listTopics());
    const mine = Object.values(topics).filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.close();
  }
});

describe('openKafkaStores', () => {
  it('creates the internal topics, tracks the config offset a worker reports, and reads other workers\' config writes', async () => {
    const open = () => openKafkaStores({ bootstrapBrokers: kafkaBrokers(), topics, replicationFactor: 1, partitions: { offsets: 5, status: 2 }, logger: captureLogger() });
    const a = await open();
    const b = await open();
    try {
      expect(a.configOffset()).toBe(-1);
      await a.configs.putConnectorConfig('c', { 'connector.class': 'demo' });
      await a.configs.putTaskConfigs('c', [{}, {}]);
      // connector-c, task-c-0, task-c-1, commit-c: offsets 0..3.
      expect(a.configOffset()).toBe(3);
      expect(await b.readConfigToEnd()).toBe(3);
      expect(b.configs.connectorTaskConfigs('c')).toHaveLength(2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
