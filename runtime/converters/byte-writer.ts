/**
 * Writes one encoded record at a time straight into a chunk of bytes, and hands the record out as
 * a slice of that chunk.
 *
 * Why: building a record's JSON as strings (one per field, concatenated into a rope, measured and
 * flattened by Buffer.byteLength, then copied into a buffer) allocated several short-lived strings
 * per field; in a profile of a Postgres snapshot to Kafka that was a fifth of the worker's CPU plus
 * a good share of its garbage collection. Many small writes into one chunk that is reused until it
 * is full cost a few times less. The chunk policy is ByteArena's (see byte-arena.ts): chunks of
 * 64 KB hold records only, so a chunk is freed soon after its last record is acknowledged.
 *
 * Usage: `begin()`, any writes, then `finish()` for the record's bytes, or `abort()` to drop them.
 * A record that outgrows the chunk moves, with what was written of it, to a bigger one.
 */
const CHUNK_BYTES = 64 * 1024;

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Strings at least this long are written by Node's native UTF-8 writer; shorter ones by a loop. */
const NATIVE_STRING_CHARS = 64;
/** Characters JSON.stringify escapes: controls, quote, backslash, and surrogates (lone ones are escaped). */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

export class ByteWriter {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  private start = 0;

  begin(): void {
    this.start = this.pos;
  }

  /** The bytes written since `begin()`. The next record starts 8-byte aligned, as Node's pool aligns. */
  finish(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.pos = (this.pos + 7) & ~7;
    return out;
  }

  /** Forget the bytes written since `begin()`. */
  abort(): void {
    this.pos = this.start;
  }

  /** Room for `n` more bytes of the current record. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const written = this.pos - this.start;
    const next = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, 2 * (written + n)));
    if (written > 0) this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = written;
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Bytes as they are (pre-encoded JSON fragments: field names, punctuation). */
  bytes(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n < 32) {
      for (let i = 0; i < n; i++) buf[p++] = b[i];
    } else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
  }

  /** Any string as UTF-8, unquoted (JSON text from a string writer). */
  text(s: string): void {
    const n = s.length;
    this.ensure(n * 3);
    const buf = this.buf;
    let p = this.pos;
    if (n >= NATIVE_STRING_CHARS) {
      this.pos = p + utf8Write(buf, s, p);
      return;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos += utf8Write(buf, s, this.pos);
        return;
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** An integer (a safe one: the caller checked) in decimal digits, as String() writes it. */
  int(v: number): void {
    this.ensure(17);
    const buf = this.buf;
    let p = this.pos;
    if (v < 0) {
      buf[p++] = 0x2d;
      v = -v;
    } else if (v === 0) {
      buf[p] = 0x30;
      this.pos = p + 1;
      return;
    }
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    let end = p + digits;
    this.pos = end;
    while (end > p) {
      const q = Math.floor(v / 10);
      buf[--end] = 0x30 + (v - q * 10);
      v = q;
    }
  }

  /** A JSON string literal of `s`, exactly as JSON.stringify writes it. */
  quoted(s: string): void {
    const n = s.length;
    if (n >= NATIVE_STRING_CHARS) {
      const json = NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : undefined;
      this.ensure((json?.length ?? n) * 3 + 2);
      const buf = this.buf;
      if (json !== undefined) {
        this.pos += utf8Write(buf, json, this.pos);
      } else {
        buf[this.pos++] = 0x22;
        this.pos += utf8Write(buf, s, this.pos);
        buf[this.pos++] = 0x22;
      }
      return;
    }
    // Every escape is at most 6 bytes per UTF-16 unit; non-ASCII text is at most 3 bytes per unit.
    this.ensure(n * 6 + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80 && c !== 0x22 && c !== 0x5c) {
        buf[p++] = c;
      } else if (c >= 0x80) {
        // Non-ASCII: the whole literal again, through JSON.stringify (which escapes lone surrogates).
        const json = JSON.stringify(s);
        this.ensure(json.length * 3);
        this.pos += utf8Write(this.buf, json, this.pos);
        return;
      } else {
        p = escape(buf, p, c);
      }
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  /** The base64 of the first `n` bytes of `b`, quoted. */
  base64(b: Uint8Array, n: number = b.length): void {
    this.ensure(4 * Math.ceil(n / 3) + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    let i = 0;
    for (; i + 2 < n; i += 3) {
      const x = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
      buf[p++] = BASE64[x >>> 18];
      buf[p++] = BASE64[(x >>> 12) & 63];
      buf[p++] = BASE64[(x >>> 6) & 63];
      buf[p++] = BASE64[x & 63];
    }
    if (i < n) {
      const x = (b[i] << 16) | (i + 1 < n ? b[i + 1] << 8 : 0);
      buf[p++] = BASE64[x >>> 18];
      buf[p++] = BASE64[(x >>> 12) & 63];
      buf[p++] = i + 1 < n ? BASE64[(x >>> 6) & 63] : 0x3d;
      buf[p++] = 0x3d;
    }
    buf[p++] = 0x22;
    this.pos = p;
  }
}

/**
 * Node's UTF-8 writer without Buffer#write's argument parsing (Buffer.prototype.utf8Write is
 * what write(s, offset, 'utf8') ends in; @types/node does not declare it). The caller made room.
 */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write: (s: string, offset: number, length: number) => number }).utf8Write;
function utf8Write(buf: Buffer, s: string, offset: number): number {
  return nativeUtf8Write.call(buf, s, offset, buf.length - offset);
}

/** A control character, quote or backslash as JSON.stringify escapes it. */
function escape(buf: Buffer, p: number, c: number): number {
  buf[p++] = 0x5c;
  switch (c) {
    case 0x22: buf[p++] = 0x22; return p;
    case 0x5c: buf[p++] = 0x5c; return p;
    case 0x08: buf[p++] = 0x62; return p;
    case 0x0c: buf[p++] = 0x66; return p;
    case 0x0a: buf[p++] = 0x6e; return p;
    case 0x0d: buf[p++] = 0x72; return p;
    case 0x09: buf[p++] = 0x74; return p;
    default:
      buf[p++] = 0x75;
      buf[p++] = 0x30;
      buf[p++] = 0x30;
      buf[p++] = HEX[c >> 4];
      buf[p++] = HEX[c & 15];
      return p;
  }
}
