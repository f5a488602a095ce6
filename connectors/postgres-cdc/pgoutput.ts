/**
 * A decoder for the pgoutput logical replication protocol (versions 1 and 2 without streamed
 * transactions), as carried in the XLogData messages of a replication stream. Column values stay
 * as the server's text output (or raw bytes with `binary`); type-mapping.ts turns them into values.
 *
 * Wire format: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
import { readLsn } from './lsn.ts';

/** A TOASTed column whose value did not change and was not sent ('u' in TupleData). */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');
export type TupleValue = string | null | typeof UNCHANGED_TOAST | Buffer;

export interface RelationColumn {
  /** Part of the replica identity (key) as the server sees it. */
  isKey: boolean;
  name: string;
  typeOid: number;
  typeMod: number;
}

/** Replica identity setting: d(efault), n(othing), f(ull), i(ndex). */
export type ReplicaIdentity = 'd' | 'n' | 'f' | 'i';

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: number; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: number; endLsn: number; commitTime: bigint }
  | { tag: 'origin'; originLsn: number; name: string }
  | { tag: 'relation'; relationOid: number; schema: string; table: string; replicaIdentity: ReplicaIdentity; columns: RelationColumn[] }
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'insert'; relationOid: number; newTuple: TupleValue[] }
  | { tag: 'update'; relationOid: number; keyTuple: TupleValue[] | null; oldTuple: TupleValue[] | null; newTuple: TupleValue[] }
  | { tag: 'delete'; relationOid: number; keyTuple: TupleValue[] | null; oldTuple: TupleValue[] | null }
  | { tag: 'truncate'; cascade: boolean; restartIdentity: boolean; relationOids: number[] }
  | { tag: 'message'; transactional: boolean; lsn: number; prefix: string; content: Buffer };

/** Microseconds between the Unix epoch and Postgres' epoch (2000-01-01). */
export const PG_EPOCH_MICROS = 946_684_800_000_000n;

export class PgOutputDecodeError extends Error {}

/** Decodes one pgoutput message from `buf[start..]` (the payload of an XLogData message). */
export function decodePgOutput(buf: Buffer, start = 0): PgOutputMessage {
  const r = new Reader(buf, start + 1);
  switch (buf[start]) {
    case 0x42: // B
      return { tag: 'begin', finalLsn: r.lsn(), commitTime: r.int64(), xid: r.uint32() };
    case 0x43: // C
      return { tag: 'commit', flags: r.uint8(), commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.int64() };
    case 0x4f: // O
      return { tag: 'origin', originLsn: r.lsn(), name: r.cstring() };
    case 0x52: { // R
      const relationOid = r.uint32();
      const schema = r.cstring();
      const table = r.cstring();
      const replicaIdentity = String.fromCharCode(r.uint8()) as ReplicaIdentity;
      const n = r.int16();
      const columns: RelationColumn[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const flags = r.uint8();
        columns[i] = { isKey: (flags & 1) === 1, name: r.cstring(), typeOid: r.uint32(), typeMod: r.int32() };
      }
      return { tag: 'relation', relationOid, schema, table, replicaIdentity, columns };
    }
    case 0x59: // Y
      return { tag: 'type', typeOid: r.uint32(), schema: r.cstring(), name: r.cstring() };
    case 0x49: { // I
      const relationOid = r.uint32();
      r.expect(0x4e);
      return { tag: 'insert', relationOid, newTuple: r.tuple() };
    }
    case 0x55: { // U
      const relationOid = r.uint32();
      let keyTuple: TupleValue[] | null = null;
      let oldTuple: TupleValue[] | null = null;
      let kind = r.uint8();
      if (kind === 0x4b) keyTuple = r.tuple();
      else if (kind === 0x4f) oldTuple = r.tuple();
      if (kind !== 0x4e) kind = r.uint8();
      if (kind !== 0x4e) throw new PgOutputDecodeError(`Update: expected 'N', got 0x${kind.toString(16)}`);
      return { tag: 'update', relationOid, keyTuple, oldTuple, newTuple: r.tuple() };
    }
    case 0x44: { // D
      const relationOid = r.uint32();
      const kind = r.uint8();
      if (kind === 0x4b) return { tag: 'delete', relationOid, keyTuple: r.tuple(), oldTuple: null };
      if (kind === 0x4f) return { tag: 'delete', relationOid, keyTuple: null, oldTuple: r.tuple() };
      throw new PgOutputDecodeError(`Delete: expected 'K' or 'O', got 0x${kind.toString(16)}`);
    }
    case 0x54: { // T
      const n = r.uint32();
      const options = r.uint8();
      const relationOids = new Array<number>(n);
      for (let i = 0; i < n; i++) relationOids[i] = r.uint32();
      return { tag: 'truncate', cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2, relationOids };
    }
    case 0x4d: { // M
      const flags = r.uint8();
      const lsn = r.lsn();
      const prefix = r.cstring();
      const length = r.uint32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: r.bytes(length) };
    }
    default:
      throw new PgOutputDecodeError(`unknown pgoutput message type 0x${(buf[start] ?? 0).toString(16)} (streamed transactions need proto_version 1 or 2 without streaming)`);
  }
}

class Reader {
  private readonly buf: Buffer;
  private at: number;

  constructor(buf: Buffer, at: number) {
    this.buf = buf;
    this.at = at;
  }

  uint8(): number {
    return this.buf[this.at++];
  }

  expect(byte: number): void {
    const got = this.buf[this.at++];
    if (got !== byte) throw new PgOutputDecodeError(`expected 0x${byte.toString(16)}, got 0x${(got ?? 0).toString(16)}`);
  }

  int16(): number {
    const v = this.buf.readInt16BE(this.at);
    this.at += 2;
    return v;
  }

  int32(): number {
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  uint32(): number {
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  lsn(): number {
    const v = readLsn(this.buf, this.at);
    this.at += 8;
    return v;
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.at);
    if (end < 0) throw new PgOutputDecodeError('unterminated string');
    const s = this.buf.toString('utf8', this.at, end);
    this.at = end + 1;
    return s;
  }

  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }

  tuple(): TupleValue[] {
    const buf = this.buf;
    const n = buf.readInt16BE(this.at);
    let at = this.at + 2;
    const out: TupleValue[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const kind = buf[at++];
      if (kind === 0x74) { // t
        const len = buf.readInt32BE(at);
        at += 4;
        out[i] = buf.toString('utf8', at, at + len);
        at += len;
      } else if (kind === 0x6e) { // n
        out[i] = null;
      } else if (kind === 0x75) { // u
        out[i] = UNCHANGED_TOAST;
      } else if (kind === 0x62) { // b
        const len = buf.readInt32BE(at);
        at += 4;
        out[i] = Buffer.from(buf.subarray(at, at + len));
        at += len;
      } else {
        throw new PgOutputDecodeError(`unknown TupleData kind 0x${(kind ?? 0).toString(16)}`);
      }
    }
    this.at = at;
    return out;
  }
}

/** Commit timestamps (microseconds since 2000-01-01) as Unix microseconds. */
export function pgTimeToUnixMicros(t: bigint): bigint {
  return t + PG_EPOCH_MICROS;
}
