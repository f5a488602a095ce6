import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompactedLog } from '../../../runtime/store/compacted-log.ts';
import type { StatusChange } from '../../../runtime/store/status-store.ts';
import { StatusStore } from '../../../runtime/store/status-store.ts';
import type { Backing } from './harness.ts';
import { backings, tap } from './harness.ts';
import { captureLogger } from './helpers.ts';

describe.each(backings)('StatusStore over $name', (kind) => {
  let backing: Backing;
  let stores: StatusStore[];
  let clock: number;

  beforeEach(async () => {
    backing = await kind.create();
    stores = [];
    clock = 1_700_000_000_000;
  });

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await backing.cleanup();
  });

  async function open(): Promise<{ store: StatusStore; log: CompactedLog; raw: ReturnType<typeof tap> }> {
    const log = backing.open('status');
    const raw = tap(log);
    const store = new StatusStore(log, { logger: captureLogger(), now: () => clock++ });
    stores.push(store);
    await store.start();
    return { store, log, raw };
  }

  it('writes statuses exactly as Kafka Connect does, plus our progress', async () => {
    const { store, raw } = await open();
    await store.putConnector('my-conn', { state: 'RUNNING', workerId: 'w1:8083', generation: 3 });
    await store.putTask('my-conn', 0, { state: 'FAILED', trace: 'Error: boom\n  at x', workerId: 'w1:8083', generation: 3 });
    await store.putTask('my-conn', 1, {
      state: 'RUNNING',
      workerId: 'w2:8083',
      generation: 3,
      progress: { rows: 10, of: 100 },
    });
    expect(raw).toEqual([
      ['status-connector-my-conn', { state: 'RUNNING', trace: null, worker_id: 'w1:8083', generation: 3 }],
      ['status-task-my-conn-0', { state: 'FAILED', trace: 'Error: boom\n  at x', worker_id: 'w1:8083', generation: 3 }],
      [
        'status-task-my-conn-1',
        { state: 'RUNNING', trace: null, worker_id: 'w2:8083', generation: 3, progress: { rows: 10, of: 100 } },
      ],
    ]);
    expect(store.getConnector('my-conn')).toEqual({ state: 'RUNNING', workerId: 'w1:8083', generation: 3 });
    expect(store.getTask('my-conn', 0)).toEqual({ state: 'FAILED', trace: 'Error: boom\n  at x', workerId: 'w1:8083', generation: 3 });
    expect(store.getTask('my-conn', 1)?.progress).toEqual({ rows: 10, of: 100 });
    expect(store.getConnector('nope')).toBeUndefined();
  });

  it('lists tasks in id order', async () => {
    const { store } = await open();
    for (const id of [10, 2, 0]) await store.putTask('c-1', id, { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putTask('c', 5, { state: 'PAUSED', workerId: 'w', generation: 0 });
    expect(store.getTasks('c-1').map((t) => t.id)).toEqual([0, 2, 10]);
    expect(store.getTasks('c')).toEqual([{ id: 5, state: 'PAUSED', workerId: 'w', generation: 0 }]);
    expect(store.getTasks('none')).toEqual([]);
  });

  it('removeConnector tombstones the connector and its tasks', async () => {
    const { store, raw } = await open();
    await store.putConnector('c', { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putTask('c', 0, { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putTask('c', 1, { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putConnector('keep', { state: 'RUNNING', workerId: 'w', generation: 0 });
    raw.length = 0;
    await store.removeConnector('c');
    expect(raw).toEqual([
      ['status-task-c-0', null],
      ['status-task-c-1', null],
      ['status-connector-c', null],
    ]);
    expect(store.getConnector('c')).toBeUndefined();
    expect(store.getTasks('c')).toEqual([]);
    expect(store.connectorNames()).toEqual(['keep']);
  });

  it('forgets the tasks of a connector whose status is tombstoned by another writer, as Kafka Connect does', async () => {
    const { store, log } = await open();
    await store.putTask('c', 0, { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putConnector('c', { state: 'RUNNING', workerId: 'w', generation: 0 });
    await log.append('status-connector-c', null);
    await log.readToEnd();
    expect(store.getTasks('c')).toEqual([]);
  });

  it('safe puts do not overwrite a newer generation written by another worker', async () => {
    const { store } = await open();
    await store.putTask('c', 0, { state: 'RUNNING', workerId: 'new-owner', generation: 5 });
    expect(await store.putTask('c', 0, { state: 'UNASSIGNED', workerId: 'old-owner', generation: 4 }, { safe: true })).toBe(false);
    expect(store.getTask('c', 0)?.workerId).toBe('new-owner');
    expect(await store.putTask('c', 0, { state: 'FAILED', workerId: 'new-owner', generation: 5 }, { safe: true })).toBe(true);
    expect(await store.putTask('c', 0, { state: 'RUNNING', workerId: 'third', generation: 6 }, { safe: true })).toBe(true);
    expect(await store.putConnector('c', { state: 'RUNNING', workerId: 'x', generation: 0 }, { safe: true })).toBe(true);
    expect(await store.putTask('c', 0, { state: 'PAUSED', workerId: 'old-owner', generation: 4 })).toBe(true);
  });

  it('tracks topics as Kafka Connect does (status-topic-<topic>:connector-<n>), once per topic, until reset', async () => {
    const { store, raw } = await open();
    await store.putTopic('my-conn', 'orders', 0);
    await store.putTopic('my-conn', 'orders', 1);
    await store.putTopic('my-conn', 'customers', 1);
    await store.putTopic('other', 'orders', 0);
    expect(raw).toEqual([
      [
        'status-topic-orders:connector-my-conn',
        { topic: { name: 'orders', connector: 'my-conn', task: 0, discoverTimestamp: 1_700_000_000_000 } },
      ],
      [
        'status-topic-customers:connector-my-conn',
        { topic: { name: 'customers', connector: 'my-conn', task: 1, discoverTimestamp: 1_700_000_000_001 } },
      ],
      [
        'status-topic-orders:connector-other',
        { topic: { name: 'orders', connector: 'other', task: 0, discoverTimestamp: 1_700_000_000_002 } },
      ],
    ]);
    expect(store.topics('my-conn')).toEqual(['customers', 'orders']);
    expect(store.topicStatuses('other')).toEqual([
      { topic: 'orders', connector: 'other', task: 0, discoverTimestamp: 1_700_000_000_002 },
    ]);

    raw.length = 0;
    await store.resetTopics('my-conn');
    expect(raw).toEqual([
      ['status-topic-customers:connector-my-conn', null],
      ['status-topic-orders:connector-my-conn', null],
    ]);
    expect(store.topics('my-conn')).toEqual([]);
    expect(store.topics('other')).toEqual(['orders']);
    await store.putTopic('my-conn', 'orders', 0);
    expect(store.topics('my-conn')).toEqual(['orders']);
  });

  it('ignores records in the wrong format', async () => {
    const { store, log } = await open();
    await log.appendAll([
      { key: 'status-connector-c', value: { state: 'BOGUS', trace: null, worker_id: 'w', generation: 0 } },
      { key: 'status-task-c-x', value: { state: 'RUNNING', trace: null, worker_id: 'w', generation: 0 } },
      { key: 'status-topic-no-separator', value: { topic: {} } },
      { key: 'something-else', value: 1 },
    ]);
    await log.readToEnd();
    expect(store.connectorNames()).toEqual([]);
    expect(store.getTasks('c')).toEqual([]);
  });

  it('tells listeners what changed', async () => {
    const { store } = await open();
    const changes: StatusChange[] = [];
    store.onChange((c) => changes.push(c));
    await store.putConnector('c', { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putTask('c', 0, { state: 'RUNNING', workerId: 'w', generation: 0 });
    await store.putTopic('c', 't', 0);
    await store.removeConnector('c');
    expect(changes).toEqual([
      { type: 'connector', connector: 'c', status: { state: 'RUNNING', workerId: 'w', generation: 0 } },
      { type: 'task', connector: 'c', task: 0, status: { state: 'RUNNING', workerId: 'w', generation: 0 } },
      { type: 'topic', connector: 'c', topic: 't', active: true },
      { type: 'task', connector: 'c', task: 0, status: null },
      { type: 'connector', connector: 'c', status: null },
    ]);
  });

  it('restores statuses and topics after close and reopen', async () => {
    const first = await open();
    await first.store.putConnector('a', { state: 'FAILED', trace: 't', workerId: 'w', generation: 1 });
    await first.store.putTask('a', 0, { state: 'RUNNING', workerId: 'w', generation: 1, progress: { done: 3 } });
    await first.store.putTask('a', 1, { state: 'RUNNING', workerId: 'w', generation: 1 });
    await first.store.removeTask('a', 1);
    await first.store.putTopic('a', 'orders', 0);
    await first.store.putTopic('a', 'gone', 0);
    await first.store.putConnector('b', { state: 'RUNNING', workerId: 'w', generation: 1 });
    await first.store.removeConnector('b');
    await first.store.close();

    const { store } = await open();
    expect(store.getConnector('a')).toEqual({ state: 'FAILED', trace: 't', workerId: 'w', generation: 1 });
    expect(store.getTasks('a')).toEqual([{ id: 0, state: 'RUNNING', workerId: 'w', generation: 1, progress: { done: 3 } }]);
    expect(store.topics('a')).toEqual(['gone', 'orders']);
    expect(store.connectorNames()).toEqual(['a']);
  });
});
