/**
 * Bytes on the wire: record keys/values, headers, and the Java client's key partitioner.
 *
 * Header values go out as bytes (string as UTF-8, Buffer as is, null as a null header, anything
 * else as JSON) and come back as a string when the bytes are valid UTF-8, else as a Buffer, so
 * textual headers read the same in standalone (in-process) and Kafka mode and binary ones survive.
 */
import { isUtf8 } from 'node:buffer';
import type { Header } from '../../api/index.ts';

/** Bytes of a key or value the runner did not convert (it normally does: `keyBytes`/`valueBytes`). */
export function toBytes(value: unknown): Buffer | null {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

const NO_HEADERS = Object.freeze({ map: undefined, bytes: 0 });

/**
 * Headers as the client's Map. Each key is its own Buffer object, so repeated header keys stay
 * separate entries (a Map keyed by string would merge them). Returns the map and its byte size.
 */
export function encodeHeaders(headers: Header[] | undefined): { map: Map<Buffer, Buffer> | undefined; bytes: number } {
  if (!headers || headers.length === 0) return NO_HEADERS;
  const map = new Map<Buffer, Buffer>();
  let bytes = 0;
  for (const h of headers) {
    const k = Buffer.from(h.key, 'utf8');
    const v = toBytes(h.value);
    map.set(k, v as Buffer);
    bytes += k.length + (v?.length ?? 0) + 4;
  }
  return { map, bytes };
}

export function decodeHeaders(raw: Array<[Buffer | null, Buffer | null]>): Header[] | undefined {
  if (raw.length === 0) return undefined;
  const out: Header[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const [k, v] = raw[i];
    out[i] = { key: k ? k.toString('utf8') : '', value: v === null ? null : isUtf8(v) ? v.toString('utf8') : v };
  }
  return out;
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), in 32-bit integer arithmetic. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ length) | 0;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    let k = data.readInt32LE(i << 2);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[tail + 2] << 16;
    if (rest >= 2) h ^= data[tail + 1] << 8;
    h ^= data[tail];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The Java producer's partition for a keyed record: `toPositive(murmur2(key)) % partitions`. */
export function keyPartition(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
