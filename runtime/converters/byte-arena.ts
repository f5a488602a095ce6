/**
 * Where converters put the bytes of the records they encode.
 *
 * Node's shared Buffer pool hands out slices of 8 KB slabs, and a slab lives as long as any slice
 * of it does. Encoded records wait in the producer until Kafka acknowledges them, while most other
 * pool allocations die at once; interleaved in the same slabs, a few waiting records kept about
 * three times their size alive (a Postgres CDC run held 81 MB of slabs for ~28 MB of records). An
 * arena per converter fills its own chunks with records only: they are acknowledged in about the
 * order they were encoded, so a chunk is freed soon after its last record is.
 */
const CHUNK_BYTES = 64 * 1024;
/** Larger records get a buffer of their own rather than wasting the rest of a chunk. */
const OWN_BUFFER_BYTES = 8 * 1024;

export class ByteArena {
  private chunk: ArrayBuffer = new ArrayBuffer(0);
  private used = 0;

  /** `n` uninitialised bytes, to be filled by the caller. */
  alloc(n: number): Buffer {
    if (n >= OWN_BUFFER_BYTES) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.chunk.byteLength) {
      this.chunk = new ArrayBuffer(CHUNK_BYTES);
      this.used = 0;
    }
    const out = Buffer.from(this.chunk, this.used, n);
    // Keep slices 8-byte aligned, as the shared pool does.
    this.used += (n + 7) & ~7;
    return out;
  }

  /** `text` as UTF-8. */
  fromString(text: string): Buffer {
    const n = Buffer.byteLength(text, 'utf8');
    const out = this.alloc(n);
    out.write(text, 0, n, 'utf8');
    return out;
  }
}
