// The producer's own record-batch encoder (runtime/engine/kafka/record-batch.ts) against the real
// test broker: whatever the broker accepted is read back byte for byte (keys, null keys, null
// values, empty values, repeated/binary/null headers, timestamps given and not), with several
// topics and partitions in one request and many requests in a row (the broker rejects a batch
// whose sequence number does not follow the last one), topics produced to before their leaders
// are ready (NOT_LEADER_OR_FOLLOWER, retried: every record exactly once), and the client's own
// path when compression is configured.
import { Admin, ListOffsetTimestamps } from '@platformatic/kafka';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Header } from '../../../runtime/api/index.ts';
import { KafkaBus } from '../../../runtime/engine/kafka-bus.ts';
import type { BusConsumer, BusRecord, ConsumedRecord } from '../../../runtime/engine/topic-bus.ts';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';

const brokers = kafkaBrokers();
const admin = new Admin({ clientId: uniqueName('encoding-test-admin'), bootstrapBrokers: brokers });
const created: string[] = [];
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
let bus: KafkaBus;

beforeAll(async () => {
  bus = new KafkaBus({
    bootstrapServers: brokers,
    clientId: uniqueName('encoding-test'),
    logger,
    consumer: { heartbeatIntervalMs: 300, sessionTimeoutMs: 6_000, metadataRefreshMs: 1_000 },
  });
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

async function consumeAll(topics: string[], n: number, timeoutMs = 30_000): Promise<ConsumedRecord[]> {
  const c: BusConsumer = bus.consumer({ memberId: uniqueName('member'), groupId: uniqueName('g-encoding'), topics });
  const out: ConsumedRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  try {
    while (out.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${out.length} of ${n} records arrived`);
      out.push(...(await c.poll(1000, 200, signal)));
    }
    // Nothing more than was sent.
    out.push(...(await c.poll(1000, 500, signal)));
  } finally {
    await c.close();
  }
  return out;
}

const T0 = Date.now() - 60_000;

/** A varied record `i`: every fourth keyless, every fifth a tombstone, every seventh with no timestamp, headers of every kind. */
function record(t: string, i: number, partition: number): BusRecord {
  const headers: Header[] = [];
  if (i % 3 === 0) headers.push({ key: 'seq', value: String(i) }, { key: 'seq', value: `again-${i}` });
  if (i % 3 === 1) headers.push({ key: 'bin', value: Buffer.from([0xff, 0xfe, 0x00, i & 0xff]) }, { key: 'nothing', value: null });
  if (i % 6 === 2) headers.push({ key: 'ünï', value: '€ and more' }, { key: 'empty', value: '' });
  return {
    topic: t,
    kafkaPartition: partition,
    value: undefined,
    keyBytes: i % 4 === 0 ? null : Buffer.from(`key-${i}`),
    valueBytes: i % 5 === 0 ? null : i % 11 === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify({ i, pad: 'x'.repeat((i * 37) % 300) })),
    timestamp: i % 7 === 0 ? undefined : T0 + i * 1000,
    headers,
  };
}

/** Header values as they come back: UTF-8 as strings, other bytes as Buffers, null as null. */
function expectedHeaders(headers: Header[] | undefined): Header[] | undefined {
  if (!headers || headers.length === 0) return undefined;
  return headers.map((h) => ({ key: h.key, value: Buffer.isBuffer(h.value) && !Buffer.from(h.value).toString('utf8').includes('\ufffd') ? h.value.toString('utf8') : h.value }));
}

function compare(sent: BusRecord[], got: ConsumedRecord[], sentFrom: number, sentTo: number): void {
  const byTopicPartition = new Map<string, ConsumedRecord[]>();
  for (const r of got) {
    const k = `${r.topic}:${r.kafkaPartition}`;
    if (!byTopicPartition.has(k)) byTopicPartition.set(k, []);
    byTopicPartition.get(k)!.push(r);
  }
  const expected = new Map<string, BusRecord[]>();
  for (const r of sent) {
    const k = `${r.topic}:${r.kafkaPartition}`;
    if (!expected.has(k)) expected.set(k, []);
    expected.get(k)!.push(r);
  }
  expect([...byTopicPartition.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [k, want] of expected) {
    const have = byTopicPartition.get(k)!;
    expect(have.length).toBe(want.length);
    have.forEach((r, i) => {
      const w = want[i];
      expect(r.kafkaOffset).toBe(i);
      expect(r.keyBytes ?? null).toEqual(w.keyBytes);
      expect(r.valueBytes ?? null).toEqual(w.valueBytes);
      if (w.timestamp === undefined) {
        expect(r.timestamp).toBeGreaterThanOrEqual(sentFrom);
        expect(r.timestamp).toBeLessThanOrEqual(sentTo);
      } else {
        expect(r.timestamp).toBe(w.timestamp);
      }
      expect(r.headers).toEqual(expectedHeaders(w.headers));
    });
  }
}

describe('the producer encoding its own record batches', () => {
  it('round-trips every kind of record across topics and partitions in one request, byte for byte', async () => {
    const a = await topic('enc-a', 3);
    const b = await topic('enc-b', 2);
    const producer = bus.producer('roundtrip');
    const records: BusRecord[] = [];
    for (let i = 0; i < 400; i++) records.push(record(i % 2 === 0 ? a : b, i, i % 2 === 0 ? i % 3 : i % 2));
    const from = Date.now();
    const { durable } = await producer.send(records);
    await durable;
    const to = Date.now();
    await producer.close();
    compare(records, await consumeAll([a, b], records.length), from, to);
  });

  it('numbers many requests in a row per partition (the broker checks the sequence numbers)', async () => {
    const t = await topic('enc-seq', 3);
    // A small in-flight budget: requests of ~16 KB, so each partition gets dozens of batches.
    const small = new KafkaBus({ bootstrapServers: brokers, clientId: uniqueName('encoding-small'), producer: { maxInFlightBytes: 32 * 1024 } });
    const records: BusRecord[] = [];
    const from = Date.now();
    try {
      const producer = small.producer('sequences');
      const durables: Array<Promise<void>> = [];
      for (let s = 0; s < 20; s++) {
        const batch = Array.from({ length: 100 }, (_, j) => record(t, s * 100 + j, (s * 100 + j) % 3));
        records.push(...batch);
        durables.push((await producer.send(batch)).durable);
      }
      await Promise.all(durables);
      await producer.close();
    } finally {
      await small.close();
    }
    compare(records, await consumeAll([t], records.length), from, Date.now());
  });

  it('produces to topics whose leaders are not ready yet, retrying, every record exactly once', async () => {
    const retriesBefore = logLines.filter((l) => l.includes('produce failed; retrying')).length;
    for (let round = 0; round < 6; round++) {
      const t = await topic('enc-fresh', 4);
      const producer = bus.producer(`fresh-${round}`);
      const records = Array.from({ length: 40 }, (_, i) => record(t, i, i % 4));
      const { durable } = await producer.send(records);
      await durable;
      await producer.close();
      const ends = await admin.listOffsets({ topics: [{ name: t, partitions: [0, 1, 2, 3].map((partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })) }] });
      expect(ends[0].partitions.map((p) => Number(p.offset))).toEqual([10, 10, 10, 10]);
    }
    // How often the broker answered NOT_LEADER_OR_FOLLOWER for a just-created topic (about one round in three here).
    console.log(`retried requests: ${logLines.filter((l) => l.includes('produce failed; retrying')).length - retriesBefore}`);
  });

  it('sends through the client when compression is configured', async () => {
    const t = await topic('enc-gzip', 2);
    const gzip = new KafkaBus({ bootstrapServers: brokers, clientId: uniqueName('encoding-gzip'), producer: { compression: 'gzip' } });
    const records = Array.from({ length: 50 }, (_, i) => record(t, i, i % 2));
    const from = Date.now();
    try {
      const producer = gzip.producer('gzip');
      await (await producer.send(records)).durable;
      await producer.close();
    } finally {
      await gzip.close();
    }
    compare(records, await consumeAll([t], records.length), from, Date.now());
  });
});
