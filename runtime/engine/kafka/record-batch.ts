/**
 * Kafka's RecordBatch v2 (magic 2) and Produce request bodies, encoded by us straight into a reused
 * arena, so a request is built once, without the client's per-record writers, Maps and message
 * objects (see producer.ts for how requests are sent).
 *
 * A batch (one topic-partition) on the wire, big-endian:
 *
 *   baseOffset int64 (0) | batchLength int32 (bytes after this field) | partitionLeaderEpoch int32 (-1)
 *   | magic int8 (2) | crc uint32 (CRC-32C of everything after it) | attributes int16
 *   | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 | producerId int64
 *   | producerEpoch int16 | baseSequence int32 | recordCount int32 | records
 *
 * and each record: length varint | attributes int8 (0) | timestampDelta varlong | offsetDelta varint
 * | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value | headerCount varint
 * | per header: keyLength varint | key | valueLength varint (-1 = null) | value. Varints are
 * zigzag-encoded base-128, as in protobuf.
 */
import { createRequire } from 'node:module';
import type { Header } from '../../api/index.ts';

/** What the encoder reads of a queued record. */
export interface BatchRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Header[] | undefined;
  /** Milliseconds since the epoch; undefined = the request's `now`. */
  timestamp: number | undefined;
}

export interface BatchIdentity {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  transactional?: boolean;
}

const BATCH_HEADER = 61;
const CRC_START = 21;
const MAGIC = 2;
const NO_PARTITION_LEADER_EPOCH = -1;
const TRANSACTIONAL = 1 << 4;
const TWO_32 = 4294967296;

// --- CRC-32C (Castagnoli), the checksum of RecordBatch v2 --------------------------------------

type Crc = (data: Buffer) => number;

/** CRC-32C in JavaScript, slicing by 8 (tables for the reflected polynomial 0x82F63B78). */
const TABLES: Int32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0][n];
    for (let s = 1; s < 8; s++) {
      c = t[0][c & 0xff] ^ (c >>> 8);
      t[s][n] = c;
    }
  }
  return t;
})();

export function crc32cJs(data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = ~0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n & 7);
  for (; i < end8; i += 8) {
    const a = crc ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    crc =
      t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < n; i++) crc = t0[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * The native CRC-32C the Kafka client itself loads when it is installed (@node-rs/crc32, an
 * optional dependency of @platformatic/kafka; hardware CRC instructions), called on a view of the
 * arena without the client's copy; else ours in JavaScript.
 */
function loadCrc(): Crc {
  try {
    const require = createRequire(import.meta.url);
    const native = (require('@node-rs/crc32') as { crc32c(input: Uint8Array): number }).crc32c;
    const probe = Buffer.from('123456789');
    if (native(probe) >>> 0 === 0xe3069283) return (b) => native(b) >>> 0;
  } catch {
    // not installed: ours
  }
  return crc32cJs;
}

export const crc32c: Crc = loadCrc();

// --- varints ---------------------------------------------------------------------------------

/** Bytes of `v` (a safe integer) as a zigzag varint/varlong. */
export function varintSize(v: number): number {
  let z = v >= 0 ? v * 2 : -v * 2 - 1;
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x200000) return 3;
  if (z < 0x10000000) return 4;
  let n = 4;
  z = Math.floor(z / 0x10000000);
  while (z > 0) {
    n++;
    z = Math.floor(z / 0x80);
  }
  return n;
}

/** A safe integer as a zigzag varint/varlong. */
function writeVarint(buf: Buffer, pos: number, v: number): number {
  return writeUvarint(buf, pos, v >= 0 ? v * 2 : -v * 2 - 1);
}

/** A non-negative safe integer as an unsigned varint: bit operations below 2^31, arithmetic above. */
function writeUvarint(buf: Buffer, pos: number, v: number): number {
  if (v < 0x80000000) {
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    return pos;
  }
  while (v >= 0x80) {
    buf[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[pos++] = v;
  return pos;
}

/** A safe integer as a big-endian int64. */
function writeInt64(buf: Buffer, pos: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi, pos);
  buf.writeUInt32BE(v - hi * TWO_32, pos + 4);
}

// --- header values as bytes (the same mapping as codec.ts's toBytes) ---------------------------

/** A header value as what goes on the wire: a Buffer, a string (as UTF-8), or null. */
function headerValue(v: unknown): Buffer | string | null {
  if (v === undefined || v === null) return null;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function byteLength(v: Buffer | string): number {
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
}

// --- the encoder -----------------------------------------------------------------------------

/**
 * Encodes batches into one arena, reused from request to request: `reset()` once the previous
 * request's batches are no longer needed (acknowledged, or the producer failed). A batch that no
 * longer fits moves to a bigger arena; views returned earlier stay valid (they keep the old one).
 */
export class RecordBatchEncoder {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Records `from` (inclusive) to `to` (exclusive) of `records`, one topic-partition, as a batch. */
  encode(records: readonly BatchRecord[], from: number, to: number, id: BatchIdentity, now: number): Buffer {
    const count = to - from;
    let start = this.pos;
    if (start + BATCH_HEADER > this.buf.length) {
      this.grow(start, start, BATCH_HEADER);
      start = 0;
    }
    // The first record's timestamp is the base, the greatest the max (deltas may be negative).
    const base = records[from].timestamp ?? now;
    let max = base;
    for (let i = from + 1; i < to; i++) {
      const ts = records[i].timestamp ?? now;
      if (ts > max) max = ts;
    }
    let pos = start + BATCH_HEADER;
    for (let i = from; i < to; i++) {
      const r = records[i];
      const tsDelta = (r.timestamp ?? now) - base;
      const offsetDelta = i - from;
      const keyLen = r.key === null ? -1 : r.key.length;
      const valueLen = r.value === null ? -1 : r.value.length;
      const headers = r.headers;
      let body = 1 + varintSize(tsDelta) + varintSize(offsetDelta) + varintSize(keyLen) + (keyLen > 0 ? keyLen : 0) + varintSize(valueLen) + (valueLen > 0 ? valueLen : 0);
      const headerCount = headers === undefined ? 0 : headers.length;
      body += varintSize(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const hk = Buffer.byteLength(headers![h].key, 'utf8');
        const hv = headerValue(headers![h].value);
        const hvLen = hv === null ? -1 : byteLength(hv);
        body += varintSize(hk) + hk + varintSize(hvLen) + (hvLen > 0 ? hvLen : 0);
      }
      const size = varintSize(body) + body;
      if (pos + size > this.buf.length) {
        pos = this.grow(start, pos, size);
        start = 0;
      }
      const buf = this.buf;
      pos = writeVarint(buf, pos, body);
      buf[pos++] = 0;
      pos = writeVarint(buf, pos, tsDelta);
      pos = writeVarint(buf, pos, offsetDelta);
      pos = writeVarint(buf, pos, keyLen);
      if (keyLen > 0) pos += r.key!.copy(buf, pos);
      pos = writeVarint(buf, pos, valueLen);
      if (valueLen > 0) pos += r.value!.copy(buf, pos);
      pos = writeVarint(buf, pos, headerCount);
      for (let h = 0; h < headerCount; h++) {
        const key = headers![h].key;
        const hk = Buffer.byteLength(key, 'utf8');
        pos = writeVarint(buf, pos, hk);
        if (hk > 0) pos += buf.write(key, pos, hk, 'utf8');
        const hv = headerValue(headers![h].value);
        if (hv === null) {
          pos = writeVarint(buf, pos, -1);
        } else if (typeof hv === 'string') {
          const n = Buffer.byteLength(hv, 'utf8');
          pos = writeVarint(buf, pos, n);
          if (n > 0) pos += buf.write(hv, pos, n, 'utf8');
        } else {
          pos = writeVarint(buf, pos, hv.length);
          if (hv.length > 0) pos += hv.copy(buf, pos);
        }
      }
    }
    const buf = this.buf;
    buf.fill(0, start, start + 8); // baseOffset
    buf.writeInt32BE(pos - start - 12, start + 8);
    buf.writeInt32BE(NO_PARTITION_LEADER_EPOCH, start + 12);
    buf[start + 16] = MAGIC;
    buf.writeInt16BE(id.transactional ? TRANSACTIONAL : 0, start + 21);
    buf.writeInt32BE(count - 1, start + 23);
    writeInt64(buf, start + 27, base);
    writeInt64(buf, start + 35, max);
    buf.writeBigInt64BE(id.producerId, start + 43);
    buf.writeInt16BE(id.producerEpoch, start + 51);
    buf.writeInt32BE(id.baseSequence, start + 53);
    buf.writeInt32BE(count, start + 57);
    buf.writeUInt32BE(crc32c(buf.subarray(start + CRC_START, pos)), start + 17);
    this.pos = pos;
    return buf.subarray(start, pos);
  }

  /** A bigger arena holding the batch begun at `start` (its bytes up to `pos`); returns the new `pos`. */
  private grow(start: number, pos: number, need: number): number {
    const used = pos - start;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, used + need + BATCH_HEADER));
    this.buf.copy(next, 0, start, pos);
    this.buf = next;
    this.pos = 0;
    return used;
  }
}

/** Sequence numbers are int32 and wrap to 0 after 2^31-1 (Java's DefaultRecordBatch.incrementSequence). */
export function nextSequence(sequence: number, increment: number): number {
  return sequence > 0x7fffffff - increment ? increment - (0x7fffffff - sequence) - 1 : sequence + increment;
}

// --- Produce request bodies ------------------------------------------------------------------

export interface PartitionBatch {
  topic: string;
  partition: number;
  /** The encoded batch (a view into the encoder's arena). */
  bytes: Buffer;
  /** Records in it. */
  count: number;
  /** Its first record's sequence number. */
  baseSequence: number;
}

/**
 * The body of a Produce request (after the request header, which the connection writes) for
 * `batches`, grouped by topic in their order, as chunks to be written one after another. Versions
 * 9 and later are flexible (compact strings and arrays, tagged fields); 3-8 are not.
 */
export function produceRequestBody(batches: readonly PartitionBatch[], acks: number, timeoutMs: number, version: number): Buffer[] {
  const flexible = version >= 9;
  const byTopic = new Map<string, PartitionBatch[]>();
  for (const b of batches) {
    let list = byTopic.get(b.topic);
    if (list === undefined) byTopic.set(b.topic, (list = []));
    list.push(b);
  }
  // Everything but the batches themselves goes into one small framing buffer, sliced between them.
  let framing = 8 + 5;
  for (const [topic, list] of byTopic) framing += 2 + 5 + Buffer.byteLength(topic, 'utf8') + 5 + 1 + list.length * (4 + 5 + 1);
  const f = Buffer.allocUnsafe(framing);
  const chunks: Buffer[] = [];
  let pos = 0;
  let mark = 0;
  if (flexible) f[pos++] = 0; // transactional_id: null compact string
  else pos = f.writeInt16BE(-1, pos);
  pos = f.writeInt16BE(acks, pos);
  pos = f.writeInt32BE(timeoutMs, pos);
  pos = flexible ? writeUvarint(f, pos, byTopic.size + 1) : f.writeInt32BE(byTopic.size, pos);
  for (const [topic, list] of byTopic) {
    const n = Buffer.byteLength(topic, 'utf8');
    pos = flexible ? writeUvarint(f, pos, n + 1) : f.writeInt16BE(n, pos);
    pos += f.write(topic, pos, n, 'utf8');
    pos = flexible ? writeUvarint(f, pos, list.length + 1) : f.writeInt32BE(list.length, pos);
    for (let i = 0; i < list.length; i++) {
      const b = list[i];
      pos = f.writeInt32BE(b.partition, pos);
      pos = flexible ? writeUvarint(f, pos, b.bytes.length + 1) : f.writeInt32BE(b.bytes.length, pos);
      chunks.push(f.subarray(mark, pos), b.bytes);
      mark = pos;
      if (flexible) f[pos++] = 0; // the partition's tagged fields
    }
    if (flexible) f[pos++] = 0; // the topic's tagged fields
  }
  if (flexible) f[pos++] = 0; // the request's tagged fields
  if (pos > mark) chunks.push(f.subarray(mark, pos));
  return chunks;
}
