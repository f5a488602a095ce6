/**
 * Buffers for batch bodies, reused from request to request instead of a fresh buffer per body.
 *
 * A fresh 70 KB buffer per request costs its allocation, the first touch of its pages and its
 * garbage collection; a pooled one is already mapped and warm. A buffer goes back to the pool only
 * when nothing can still read it: its request got a complete response (the task never pools the
 * body of a request that failed, timed out or was aborted), and no connection of the client still
 * has bytes to write, since a server may answer before it has read the whole body, and the socket
 * then still holds the rest of it. A body released while some connection is writing waits (held)
 * until a later take or release finds every connection done.
 *
 * Pooled buffers own their memory (allocUnsafeSlow, never a slice of Node's shared slab), so a body
 * is recognised as pooled by its ArrayBuffer: any other body handed to release is ignored.
 */
export class BodyPool {
  /** Bodies smaller than this come from Buffer.allocUnsafe (Node's slab): cheap, not worth pooling. */
  static readonly MIN_BYTES = 16 * 1024;
  private readonly free: ArrayBuffer[] = [];
  private readonly held: ArrayBuffer[] = [];
  /** The pool's buffers that are lent out (a body being built, in flight, or kept for a retry). */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  private readonly maxBuffers: number;
  private readonly maxBytes: number;
  private readonly writing: () => boolean;

  /**
   * @param maxBuffers the most buffers kept free (requests in flight, plus the one being built)
   * @param maxBytes the most bytes kept free in all; a body larger than a quarter of it is never pooled
   * @param writing whether some connection still has request bytes to write
   */
  constructor(maxBuffers: number, maxBytes: number, writing: () => boolean) {
    this.maxBuffers = maxBuffers;
    this.maxBytes = maxBytes;
    this.writing = writing;
  }

  /** A buffer of exactly `size` bytes, uninitialized: a view of a pooled one when it is large enough to pool. */
  take(size: number): Buffer {
    if (size < BodyPool.MIN_BYTES || size > this.maxBytes / 4) return Buffer.allocUnsafe(size);
    if (this.held.length > 0) this.settle();
    const free = this.free;
    for (let i = free.length - 1; i >= 0; i--) {
      const ab = free[i];
      if (ab.byteLength >= size) {
        free[i] = free[free.length - 1];
        free.pop();
        this.freeBytes -= ab.byteLength;
        this.lent.add(ab);
        return Buffer.from(ab, 0, size);
      }
    }
    // None fits: a new one with room to grow (bodies of one task are about the same size).
    const ab = Buffer.allocUnsafeSlow(Math.min(this.maxBytes / 4, Math.ceil((size * 1.25) / 4096) * 4096)).buffer as ArrayBuffer;
    this.lent.add(ab);
    return Buffer.from(ab, 0, size);
  }

  /**
   * A body whose request got its complete response: its buffer may be reused once no connection
   * is writing. Bodies that are not the pool's (strings, a record's own bytes, small ones) are ignored.
   */
  release(body: string | Buffer): void {
    if (typeof body === 'string') return;
    const ab = body.buffer as ArrayBuffer;
    if (!this.lent.has(ab)) return;
    this.lent.delete(ab);
    this.held.push(ab);
    this.settle();
  }

  /** Held buffers become free when no connection has bytes left to write (they may have been ours). */
  private settle(): void {
    if (this.writing()) return;
    for (const ab of this.held) {
      if (this.free.length < this.maxBuffers && this.freeBytes + ab.byteLength <= this.maxBytes) {
        this.free.push(ab);
        this.freeBytes += ab.byteLength;
      } else {
        // Too many kept: drop the smallest, which is the likeliest not to fit the next body.
        let smallest = -1;
        for (let i = 0; i < this.free.length; i++) if (smallest < 0 || this.free[i].byteLength < this.free[smallest].byteLength) smallest = i;
        if (smallest >= 0 && this.free[smallest].byteLength < ab.byteLength && this.freeBytes - this.free[smallest].byteLength + ab.byteLength <= this.maxBytes) {
          this.freeBytes += ab.byteLength - this.free[smallest].byteLength;
          this.free[smallest] = ab;
        }
      }
    }
    this.held.length = 0;
  }

  /** For tests: buffers free, held (released while a connection was writing) and their bytes. */
  get sizes(): { free: number; held: number; freeBytes: number } {
    return { free: this.free.length, held: this.held.length, freeBytes: this.freeBytes };
  }
}
