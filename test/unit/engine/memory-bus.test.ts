import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { SinkOffsets } from '../../../runtime/api/index.ts';
import { MemoryBus, type GroupOffsetPersistence } from '../../../runtime/engine/memory-bus.ts';

const signal = () => new AbortController().signal;
const rec = (topic: string, value: unknown, key?: unknown) => ({ topic, key, value });
const offsets = (topic: string, partition: number, offset: number): SinkOffsets => new Map([[`${topic}-${partition}`, { topic, partition, offset }]]);

function memoryPersistence(): GroupOffsetPersistence & { data: Map<string, SinkOffsets> } {
  const data = new Map<string, SinkOffsets>();
  return {
    data,
    async load() {
      return new Map([...data].map(([k, v]) => [k, new Map(v)]));
    },
    async save(g, o) {
      data.set(g, new Map(o));
    },
    async remove(g) {
      data.delete(g);
    },
  };
}

describe('MemoryBus', () => {
  it('delivers records in order with offsets, and makes them durable only after the group commits past them', async () => {
    const bus = new MemoryBus();
    const consumer = bus.consumer({ groupId: 'g', memberId: 'm0', topics: ['t'] });
    const producer = bus.producer('p');
    const { durable } = await producer.send([rec('t', 1), rec('t', 2), rec('t', 3)]);
    let isDurable = false;
    void durable.then(() => (isDurable = true));
    const got = await consumer.poll(10, 100, signal());
    expect(got.map((r) => [r.value, r.kafkaOffset, r.kafkaPartition])).toEqual([[1, 0, 0], [2, 1, 0], [3, 2, 0]]);
    await consumer.commit(offsets('t', 0, 2));
    await new Promise((r) => setTimeout(r, 5));
    expect(isDurable).toBe(false);
    await consumer.commit(offsets('t', 0, 3));
    await durable;
    expect(isDurable).toBe(true);
  });

  it('waits for every subscribed group (end-to-end acknowledgement across two sinks)', async () => {
    const bus = new MemoryBus();
    const a = bus.consumer({ groupId: 'a', memberId: 'm', topics: ['t'] });
    const b = bus.consumer({ groupId: 'b', memberId: 'm', topics: ['t'] });
    const { durable } = await bus.producer('p').send([rec('t', 'x')]);
    let done = false;
    void durable.then(() => (done = true));
    await a.poll(10, 50, signal());
    await a.commit(offsets('t', 0, 1));
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    await b.poll(10, 50, signal());
    await b.commit(offsets('t', 0, 1));
    await durable;
    expect(done).toBe(true);
  });

  it('keeps records when no sink is subscribed yet and delivers them to a sink that starts later', async () => {
    const bus = new MemoryBus();
    const { durable } = await bus.producer('p').send([rec('later', 'a'), rec('later', 'b')]);
    let done = false;
    void durable.then(() => (done = true));
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['later'] });
    const got = await c.poll(10, 100, signal());
    expect(got.map((r) => r.value)).toEqual(['a', 'b']);
    expect(done).toBe(false);
    await c.commit(offsets('later', 0, 2));
    await durable;
  });

  it('applies backpressure: a producer waits while a partition is at capacity', async () => {
    const bus = new MemoryBus({ capacity: 3 });
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const p = bus.producer('p');
    await p.send([rec('t', 1), rec('t', 2), rec('t', 3)]);
    let accepted = false;
    const blocked = p.send([rec('t', 4)]).then(() => (accepted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(accepted).toBe(false);
    await c.poll(10, 50, signal());
    await c.commit(offsets('t', 0, 2));
    await blocked;
    expect(accepted).toBe(true);
  });

  it('lets a sink that holds records back until its batch is complete read past the capacity, without committing', async () => {
    // An S3 sink commits nothing until an object of flush.size records is uploaded: with the
    // producers bound by what is held alone, flush.size > capacity would stall the pipeline.
    const bus = new MemoryBus({ capacity: 4 });
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const p = bus.producer('p');
    const durables: Promise<void>[] = [];
    const producing = (async () => {
      for (let i = 0; i < 20; i++) durables.push((await p.send([rec('t', i)])).durable);
    })();
    const got: number[] = [];
    while (got.length < 20) for (const r of await c.poll(100, 50, signal())) got.push(r.value as number);
    await producing;
    expect(got).toEqual([...Array(20).keys()]);
    let anyDurable = false;
    for (const d of durables) void d.then(() => (anyDurable = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(anyDurable).toBe(false);
    await c.commit(offsets('t', 0, 20));
    await Promise.all(durables);
  });

  it('bounds a producer whose sink has read what is held: it runs ahead by half the capacity, no more', async () => {
    const bus = new MemoryBus({ capacity: 4 });
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const p = bus.producer('p');
    await p.send([1, 2, 3, 4].map((v) => rec('t', v)));
    expect((await c.poll(10, 50, signal())).length).toBe(4);
    await p.send([rec('t', 5), rec('t', 6)]);
    let accepted = false;
    const blocked = p.send([rec('t', 7)]).then(() => (accepted = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(accepted).toBe(false);
    expect((await c.poll(10, 50, signal())).map((r) => r.value)).toEqual([5, 6]);
    await blocked;
    expect(accepted).toBe(true);
  });

  it('keeps a paused partition bounded by its capacity (a paused sink reads nothing)', async () => {
    const bus = new MemoryBus({ capacity: 3 });
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const p = bus.producer('p');
    await c.poll(1, 1, signal());
    c.pause([{ topic: 't', partition: 0 }]);
    await p.send([1, 2, 3].map((v) => rec('t', v)));
    let accepted = false;
    const blocked = p.send([rec('t', 4)]).then(() => (accepted = true));
    expect(await c.poll(10, 20, signal())).toEqual([]);
    expect(accepted).toBe(false);
    c.resume([{ topic: 't', partition: 0 }]);
    expect((await c.poll(10, 50, signal())).length).toBe(3);
    await blocked;
  });

  it('leaves no abort listener behind on the producer\'s signal after waiting for room', async () => {
    const bus = new MemoryBus({ capacity: 1 });
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const p = bus.producer('p');
    const ctrl = new AbortController();
    await p.send([rec('t', 0)], ctrl.signal);
    for (let i = 1; i <= 50; i++) {
      // The partition is full: this send waits until the previous record is committed.
      const sent = p.send([rec('t', i)], ctrl.signal);
      const got = await c.poll(1, 50, signal());
      await c.commit(offsets('t', 0, got[0].kafkaOffset + 1));
      await sent;
    }
    expect(getEventListeners(ctrl.signal, 'abort')).toHaveLength(0);
  });

  it('splits partitions across group members and hands them over when a member leaves', async () => {
    const bus = new MemoryBus({ partitionsPerTopic: 4 });
    const changes: string[] = [];
    const m0 = bus.consumer({ groupId: 'g', memberId: 'm0', topics: ['t'], onAssign: (a, r) => void changes.push(`m0+${a.map((x) => x.partition)}-${r.map((x) => x.partition)}`) });
    const m1 = bus.consumer({ groupId: 'g', memberId: 'm1', topics: ['t'] });
    expect(m0.assignment().map((x) => x.partition).sort()).toEqual([0, 2]);
    expect(m1.assignment().map((x) => x.partition).sort()).toEqual([1, 3]);
    await m1.close();
    expect(m0.assignment().map((x) => x.partition).sort()).toEqual([0, 1, 2, 3]);
    await m0.poll(1, 1, signal());
    expect(changes.join(' ')).toContain('m0+');
  });

  it('routes by key hash consistently and honours an explicit partition', async () => {
    const bus = new MemoryBus({ partitionsPerTopic: 3 });
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    await bus.producer('p').send([rec('t', 1, 'k'), rec('t', 2, 'k'), { topic: 't', value: 3, kafkaPartition: 2 }]);
    const got = await c.poll(10, 50, signal());
    const byValue = new Map(got.map((r) => [r.value, r.kafkaPartition]));
    expect(byValue.get(1)).toBe(byValue.get(2));
    expect(byValue.get(3)).toBe(2);
  });

  it('restores committed offsets and continues offsets after a restart', async () => {
    const persistence = memoryPersistence();
    const bus1 = new MemoryBus({ persistence });
    await bus1.start();
    const c1 = bus1.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    await bus1.producer('p').send([rec('t', 'a'), rec('t', 'b')]);
    await c1.poll(10, 50, signal());
    await c1.commit(offsets('t', 0, 2));
    const bus2 = new MemoryBus({ persistence });
    await bus2.start();
    expect([...(await bus2.groupOffsets('g')).values()]).toEqual([{ topic: 't', partition: 0, offset: 2 }]);
    const c2 = bus2.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    await bus2.producer('p').send([rec('t', 'c')]);
    const got = await c2.poll(10, 50, signal());
    expect(got.map((r) => [r.value, r.kafkaOffset])).toEqual([['c', 2]]);
  });

  it('subscribes by regex, including topics created later', async () => {
    const bus = new MemoryBus();
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topicsRegex: /orders\..*/ });
    await bus.producer('p').send([rec('orders.eu', 1), rec('users', 2)]);
    const got = await c.poll(10, 50, signal());
    expect(got.map((r) => r.topic)).toEqual(['orders.eu']);
  });

  it('returns promptly from a waiting poll when aborted', async () => {
    const bus = new MemoryBus();
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const ctrl = new AbortController();
    const started = Date.now();
    setTimeout(() => ctrl.abort(), 20);
    expect(await c.poll(10, 10_000, ctrl.signal)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('after a group is deleted, keeps its unread records for the next subscriber; refuses to alter offsets of a group with members', async () => {
    const bus = new MemoryBus();
    const c = bus.consumer({ groupId: 'g', memberId: 'm', topics: ['t'] });
    const { durable } = await bus.producer('p').send([rec('t', 1)]);
    await expect(bus.alterGroupOffsets('g', [{ topic: 't', partition: 0, offset: 0 }])).rejects.toThrow(/active members/);
    await c.close();
    await bus.deleteGroup('g');
    expect(await bus.groupOffsets('g')).toEqual(new Map());
    const next = bus.consumer({ groupId: 'h', memberId: 'm', topics: ['t'] });
    expect((await next.poll(10, 50, signal())).map((r) => r.value)).toEqual([1]);
    await next.commit(offsets('t', 0, 1));
    await durable;
  });
});
