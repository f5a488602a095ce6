import { describe, expect, it } from 'vitest';
import { ByteArena } from '../../../runtime/converters/byte-arena.ts';

describe('ByteArena', () => {
  it('hands out non-overlapping slices of shared chunks that keep their bytes', () => {
    const arena = new ByteArena();
    const texts = Array.from({ length: 2000 }, (_, i) => `{"i":${i},"name":"ñame-${'x'.repeat(i % 97)}"}`);
    const bufs = texts.map((t) => arena.fromString(t));
    expect(bufs.map((b) => b.toString('utf8'))).toEqual(texts);
    // Small records share chunks (not one ArrayBuffer each), and the chunks are not Node's pool.
    const chunks = new Set(bufs.map((b) => b.buffer));
    expect(chunks.size).toBeGreaterThan(1);
    expect(chunks.size).toBeLessThan(20);
    expect(bufs.every((b) => b.buffer !== Buffer.from('x').buffer)).toBe(true);
  });

  it('gives large records a buffer of their own', () => {
    const arena = new ByteArena();
    const small = arena.fromString('a');
    const big = arena.alloc(100_000);
    expect(big.length).toBe(100_000);
    expect(big.buffer).not.toBe(small.buffer);
    expect(big.buffer.byteLength).toBe(100_000);
  });
});
