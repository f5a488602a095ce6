import { describe, expect, it } from 'vitest';
import { parseResume } from '../../../../connectors/postgres-cdc/parallel-snapshot.ts';
import {
  CopyTextDecoder, boundariesFromSample, chunkCount, chunkRange, decodeDone, encodeDone, unescapeCopy, type Plan,
} from '../../../../connectors/postgres-cdc/snapshot.ts';

const keys = (n: number) => Array.from({ length: n }, (_, i) => [String(i + 1)]);

describe('snapshot chunk boundaries', () => {
  it('cuts a sorted sample into ceil(rows / chunkRows) ranges of about equal size', () => {
    // 1000 sampled keys standing for 100,000 rows, chunks of 10,000 rows: 10 chunks, 9 boundaries.
    const b = boundariesFromSample(keys(1000), 100_000, 10_000);
    expect(b).toHaveLength(9);
    expect(b.map((k) => Number(k[0]))).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('gives one chunk (no boundary) when the table fits in a chunk, and never more chunks than sample rows', () => {
    expect(boundariesFromSample(keys(50), 900, 1000)).toEqual([]);
    expect(boundariesFromSample([], 1e6, 10)).toEqual([]);
    const b = boundariesFromSample(keys(5), 1e6, 10);
    expect(b.length).toBe(4);
    expect(new Set(b.map((k) => k[0])).size).toBe(4);
  });

  it('keeps composite keys whole and strictly increasing', () => {
    const sample = [['a', '1'], ['a', '2'], ['b', '1'], ['b', '2'], ['c', '1'], ['c', '9']];
    const b = boundariesFromSample(sample, 600, 200);
    expect(b).toEqual([['a', '2'], ['b', '2']]);
  });

  it('key plans cover every key: first chunk unbounded below, last unbounded above, neighbours share a bound', () => {
    const plan: Plan = { kind: 'key', bounds: [['10'], ['20']] };
    expect(chunkCount(plan)).toBe(3);
    expect(chunkRange(plan, 0)).toEqual({ kind: 'key', lo: null, hi: ['10'] });
    expect(chunkRange(plan, 1)).toEqual({ kind: 'key', lo: ['10'], hi: ['20'] });
    expect(chunkRange(plan, 2)).toEqual({ kind: 'key', lo: ['20'], hi: null });
    expect(chunkCount({ kind: 'key', bounds: [] })).toBe(1);
    expect(chunkRange({ kind: 'key', bounds: [] }, 0)).toEqual({ kind: 'key', lo: null, hi: null });
  });

  it('page plans: spans of pages, the last one open-ended (pages added after planning are read)', () => {
    const plan: Plan = { kind: 'pages', span: 8, count: 3, filenode: 1 };
    expect([0, 1, 2].map((i) => chunkRange(plan, i))).toEqual([
      { kind: 'pages', lo: 0, hi: 8 }, { kind: 'pages', lo: 8, hi: 16 }, { kind: 'pages', lo: 16, hi: null },
    ]);
  });
});

describe('snapshot offset encoding', () => {
  it('done chunk sets as ranges, round trip', () => {
    expect(encodeDone([])).toBe('');
    expect(encodeDone([3, 0, 1, 2, 7, 9, 10])).toBe('0-3,7,9-10');
    for (const set of [[], [0], [5, 6, 7, 100], Array.from({ length: 500 }, (_, i) => i * 2)]) {
      expect([...decodeDone(encodeDone(set))].sort((a, b) => a - b)).toEqual(set);
    }
    expect(() => decodeDone('1-x')).toThrow();
  });

  it('parses the parallel format: tables done, plans and done chunks of tables in progress', () => {
    const r = parseResume({
      lsn: 5, snapshot: true, snapshot_done: ['public.a'],
      snapshot_chunks: { 'public.b': { plan: { kind: 'key', bounds: [['10'], ['20']] }, done: '0,2' } },
    });
    expect(r.done).toEqual(['public.a']);
    expect(r.chunks['public.b'].plan).toEqual({ kind: 'key', bounds: [['10'], ['20']] });
    expect([...r.chunks['public.b'].done]).toEqual([0, 2]);
  });

  it('parses the single-connection format of earlier versions: everything up to the position is chunk 0, done', () => {
    const r = parseResume({ lsn: 5, snapshot: true, snapshot_done: [], snapshot_table: 'public.t', snapshot_position: { key: ['41'] } });
    expect(r.chunks['public.t'].plan).toEqual({ kind: 'key', bounds: [['41']] });
    expect([...r.chunks['public.t'].done]).toEqual([0]);
    const p = parseResume({ lsn: 5, snapshot: true, snapshot_done: [], snapshot_table: 'public.t', snapshot_position: { page: 16 } });
    expect(chunkRange(p.chunks['public.t'].plan, 1)).toEqual({ kind: 'pages', lo: 16, hi: null });
    expect(parseResume(null)).toEqual({ done: [], chunks: {} });
  });
});

describe('COPY text format decoding', () => {
  it('splits rows and columns, reads \\N as null and undoes the escapes', () => {
    const out: string[][] = [];
    const d = new CopyTextDecoder(3);
    d.push(Buffer.from('1\ta\\tb\t\\N\n2\tline\\nbreak\\\\x\t\\\\N\n'), out);
    d.end(out);
    expect(out).toEqual([['1', 'a\tb', null], ['2', 'line\nbreak\\x', '\\N']]);
  });

  it('joins rows and multi-byte characters split across buffers', () => {
    const bytes = Buffer.from('1\tgrüße 東京\n2\t\\r\\b\\f\\v\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      const out: string[][] = [];
      const d = new CopyTextDecoder(2);
      d.push(bytes.subarray(0, cut), out);
      d.push(bytes.subarray(cut), out);
      d.end(out);
      expect(out).toEqual([['1', 'grüße 東京'], ['2', '\r\b\f\v']]);
    }
  });

  it('rejects a row with the wrong number of columns; octal and hex escapes', () => {
    expect(() => new CopyTextDecoder(2).push(Buffer.from('1\t2\t3\n'), [])).toThrow(/3 columns/);
    expect(unescapeCopy('a\\101\\x42c')).toBe('aABc');
    expect(unescapeCopy('no escapes')).toBe('no escapes');
  });
});
