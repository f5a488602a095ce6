// KafkaBus against the real test broker: records round-trip byte for byte, `durable` means
// acknowledged, consumer groups commit, resume, split partitions cooperatively and follow new
// topics, and group offsets can be read, altered and deleted.
import { Admin, Consumer, ListOffsetTimestamps } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../runtime/api/index.ts';
import { DataError, FatalError, RetriableError, topicPartitionKey } from '../../../runtime/api/index.ts';
import { KafkaBus } from '../../../runtime/engine/kafka-bus.ts';
import { cooperativeAssign } from '../../../runtime/engine/kafka/assignor.ts';
import type { BusConsumer, BusRecord, ConsumedRecord, ConsumerOptions } from '../../../runtime/engine/topic-bus.ts';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';

const brokers = kafkaBrokers();
const admin = new Admin({ clientId: uniqueName('kafka-bus-test-admin'), bootstrapBrokers: brokers });
const created: string[] = [];
let bus: KafkaBus;

// Fast group reactions for tests; the broker's minimum session timeout is 6 s.
const consumerSettings = { heartbeatIntervalMs: 300, sessionTimeoutMs: 6_000, metadataRefreshMs: 1_000 };

beforeAll(async () => {
  bus = new KafkaBus({ bootstrapServers: brokers, clientId: uniqueName('kafka-bus-test'), consumer: consumerSettings });
  await bus.start();
});

afterAll(async () => {
  await bus?.close();
  if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.close();
});

async function topic(prefix: string, partitions: number): Promise<string> {
  const name = uniqueName(prefix);
  await admin.createTopics({ topics: [name], partitions, replicas: 1 });
  created.push(name);
  return name;
}

// Recent, distinct timestamps: records older than the broker's retention (7 days) may be deleted under the test.
const T0 = Date.now() - 60_000;

function record(t: string, i: number, partition?: number): BusRecord {
  return {
    topic: t,
    kafkaPartition: partition,
    value: undefined,
    keyBytes: Buffer.from(`key-${i}`),
    valueBytes: Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i % 50) })),
    timestamp: T0 + i,
    headers: [
      { key: 'seq', value: String(i) },
      { key: 'seq', value: `again-${i}` },
      { key: 'bin', value: Buffer.from([0xff, 0x00, i & 0xff]) },
      { key: 'num', value: i },
    ],
  };
}

/** Poll until `n` records arrived (or fail after `timeoutMs`). */
async function consumeN(c: BusConsumer, n: number, timeoutMs = 30_000): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  while (out.length < n) {
    if (Date.now() > deadline) throw new Error(`only ${out.length} of ${n} records arrived`);
    out.push(...(await c.poll(1000, 200, signal)));
  }
  return out;
}

/** Poll (so rebalance callbacks run) until `check` holds; `onRecords` sees what each consumer returned. */
async function pollUntil(
  consumers: BusConsumer[],
  check: () => boolean,
  onRecords: (index: number, records: ConsumedRecord[]) => void = () => {},
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await Promise.all(consumers.map(async (x, i) => onRecords(i, await x.poll(1000, 100, signal))));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function consumer(options: Partial<ConsumerOptions> & Pick<ConsumerOptions, 'groupId'>): BusConsumer {
  return bus.consumer({ memberId: uniqueName('member'), ...options });
}

describe('KafkaBus', () => {
  it('reports the cluster id', async () => {
    const md = await admin.metadata({ topics: [] });
    expect(await bus.clusterId()).toBe(md.id);
    expect(bus.kind).toBe('kafka');
    expect(bus.needsBytes).toBe(true);
  });

  it('round-trips keys, values, headers, timestamps and explicit partitions, in order per partition', async () => {
    const t = await topic('bus-roundtrip', 3);
    const producer = bus.producer('roundtrip');
    const n = 600;
    const records = Array.from({ length: n }, (_, i) => record(t, i, i % 3));
    records.push({ topic: t, kafkaPartition: 1, value: null, keyBytes: Buffer.from('gone'), valueBytes: null, timestamp: T0 + 5_000 });
    const { durable } = await producer.send(records);
    await durable;
    await producer.close();

    const c = consumer({ groupId: uniqueName('g-roundtrip'), topics: [t] });
    const got = await consumeN(c, n + 1);
    await c.close();

    const byPartition = new Map<number, ConsumedRecord[]>();
    for (const r of got) {
      if (!byPartition.has(r.kafkaPartition)) byPartition.set(r.kafkaPartition, []);
      byPartition.get(r.kafkaPartition)!.push(r);
    }
    for (const [p, rs] of byPartition) {
      expect(rs.map((r) => r.kafkaOffset)).toEqual(rs.map((_, i) => i));
      const sent = records.filter((r) => r.kafkaPartition === p);
      expect(rs.length).toBe(sent.length);
      rs.forEach((r, i) => {
        expect(r.topic).toBe(t);
        expect(r.key).toBeUndefined();
        expect(r.keyBytes).toEqual(sent[i].keyBytes);
        expect(r.valueBytes ?? null).toEqual(sent[i].valueBytes);
        expect(r.timestamp).toBe(sent[i].timestamp);
      });
    }
    const first = byPartition.get(0)![0];
    expect(first.headers).toEqual([
      { key: 'seq', value: '0' },
      { key: 'seq', value: 'again-0' },
      { key: 'bin', value: Buffer.from([0xff, 0x00, 0x00]) },
      { key: 'num', value: '0' },
    ]);
    const tombstone = byPartition.get(1)!.at(-1)!;
    expect(tombstone.keyBytes?.toString()).toBe('gone');
    expect(tombstone.valueBytes).toBeNull();
    expect(tombstone.headers).toBeUndefined();
  });

  it('partitions keyed records like the Java client and rejects a partition that does not exist', async () => {
    const t = await topic('bus-keys', 4);
    const producer = bus.producer('keys');
    // Partitions the Java producer picks for these keys on a 4-partition topic: murmur2 & 0x7fffffff % 4.
    const keys: Array<[string, number]> = [['foobar', 2], ['21', 0], ['abc', 3]];
    const { durable } = await producer.send(keys.map(([k]) => ({ topic: t, value: undefined, keyBytes: Buffer.from(k), valueBytes: Buffer.from(k) })));
    await durable;
    await expect(producer.send([{ topic: t, kafkaPartition: 4, value: undefined, valueBytes: Buffer.from('x') }])).rejects.toBeInstanceOf(DataError);
    await producer.close();
    const c = consumer({ groupId: uniqueName('g-keys'), topics: [t] });
    const got = await consumeN(c, keys.length);
    await c.close();
    for (const [k, p] of keys) expect(got.find((r) => r.keyBytes?.toString() === k)?.kafkaPartition).toBe(p);
  });

  it('creates a missing topic on first send', async () => {
    const t = uniqueName('bus-autocreate');
    created.push(t);
    const producer = bus.producer('autocreate');
    const { durable } = await producer.send([{ topic: t, value: undefined, valueBytes: Buffer.from('first') }]);
    await durable;
    await producer.close();
    const md = await admin.metadata({ topics: [t], forceUpdate: true });
    expect(md.topics.get(t)?.partitionsCount).toBe(1);
  });

  it('returns from send before the broker acknowledged, and durable only after', async () => {
    const t = await topic('bus-durable', 2);
    const producer = bus.producer('durable');
    let acked = false;
    const { durable } = await producer.send(Array.from({ length: 2000 }, (_, i) => record(t, i, i % 2)));
    void durable.then(() => (acked = true));
    expect(acked).toBe(false);
    await durable;
    // A separate reader sees every record the moment durable resolved.
    const ends = await admin.listOffsets({ topics: [{ name: t, partitions: [0, 1].map((partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })) }] });
    expect(ends[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(2000);
    const reader = new Consumer({ clientId: uniqueName('reader'), groupId: uniqueName('g-reader'), bootstrapBrokers: brokers });
    try {
      const committed = await reader.listOffsets({ topics: [t], timestamp: ListOffsetTimestamps.LATEST });
      expect(committed.get(t)).toEqual([1000n, 1000n]);
    } finally {
      await reader.close();
      await producer.close();
    }
  });

  it('holds a fast source back when too much is in flight', async () => {
    const t = await topic('bus-backpressure', 1);
    const tight = new KafkaBus({ bootstrapServers: brokers, clientId: uniqueName('kafka-bus-tight'), producer: { maxInFlightRecords: 100 } });
    try {
      const producer = tight.producer('tight');
      const first = await producer.send(Array.from({ length: 100 }, (_, i) => record(t, i)));
      let firstDone = false;
      void first.durable.then(() => (firstDone = true));
      // The second send cannot be queued until the first 100 were acknowledged.
      const second = await producer.send(Array.from({ length: 50 }, (_, i) => record(t, 100 + i)));
      expect(firstDone).toBe(true);
      await second.durable;
      // An aborted wait gives up with the signal's reason.
      const third = await producer.send(Array.from({ length: 100 }, (_, i) => record(t, 200 + i)));
      const ac = new AbortController();
      const waiting = producer.send([record(t, 300)], ac.signal);
      ac.abort(new Error('stop'));
      await expect(waiting).rejects.toThrow('stop');
      await third.durable;
    } finally {
      await tight.close();
    }
  });

  it('fails the producer when the broker rejects a request: durable rejects, later sends throw', async () => {
    const t = await topic('bus-too-large', 1);
    const producer = bus.producer('too-large');
    // Over the broker's message.max.bytes (1 MiB by default).
    const { durable } = await producer.send([{ topic: t, value: undefined, valueBytes: Buffer.alloc(2 * 1024 * 1024) }]);
    await expect(durable).rejects.toBeInstanceOf(FatalError);
    await expect(producer.send([record(t, 1)])).rejects.toBeInstanceOf(FatalError);
    await producer.close();
  });

  it('reports an unreachable cluster as retriable', async () => {
    const nowhere = new KafkaBus({ bootstrapServers: ['127.0.0.1:1'], clientId: uniqueName('kafka-bus-nowhere') });
    try {
      await expect(nowhere.start()).rejects.toThrow();
      await expect(nowhere.producer('nowhere').send([{ topic: 'nowhere', value: undefined, valueBytes: Buffer.from('x') }])).rejects.toBeInstanceOf(RetriableError);
    } finally {
      await nowhere.close();
    }
  });

  it('commits manually; a new member of the group resumes after the committed offset; lag follows commits', async () => {
    const t = await topic('bus-commit', 1);
    const producer = bus.producer('commit');
    await (await producer.send(Array.from({ length: 20 }, (_, i) => record(t, i)))).durable;
    const groupId = uniqueName('g-commit');

    const first = consumer({ groupId, topics: [t] });
    const got = await consumeN(first, 20);
    expect(got.map((r) => r.kafkaOffset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(first.assignment()).toEqual([{ topic: t, partition: 0 }]);
    const key = topicPartitionKey({ topic: t, partition: 0 });
    expect(await first.lag()).toEqual(new Map([[key, 20]]));
    await first.commit(new Map([[key, { topic: t, partition: 0, offset: 12 }]]));
    expect(await first.lag()).toEqual(new Map([[key, 8]]));
    // No commits behind its back: another group's offsets are untouched.
    expect((await bus.groupOffsets(groupId)).get(key)?.offset).toBe(12);
    await first.close();

    await (await producer.send([record(t, 20)])).durable;
    await producer.close();
    const second = consumer({ groupId, topics: [t] });
    const resumed = await consumeN(second, 9);
    expect(resumed.map((r) => r.kafkaOffset)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20]);
    await second.close();
  });

  it('seeks and pauses partitions', async () => {
    const t = await topic('bus-seek', 2);
    const producer = bus.producer('seek');
    await (await producer.send(Array.from({ length: 10 }, (_, i) => record(t, i, i % 2)))).durable;
    const c = consumer({ groupId: uniqueName('g-seek'), topics: [t] });
    await consumeN(c, 10);
    c.seek(new Map([[topicPartitionKey({ topic: t, partition: 1 }), { topic: t, partition: 1, offset: 3 }]]));
    const again = await consumeN(c, 2);
    expect(again.map((r) => [r.kafkaPartition, r.kafkaOffset])).toEqual([[1, 3], [1, 4]]);
    c.pause([{ topic: t, partition: 0 }]);
    await (await producer.send([record(t, 10, 0), record(t, 11, 1)])).durable;
    const onlyOne = await consumeN(c, 1);
    expect(onlyOne.map((r) => r.kafkaPartition)).toEqual([1]);
    expect(await c.poll(100, 500, new AbortController().signal)).toEqual([]);
    c.resume([{ topic: t, partition: 0 }]);
    const resumed = await consumeN(c, 1);
    expect(resumed.map((r) => [r.kafkaPartition, r.kafkaOffset])).toEqual([[0, 5]]);
    await c.close();
    await producer.close();
  });

  it('splits partitions between two members and hands them over cooperatively when one leaves', async () => {
    const t = await topic('bus-group', 4);
    const groupId = uniqueName('g-split');
    const producer = bus.producer('split');
    await (await producer.send(Array.from({ length: 40 }, (_, i) => record(t, i, i % 4)))).durable;

    // Like a sink runner: opening and closing partitions take time (flush, commit), and no partition
    // may be open on both members at once.
    const owned = { a: new Set<string>(), b: new Set<string>() };
    const calls: Array<{ member: 'a' | 'b'; assigned: string[]; revoked: string[] }> = [];
    const overlap: string[] = [];
    const early: string[] = [];
    const onAssign = (member: 'a' | 'b') => async (assigned: TopicPartition[], revoked: TopicPartition[]) => {
      calls.push({ member, assigned: assigned.map(topicPartitionKey), revoked: revoked.map(topicPartitionKey) });
      const mine = owned[member];
      const other = owned[member === 'a' ? 'b' : 'a'];
      for (const tp of assigned) if (other.has(topicPartitionKey(tp))) overlap.push(topicPartitionKey(tp));
      await sleep(300);
      for (const tp of revoked) mine.delete(topicPartitionKey(tp));
      for (const tp of assigned) mine.add(topicPartitionKey(tp));
    };
    // Records only ever come from partitions whose onAssign has completed.
    const checkRecords = (members: Array<'a' | 'b'>) => (i: number, records: ConsumedRecord[]) => {
      for (const r of records) if (!owned[members[i]].has(topicPartitionKey({ topic: r.topic, partition: r.kafkaPartition }))) early.push(`${members[i]}:${r.kafkaPartition}`);
    };
    const a = consumer({ groupId, topics: [t], onAssign: onAssign('a') });
    await pollUntil([a], () => owned.a.size === 4, checkRecords(['a']));
    const b = consumer({ groupId, topics: [t], onAssign: onAssign('b') });
    await pollUntil([a, b], () => owned.a.size === 2 && owned.b.size === 2, checkRecords(['a', 'b']));
    expect(overlap).toEqual([]);
    expect(early).toEqual([]);
    expect(new Set([...owned.a, ...owned.b]).size).toBe(4);
    // a gave up two partitions (revoked) without re-opening the two it kept.
    const aRevoked = calls.filter((c) => c.member === 'a').flatMap((c) => c.revoked);
    expect(aRevoked.sort()).toEqual([...owned.b].sort());
    expect(calls.filter((c) => c.member === 'a').flatMap((c) => c.assigned).length).toBe(4);
    expect(a.assignment().map(topicPartitionKey).sort()).toEqual([...owned.a].sort());
    expect(b.assignment().map(topicPartitionKey).sort()).toEqual([...owned.b].sort());

    const bHad = [...owned.b];
    // A stopping runner closes its partitions itself (no onAssign on close); b leaves the group at
    // once, so a takes over well within the session timeout.
    await b.close();
    owned.b.clear();
    const left = Date.now();
    await pollUntil([a], () => owned.a.size === 4, checkRecords(['a']));
    expect(Date.now() - left).toBeLessThan(consumerSettings.sessionTimeoutMs);
    expect(overlap).toEqual([]);
    expect(early).toEqual([]);
    const last = calls.filter((c) => c.member === 'a').at(-1)!;
    expect(last.assigned.sort()).toEqual(bHad.sort());
    expect(last.revoked).toEqual([]);
    await a.close();
    await producer.close();
  });

  it('follows a topics regex to a topic created after subscribing', async () => {
    const prefix = uniqueName('bus-regex');
    const first = `${prefix}-one`;
    await admin.createTopics({ topics: [first], partitions: 1, replicas: 1 });
    created.push(first);
    const producer = bus.producer('regex');
    await (await producer.send([{ topic: first, value: undefined, valueBytes: Buffer.from('1') }])).durable;
    const assignedTopics = new Set<string>();
    const c = consumer({
      groupId: uniqueName('g-regex'),
      topicsRegex: new RegExp(`${prefix.replace(/[-]/g, '\\-')}-.*`),
      onAssign: (assigned) => assigned.forEach((tp) => assignedTopics.add(tp.topic)),
    });
    const one = await consumeN(c, 1);
    expect(one[0].topic).toBe(first);

    const second = `${prefix}-two`;
    created.push(second);
    // Created by the bus on first send, after the consumer subscribed.
    await (await producer.send([{ topic: second, value: undefined, valueBytes: Buffer.from('2') }])).durable;
    const two = await consumeN(c, 1, 30_000);
    expect(two[0].topic).toBe(second);
    expect(assignedTopics).toEqual(new Set([first, second]));
    await c.close();
    await producer.close();
  });

  it('reads, alters, resets and deletes group offsets (KIP-875)', async () => {
    const t = await topic('bus-offsets', 2);
    const groupId = uniqueName('g-offsets');
    const producer = bus.producer('offsets');
    await (await producer.send(Array.from({ length: 10 }, (_, i) => record(t, i, i % 2)))).durable;
    await producer.close();
    expect(await bus.groupOffsets(groupId)).toEqual(new Map());

    await bus.alterGroupOffsets(groupId, [
      { topic: t, partition: 0, offset: 3 },
      { topic: t, partition: 1, offset: 4 },
    ]);
    const k0 = topicPartitionKey({ topic: t, partition: 0 });
    const k1 = topicPartitionKey({ topic: t, partition: 1 });
    expect(await bus.groupOffsets(groupId)).toEqual(
      new Map([
        [k0, { topic: t, partition: 0, offset: 3 }],
        [k1, { topic: t, partition: 1, offset: 4 }],
      ]),
    );

    // A member reads from the altered offsets; while it is active, altering is refused.
    const c = consumer({ groupId, topics: [t] });
    const got = await consumeN(c, 3);
    expect(got.map((r) => `${r.kafkaPartition}:${r.kafkaOffset}`).sort()).toEqual(['0:3', '0:4', '1:4']);
    await expect(bus.alterGroupOffsets(groupId, [{ topic: t, partition: 0, offset: 0 }])).rejects.toThrow(/active members/);
    await expect(bus.deleteGroup(groupId)).rejects.toThrow(/active members/);
    await c.close();

    // null resets a partition: its committed offset is gone, the other stays.
    await bus.alterGroupOffsets(groupId, [{ topic: t, partition: 0, offset: null }]);
    expect(await bus.groupOffsets(groupId)).toEqual(new Map([[k1, { topic: t, partition: 1, offset: 4 }]]));
    const again = consumer({ groupId, topics: [t] });
    const fromStart = await consumeN(again, 6);
    expect(fromStart.filter((r) => r.kafkaPartition === 0).map((r) => r.kafkaOffset)).toEqual([0, 1, 2, 3, 4]);
    await again.close();

    await bus.deleteGroup(groupId);
    expect(await bus.groupOffsets(groupId)).toEqual(new Map());
    await bus.deleteGroup(groupId);
  });
});

describe('cooperativeAssign', () => {
  const counts = new Map([['t', 4]]);
  const tp = (partition: number) => ({ topic: 't', partition });

  it('gives everything to a lone member and balances new members', () => {
    expect(cooperativeAssign([{ memberId: 'a', topics: ['t'], owned: [] }], counts).get('a')).toEqual([0, 1, 2, 3].map(tp));
    const plan = cooperativeAssign(
      [
        { memberId: 'a', topics: ['t'], owned: [] },
        { memberId: 'b', topics: ['t'], owned: [] },
      ],
      counts,
    );
    expect(plan.get('a')!.length).toBe(2);
    expect(plan.get('b')!.length).toBe(2);
  });

  it('keeps owned partitions and withholds the ones that must move', () => {
    const round1 = cooperativeAssign(
      [
        { memberId: 'a', topics: ['t'], owned: [0, 1, 2, 3].map(tp) },
        { memberId: 'b', topics: ['t'], owned: [] },
      ],
      counts,
    );
    expect(round1.get('a')!.length).toBe(2);
    expect(round1.get('b')).toEqual([]);
    const round2 = cooperativeAssign(
      [
        { memberId: 'a', topics: ['t'], owned: round1.get('a')! },
        { memberId: 'b', topics: ['t'], owned: [] },
      ],
      counts,
    );
    expect(round2.get('a')).toEqual(round1.get('a'));
    expect(round2.get('b')!.length).toBe(2);
  });

  it('withholds a partition two members claim, and assigns only subscribed topics', () => {
    const plan = cooperativeAssign(
      [
        { memberId: 'a', topics: ['t'], owned: [tp(0)] },
        { memberId: 'b', topics: ['t', 'u'], owned: [tp(0)] },
      ],
      new Map([['t', 4], ['u', 2]]),
    );
    expect([...plan.values()].flat().some((x) => x.topic === 't' && x.partition === 0)).toBe(false);
    expect(plan.get('a')!.every((x) => x.topic === 't')).toBe(true);
    expect(plan.get('b')!.filter((x) => x.topic === 'u').length).toBe(2);
  });
});
