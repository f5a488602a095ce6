import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompactedLog } from '../../../runtime/store/compacted-log.ts';
import type { ConfigChange } from '../../../runtime/store/config-store.ts';
import { ConfigStore } from '../../../runtime/store/config-store.ts';
import type { Backing } from './harness.ts';
import { backings, tap } from './harness.ts';
import { captureLogger } from './helpers.ts';

describe.each(backings)('ConfigStore over $name', (kind) => {
  let backing: Backing;
  let stores: ConfigStore[];

  beforeEach(async () => {
    backing = await kind.create();
    stores = [];
  });

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await backing.cleanup();
  });

  async function open(): Promise<{ store: ConfigStore; log: CompactedLog; raw: ReturnType<typeof tap> }> {
    const log = backing.open('configs');
    const raw = tap(log);
    const store = new ConfigStore(log, { logger: captureLogger() });
    stores.push(store);
    await store.start();
    return { store, log, raw };
  }

  it('writes connector configs and target states exactly as Kafka Connect does', async () => {
    const { store, raw } = await open();
    await store.putConnectorConfig('my-conn', { 'connector.class': 'demo', 'tasks.max': '2' });
    await store.putConnectorConfig('paused', { 'connector.class': 'demo' }, 'PAUSED');
    await store.putConnectorConfig('stopped', { 'connector.class': 'demo' }, 'STOPPED');
    await store.putTargetState('my-conn', 'RUNNING');

    expect(raw).toEqual([
      ['connector-my-conn', { properties: { 'connector.class': 'demo', 'tasks.max': '2' } }],
      ['target-state-paused', { state: 'PAUSED', 'state.v2': 'PAUSED' }],
      ['connector-paused', { properties: { 'connector.class': 'demo' } }],
      ['target-state-stopped', { state: 'PAUSED', 'state.v2': 'STOPPED' }],
      ['connector-stopped', { properties: { 'connector.class': 'demo' } }],
      ['target-state-my-conn', { state: 'STARTED', 'state.v2': 'STARTED' }],
    ]);
    const snap = store.snapshot();
    expect(snap.connectors.get('my-conn')).toEqual({ 'connector.class': 'demo', 'tasks.max': '2' });
    expect(Object.fromEntries(snap.targetStates)).toEqual({ 'my-conn': 'RUNNING', paused: 'PAUSED', stopped: 'STOPPED' });
    expect(store.connectorConfig('nope')).toBeUndefined();
    expect(store.targetState('nope')).toBeUndefined();
  });

  it('writes restart requests as Kafka Connect does (restart-connector-<n>) and hands them to readers as events, never replayed', async () => {
    const a = await open();
    const heard: ConfigChange[] = [];
    a.store.onChange((c) => heard.push(c));
    await a.store.putConnectorConfig('orders', { 'connector.class': 'demo' });
    await a.store.requestRestart('orders', { includeTasks: true, onlyFailed: false });
    await a.store.requestTaskRestart('orders', 2);
    expect(a.raw.slice(-2)).toEqual([
      ['restart-connector-orders', { 'include-tasks': true, 'only-failed': false }],
      ['restart-task-orders-2', {}],
    ]);
    expect(heard.filter((c) => c.type === 'restart')).toEqual([
      { type: 'restart', connector: 'orders', includeTasks: true, onlyFailed: false },
      { type: 'restart', connector: 'orders', includeTasks: false, onlyFailed: false, task: 2 },
    ]);
    // A store opened later reads the same log but hears no old request.
    await a.store.close();
    stores.splice(stores.indexOf(a.store), 1);
    const later = await open();
    const replayed: ConfigChange[] = [];
    later.store.onChange((c) => replayed.push(c));
    await later.log.readToEnd();
    expect(replayed).toEqual([]);
    expect(later.store.connectorNames()).toEqual(['orders']);
  });

  it('reads target states written by workers before KIP-875 (no state.v2), defaulting to RUNNING', async () => {
    const { store, log } = await open();
    await log.appendAll([
      { key: 'connector-a', value: { properties: {} } },
      { key: 'connector-b', value: { properties: {} } },
      { key: 'connector-c', value: { properties: {} } },
      { key: 'target-state-a', value: { state: 'PAUSED' } },
      { key: 'target-state-b', value: { state: 'STARTED' } },
      { key: 'target-state-c', value: { state: 'SIDEWAYS' } },
    ]);
    await log.readToEnd();
    expect(Object.fromEntries(store.snapshot().targetStates)).toEqual({ a: 'PAUSED', b: 'RUNNING', c: 'RUNNING' });
  });

  it('hides task configs until their commit-<n> record is read', async () => {
    const { store, log } = await open();
    await store.putConnectorConfig('c', { 'connector.class': 'demo' });
    await log.appendAll([
      { key: 'task-c-0', value: { properties: { table: 'a' } } },
      { key: 'task-c-1', value: { properties: { table: 'b' } } },
    ]);
    await log.readToEnd();
    expect(store.snapshot().taskConfigs.has('c')).toBe(false);
    expect(store.connectorTaskConfigs('c')).toBeUndefined();

    await log.append('commit-c', { tasks: 2 });
    await log.readToEnd();
    expect(store.connectorTaskConfigs('c')).toEqual([{ table: 'a' }, { table: 'b' }]);

    // A new set half written: the committed one stays in force.
    await log.append('task-c-0', { properties: { table: 'x' } });
    await log.readToEnd();
    expect(store.snapshot().taskConfigs.get('c')).toEqual([{ table: 'a' }, { table: 'b' }]);
  });

  it('putTaskConfigs writes the tasks then the commit, and tombstones task keys beyond a smaller set', async () => {
    const { store, raw } = await open();
    await store.putConnectorConfig('my-conn-2', {});
    raw.length = 0;
    await store.putTaskConfigs('my-conn-2', [{ t: '0' }, { t: '1' }, { t: '2' }]);
    await store.putTaskConfigs('my-conn-2', [{ t: 'only' }]);
    expect(raw).toEqual([
      ['task-my-conn-2-0', { properties: { t: '0' } }],
      ['task-my-conn-2-1', { properties: { t: '1' } }],
      ['task-my-conn-2-2', { properties: { t: '2' } }],
      ['commit-my-conn-2', { tasks: 3 }],
      ['task-my-conn-2-0', { properties: { t: 'only' } }],
      ['task-my-conn-2-1', null],
      ['task-my-conn-2-2', null],
      ['commit-my-conn-2', { tasks: 1 }],
    ]);
    expect(store.snapshot().taskConfigs.get('my-conn-2')).toEqual([{ t: 'only' }]);
    await store.putTaskConfigs('my-conn-2', []);
    expect(store.snapshot().taskConfigs.get('my-conn-2')).toEqual([]);
  });

  it('marks a connector inconsistent when a commit names missing task configs, until a fresh set is written', async () => {
    const { store, log } = await open();
    const changes: ConfigChange[] = [];
    store.onChange((c) => changes.push(c));
    await store.putConnectorConfig('c', {});
    await log.appendAll([
      { key: 'task-c-0', value: { properties: { n: '0' } } },
      { key: 'commit-c', value: { tasks: 2 } },
    ]);
    await log.readToEnd();
    let snap = store.snapshot();
    expect([...snap.inconsistent]).toEqual(['c']);
    expect(snap.taskConfigs.has('c')).toBe(false);
    expect(changes.at(-1)).toEqual({ type: 'tasks-committed', connector: 'c', tasks: 2, consistent: false });

    await store.putTaskConfigs('c', [{ n: '0' }, { n: '1' }]);
    snap = store.snapshot();
    expect(snap.inconsistent.size).toBe(0);
    expect(snap.taskConfigs.get('c')).toHaveLength(2);
  });

  it('removeConnector tombstones the connector, target-state, task and commit keys', async () => {
    const { store, raw } = await open();
    await store.putConnectorConfig('c', { a: '1' }, 'PAUSED');
    await store.putTaskConfigs('c', [{}, {}]);
    await store.putConnectorConfig('other', { b: '2' });
    raw.length = 0;
    await store.removeConnector('c');
    expect(raw).toEqual([
      ['connector-c', null],
      ['target-state-c', null],
      ['task-c-0', null],
      ['task-c-1', null],
      ['commit-c', null],
    ]);
    const snap = store.snapshot();
    expect([...snap.connectors.keys()]).toEqual(['other']);
    expect(snap.taskConfigs.has('c')).toBe(false);
    expect(snap.targetStates.has('c')).toBe(false);

    // Created again under the same name, it starts clean.
    await store.putConnectorConfig('c', { a: 'new' });
    expect(store.targetState('c')).toBe('RUNNING');
    expect(store.connectorTaskConfigs('c')).toBeUndefined();
  });

  it('tells listeners what changed, for records read after start', async () => {
    const { store } = await open();
    await store.putConnectorConfig('early', {});
    const changes: ConfigChange[] = [];
    const off = store.onChange((c) => changes.push(c));
    await store.putConnectorConfig('c', {}, 'STOPPED');
    await store.putTaskConfigs('c', [{}]);
    await store.putTargetState('c', 'RUNNING');
    await store.removeConnector('c');
    off();
    await store.putConnectorConfig('late', {});
    expect(changes).toEqual([
      { type: 'target-state', connector: 'c', state: 'STOPPED' },
      { type: 'connector-config', connector: 'c' },
      { type: 'tasks-committed', connector: 'c', tasks: 1, consistent: true },
      { type: 'target-state', connector: 'c', state: 'RUNNING' },
      { type: 'connector-removed', connector: 'c' },
    ]);
  });

  it('hands out copies', async () => {
    const { store } = await open();
    await store.putConnectorConfig('c', { a: '1' });
    await store.putTaskConfigs('c', [{ t: '0' }]);
    const snap = store.snapshot();
    snap.connectors.get('c')!.a = 'changed';
    snap.taskConfigs.get('c')![0].t = 'changed';
    snap.connectors.delete('c');
    store.connectorConfig('c')!.a = 'changed';
    expect(store.connectorConfig('c')).toEqual({ a: '1' });
    expect(store.snapshot().taskConfigs.get('c')).toEqual([{ t: '0' }]);
  });

  it('rejects configs that are not string maps', async () => {
    const { store } = await open();
    await expect(store.putConnectorConfig('c', { n: 1 as unknown as string })).rejects.toThrow(/value of n must be a string/);
    await expect(store.putConnectorConfig('', {})).rejects.toThrow(TypeError);
  });

  it('restores its state after close and reopen, still hiding an uncommitted task set', async () => {
    const first = await open();
    await first.store.putConnectorConfig('a', { x: '1' });
    await first.store.putConnectorConfig('b', { y: '2' }, 'PAUSED');
    await first.store.putTaskConfigs('a', [{ t: '0' }, { t: '1' }]);
    await first.store.putConnectorConfig('gone', {});
    await first.store.removeConnector('gone');
    await first.log.append('task-b-0', { properties: { half: 'written' } });
    const before = first.store.snapshot();
    await first.store.close();

    const { store } = await open();
    const after = store.snapshot();
    expect(after).toEqual(before);
    expect(after.taskConfigs.has('b')).toBe(false);
    expect(Object.fromEntries(after.targetStates)).toEqual({ a: 'RUNNING', b: 'PAUSED' });
  });
});
