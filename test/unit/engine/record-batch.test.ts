// Our RecordBatch v2 encoder against @platformatic/kafka's own decoder and encoder: every field of
// the batch header, the CRC-32C, records byte for byte as the client writes them, headers with
// binary, null and non-string values, null keys and values, timestamps out of order and far apart,
// an arena that grows in the middle of a batch, and Produce request bodies read back field by field.
import { createRecordsBatch, jsCRC32C, Reader, readRecordsBatch } from '@platformatic/kafka';
import type { MessageRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import type { BatchRecord, PartitionBatch } from '../../../runtime/engine/kafka/record-batch.ts';
import { crc32c, crc32cJs, nextSequence, produceRequestBody, RecordBatchEncoder, varintSize } from '../../../runtime/engine/kafka/record-batch.ts';

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const T = 1_765_000_000_000;

function records(): BatchRecord[] {
  return [
    { key: Buffer.from('k0'), value: Buffer.from('{"a":1}'), headers: undefined, timestamp: T },
    { key: null, value: Buffer.from('keyless'), headers: undefined, timestamp: T + 5 },
    { key: Buffer.from('tombstone'), value: null, headers: undefined, timestamp: T - 3 },
    {
      key: Buffer.from('h'),
      value: Buffer.alloc(0),
      headers: [
        { key: 'text', value: 'ünïcode' },
        { key: 'bin', value: Buffer.from([0xff, 0x00, 0x80]) },
        { key: 'nothing', value: null },
        { key: 'num', value: 42 },
        { key: 'text', value: 'again' },
        { key: '', value: '' },
      ],
      timestamp: T + 1_000_000_000, // a delta of 2^29.9: a 5-byte varlong
    },
    { key: bytes(300, 1), value: bytes(20_000, 2), headers: [{ key: 'u8', value: new Uint8Array([1, 2, 3]) }], timestamp: undefined },
    { key: null, value: null, headers: undefined, timestamp: 0 }, // a delta of -T: a 6-byte varlong
    { key: Buffer.from('late'), value: Buffer.from('v'), headers: undefined, timestamp: T + 2 ** 31 }, // the greatest
  ];
}

/** The header values as bytes, as the producer sends them. */
function headerBytes(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string') return Buffer.from(v);
  return Buffer.from(JSON.stringify(v));
}

const NOW = T + 7;
const ID = { producerId: 4711n, producerEpoch: 3, baseSequence: 1234 };

describe('CRC-32C', () => {
  it('matches the client and the standard check value, native and in JavaScript', () => {
    expect(crc32cJs(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const big = bytes(70_001, 9);
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 1000, 70_001]) {
      // Views at odd offsets too: the encoder checksums a slice of its arena.
      for (const offset of [0, 3]) {
        const view = big.subarray(offset, offset + n);
        const expected = jsCRC32C(Buffer.from(view));
        expect(crc32cJs(view)).toBe(expected);
        expect(crc32c(view)).toBe(expected);
      }
    }
  });
});

describe('RecordBatchEncoder', () => {
  it('writes a batch the client decodes field by field, with a valid CRC', () => {
    const rs = records();
    const enc = new RecordBatchEncoder();
    const buf = enc.encode(rs, 0, rs.length, ID, NOW);
    const batch = readRecordsBatch(Reader.from(buf));
    expect(batch.firstOffset).toBe(0n);
    expect(batch.length).toBe(buf.length - 12);
    expect(batch.partitionLeaderEpoch).toBe(-1);
    expect(batch.magic).toBe(2);
    expect(batch.crc).toBe(jsCRC32C(Buffer.from(buf.subarray(21))));
    expect(batch.attributes).toBe(0);
    expect(batch.lastOffsetDelta).toBe(rs.length - 1);
    expect(batch.firstTimestamp).toBe(BigInt(T));
    expect(batch.maxTimestamp).toBe(BigInt(T + 2 ** 31));
    expect(batch.producerId).toBe(4711n);
    expect(batch.producerEpoch).toBe(3);
    expect(batch.firstSequence).toBe(1234);
    expect(batch.records.length).toBe(rs.length);
    batch.records.forEach((got, i) => {
      const want = rs[i];
      expect(got.attributes).toBe(0);
      expect(got.offsetDelta).toBe(i);
      expect(got.timestampDelta).toBe(BigInt((want.timestamp ?? NOW) - T));
      expect(got.key === null ? null : Buffer.from(got.key)).toEqual(want.key);
      expect(got.value === null ? null : Buffer.from(got.value)).toEqual(want.value);
      expect(got.headers.map(([k, v]) => [k?.toString(), v === null ? null : Buffer.from(v)])).toEqual(
        (want.headers ?? []).map((h) => [h.key, headerBytes(h.value)]),
      );
    });
  });

  it('writes the records byte for byte as the client does', () => {
    // Without the last two: the client's varlong writer gets deltas of 2^31 ms and more wrong
    // (2^31 comes out as -1, -T as another number), which its own decoder above reads right from us.
    const rs = records().slice(0, -2);
    const buf = new RecordBatchEncoder().encode(rs, 0, rs.length, ID, NOW);
    const messages = rs.map((r) => ({
      topic: 't',
      partition: 0,
      key: r.key ?? undefined,
      value: r.value ?? undefined,
      headers: new Map((r.headers ?? []).map((h) => [Buffer.from(h.key), headerBytes(h.value)] as [Buffer, Buffer])),
      timestamp: BigInt(r.timestamp ?? NOW),
    })) as unknown as MessageRecord[];
    const theirs = createRecordsBatch(messages, { producerId: ID.producerId, producerEpoch: ID.producerEpoch }).buffer;
    // The same records section; the headers differ only in partitionLeaderEpoch (theirs 0), the CRC and the sequence.
    expect(buf.subarray(61)).toEqual(theirs.subarray(61));
    expect(buf.length).toBe(theirs.length);
  });

  it('keeps earlier batches intact when the arena grows in the middle of a batch', () => {
    const enc = new RecordBatchEncoder(256);
    const small = [{ key: Buffer.from('a'), value: Buffer.from('first'), headers: undefined, timestamp: T }];
    const first = enc.encode(small, 0, 1, ID, NOW);
    const copy = Buffer.from(first);
    const many = Array.from({ length: 50 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: bytes(1000 + i, i), headers: undefined, timestamp: T + i }));
    const second = enc.encode(many, 10, 50, { ...ID, baseSequence: 1 }, NOW);
    expect(first).toEqual(copy);
    const a = readRecordsBatch(Reader.from(first));
    expect(a.records[0].value?.toString()).toBe('first');
    const b = readRecordsBatch(Reader.from(second));
    expect(b.crc).toBe(jsCRC32C(Buffer.from(second.subarray(21))));
    expect(b.records.length).toBe(40);
    expect(b.records.map((r) => Buffer.from(r.value!))).toEqual(many.slice(10).map((r) => r.value));
    expect(b.firstTimestamp).toBe(BigInt(T + 10));
    expect(b.maxTimestamp).toBe(BigInt(T + 49));
    // After a reset the arena is reused from its start.
    enc.reset();
    const third = enc.encode(small, 0, 1, ID, NOW);
    expect(third.buffer).toBe(second.buffer);
  });

  it('marks transactional batches', () => {
    const buf = new RecordBatchEncoder().encode(records(), 0, 1, { ...ID, transactional: true }, NOW);
    expect(readRecordsBatch(Reader.from(buf)).attributes).toBe(1 << 4);
  });

  it('sizes varints as zigzag base-128 and wraps sequence numbers like the Java client', () => {
    const cases: Array<[number, number]> = [[0, 1], [-1, 1], [63, 1], [64, 2], [-65, 2], [8191, 2], [8192, 3], [2 ** 27, 5], [2 ** 31, 5], [-(2 ** 31), 5], [2 ** 34, 6], [-T, 6]];
    for (const [v, n] of cases) expect([v, varintSize(v)]).toEqual([v, n]);
    expect(nextSequence(5, 3)).toBe(8);
    expect(nextSequence(0x7fffffff, 1)).toBe(0);
    expect(nextSequence(0x7ffffffe, 3)).toBe(1);
  });
});

describe('produceRequestBody', () => {
  const enc = new RecordBatchEncoder();
  const rs = records();
  const batches: PartitionBatch[] = [
    { topic: 'orders', partition: 2, bytes: Buffer.from(enc.encode(rs, 0, 2, ID, NOW)), count: 2, baseSequence: 0 },
    { topic: 'users', partition: 0, bytes: Buffer.from(enc.encode(rs, 2, 3, ID, NOW)), count: 1, baseSequence: 0 },
    { topic: 'orders', partition: 0, bytes: Buffer.from(enc.encode(rs, 3, 7, ID, NOW)), count: 4, baseSequence: 0 },
  ];

  it('writes v9+ bodies: compact strings and arrays, tagged fields, topics grouped in order', () => {
    const r = Reader.from(Buffer.concat(produceRequestBody(batches, -1, 30_000, 9)));
    expect(r.readNullableString()).toBeNull();
    expect(r.readInt16()).toBe(-1);
    expect(r.readInt32()).toBe(30_000);
    const topics = r.readArray((t) => ({
      name: t.readString(),
      partitions: t.readArray((p) => ({ index: p.readInt32(), records: Buffer.from(p.readBytes()) })),
    }));
    expect(r.readUnsignedVarInt()).toBe(0); // the request's tagged fields
    expect(r.remaining).toBe(0);
    expect(topics.map((t) => [t.name, t.partitions.map((p) => p.index)])).toEqual([['orders', [2, 0]], ['users', [0]]]);
    expect(topics[0].partitions[0].records).toEqual(batches[0].bytes);
    expect(topics[0].partitions[1].records).toEqual(batches[2].bytes);
    expect(topics[1].partitions[0].records).toEqual(batches[1].bytes);
  });

  it('writes v7/v8 bodies: int16 strings, int32 arrays and lengths, no tagged fields', () => {
    const r = Reader.from(Buffer.concat(produceRequestBody(batches, -1, 1500, 8)));
    expect(r.readNullableString(false)).toBeNull();
    expect(r.readInt16()).toBe(-1);
    expect(r.readInt32()).toBe(1500);
    const topics = r.readArray(
      (t) => ({
        name: t.readString(false),
        partitions: t.readArray((p) => ({ index: p.readInt32(), records: Buffer.from(p.readBytes(false)) }), false, false),
      }),
      false,
      false,
    );
    expect(r.remaining).toBe(0);
    expect(topics.map((t) => [t.name, t.partitions.map((p) => p.index)])).toEqual([['orders', [2, 0]], ['users', [0]]]);
    expect(topics[1].partitions[0].records).toEqual(batches[1].bytes);
  });
});
