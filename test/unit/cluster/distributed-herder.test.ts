import { describe, expect, it } from 'vitest';
import { workFromConfig } from '../../../runtime/cluster/distributed-herder.ts';
import { MemoryCompactedLog } from '../../../runtime/store/compacted-log.ts';
import { ConfigStore } from '../../../runtime/store/config-store.ts';
import { captureLogger } from '../store/helpers.ts';

describe('workFromConfig', () => {
  it('lists every connector with its committed task count; stopped and uncommitted connectors have none', async () => {
    const store = new ConfigStore(new MemoryCompactedLog(), { logger: captureLogger() });
    await store.start();
    await store.putConnectorConfig('b-running', { 'connector.class': 'demo' });
    await store.putTaskConfigs('b-running', [{}, {}, {}]);
    await store.putConnectorConfig('a-paused', { 'connector.class': 'demo' }, 'PAUSED');
    await store.putTaskConfigs('a-paused', [{}]);
    await store.putConnectorConfig('c-stopped', { 'connector.class': 'demo' }, 'STOPPED');
    await store.putConnectorConfig('d-new', { 'connector.class': 'demo' });
    expect(workFromConfig(store.snapshot())).toEqual([
      { connector: 'a-paused', tasks: 1 },
      { connector: 'b-running', tasks: 3 },
      { connector: 'c-stopped', tasks: 0 },
      { connector: 'd-new', tasks: 0 },
    ]);
    await store.close();
  });
});
