import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CompactedLog } from '../../../runtime/store/compacted-log.ts';
import { OffsetStore, offsetKey } from '../../../runtime/store/offset-store.ts';
import type { Backing } from './harness.ts';
import { backings, tap } from './harness.ts';
import { captureLogger } from './helpers.ts';

describe('offsetKey', () => {
  it('is the same for the same partition whatever order its properties (at any depth) were built in', () => {
    const a = offsetKey('pg', { table: 'orders', schema: 'public', slot: { name: 's', db: 'd' } });
    const b = offsetKey('pg', { slot: { db: 'd', name: 's' }, schema: 'public', table: 'orders' });
    expect(a).toBe(b);
    expect(a).toBe('["pg",{"schema":"public","slot":{"db":"d","name":"s"},"table":"orders"}]');
    expect(offsetKey('pg', { list: [3, 1, 2] })).toBe('["pg",{"list":[3,1,2]}]');
  });
});

describe.each(backings)('OffsetStore over $name', (kind) => {
  let backing: Backing;
  let stores: OffsetStore[];

  beforeEach(async () => {
    backing = await kind.create();
    stores = [];
  });

  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await backing.cleanup();
  });

  async function open(): Promise<{ store: OffsetStore; log: CompactedLog; raw: ReturnType<typeof tap> }> {
    const log = backing.open('offsets');
    const raw = tap(log);
    const store = new OffsetStore(log, { logger: captureLogger() });
    stores.push(store);
    await store.start();
    return { store, log, raw };
  }

  it('stores offsets as Kafka Connect does: ["<connector>", {partition}] -> {offset}', async () => {
    const { store, log, raw } = await open();
    await store.set('file-source', [
      { partition: { filename: '/data/a.txt' }, offset: { position: 42 } },
      { partition: { filename: '/data/b.txt' }, offset: { position: 7 } },
    ]);
    // set() resolves when durable; on a Kafka-like log the record is read back later.
    await log.readToEnd();
    expect(raw).toEqual([
      ['["file-source",{"filename":"/data/a.txt"}]', { position: 42 }],
      ['["file-source",{"filename":"/data/b.txt"}]', { position: 7 }],
    ]);
    expect(await store.get('file-source', { filename: '/data/a.txt' })).toEqual({ position: 42 });
    expect(await store.get('file-source', { filename: '/nope' })).toBeNull();
    expect(await store.get('other', { filename: '/data/a.txt' })).toBeNull();
  });

  it('maps a partition to one key regardless of property order', async () => {
    const { store, log, raw } = await open();
    await store.set('pg', [{ partition: { table: 'orders', schema: 'public' }, offset: { lsn: '0/1' } }]);
    await store.set('pg', [{ partition: { schema: 'public', table: 'orders' }, offset: { lsn: '0/2' } }]);
    await log.readToEnd();
    expect(new Set(raw.map(([k]) => k)).size).toBe(1);
    expect(await store.getAll('pg')).toEqual([{ partition: { schema: 'public', table: 'orders' }, offset: { lsn: '0/2' } }]);
    expect(await store.get('pg', { table: 'orders', schema: 'public' })).toEqual({ lsn: '0/2' });
  });

  it('reads keys written in another property order (as Kafka Connect may) as the same partition', async () => {
    const { store, log } = await open();
    await log.append('["pg",{"table":"orders","schema":"public"}]', { lsn: '0/9' });
    await log.readToEnd();
    expect(await store.get('pg', { schema: 'public', table: 'orders' })).toEqual({ lsn: '0/9' });
    await store.set('pg', [{ partition: { schema: 'public', table: 'orders' }, offset: { lsn: '0/A' } }]);
    expect(await store.getAll('pg')).toEqual([{ partition: { table: 'orders', schema: 'public' }, offset: { lsn: '0/A' } }]);
  });

  it('ignores records whose key is not an offset key', async () => {
    const { store, log } = await open();
    await log.appendAll([
      { key: 'not json', value: { a: 1 } },
      { key: '["only-connector"]', value: { a: 1 } },
      { key: '["c",{"p":1}]', value: 'not an object' },
    ]);
    expect(await store.connectors()).toEqual([]);
  });

  it('resets one partition with null, and a whole connector', async () => {
    const { store, raw } = await open();
    await store.set('c', [
      { partition: { p: 1 }, offset: { o: 1 } },
      { partition: { p: 2 }, offset: { o: 2 } },
    ]);
    await store.set('d', [{ partition: { p: 1 }, offset: { o: 9 } }]);
    await store.set('c', [{ partition: { p: 1 }, offset: null }]);
    expect(await store.getAll('c')).toEqual([{ partition: { p: 2 }, offset: { o: 2 } }]);
    expect((await store.connectors()).sort()).toEqual(['c', 'd']);

    raw.length = 0;
    await store.resetConnector('c');
    expect(raw).toEqual([['["c",{"p":2}]', null]]);
    expect(await store.getAll('c')).toEqual([]);
    expect(await store.connectors()).toEqual(['d']);
    await store.resetConnector('never-had-any');
  });

  it('takes many concurrent commits from many tasks', async () => {
    const { store } = await open();
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        store.set(`conn-${i % 4}`, [{ partition: { task: i % 10 }, offset: { seq: i } }]),
      ),
    );
    for (let c = 0; c < 4; c++) {
      const all = await store.getAll(`conn-${c}`);
      expect(all.length).toBe(5);
      // The last write per partition wins.
      for (const { partition, offset } of all) {
        const t = partition.task as number;
        const last = Math.max(...Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 4 === c && i % 10 === t));
        expect(offset).toEqual({ seq: last });
      }
    }
  });

  it('hands out copies', async () => {
    const { store } = await open();
    await store.set('c', [{ partition: { p: 1 }, offset: { o: { deep: 1 } } }]);
    const got = (await store.get('c', { p: 1 }))!;
    (got.o as { deep: number }).deep = 2;
    expect(await store.get('c', { p: 1 })).toEqual({ o: { deep: 1 } });
  });

  it('rejects partitions and offsets that are not objects', async () => {
    const { store } = await open();
    await expect(store.set('c', [{ partition: [1] as never, offset: {} }])).rejects.toThrow(TypeError);
    await expect(store.set('c', [{ partition: {}, offset: 5 as never }])).rejects.toThrow(TypeError);
  });

  it('restores offsets after close and reopen', async () => {
    const first = await open();
    await first.store.set('a', [
      { partition: { p: 1 }, offset: { o: 1 } },
      { partition: { p: 2 }, offset: { o: 2 } },
    ]);
    await first.store.set('a', [{ partition: { p: 2 }, offset: null }]);
    await first.store.set('b', [{ partition: { x: 'y' }, offset: { o: 'z' } }]);
    await first.store.close();

    const { store } = await open();
    expect(await store.getAll('a')).toEqual([{ partition: { p: 1 }, offset: { o: 1 } }]);
    expect(await store.get('b', { x: 'y' })).toEqual({ o: 'z' });
    expect((await store.connectors()).sort()).toEqual(['a', 'b']);
  });
});
