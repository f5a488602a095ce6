import { describe, expect, it } from 'vitest';
import { Backfill, ChunkWindow, chunkSelect, parseWatermark, watermarkPayload } from '../../../../connectors/postgres-cdc/backfill.ts';
import type { CatalogTable } from '../../../../connectors/postgres-cdc/catalog.ts';

function windowWith(keys: number[]): ChunkWindow<number> {
  const w = new ChunkWindow<number>('public.t', 'c1');
  w.setRows(keys.map((k) => [String(k), k]), keys.length ? [String(keys.at(-1))] : null, true);
  return w;
}

describe('backfill watermark bookkeeping', () => {
  it('drops keys touched between the low and the high watermark, and only those', () => {
    const w = windowWith([1, 2, 3, 4, 5]);
    w.touch('public.t', '1'); // before the low watermark: the select saw it
    expect(w.onWatermark({ chunk: 'c1', mark: 'low' })).toBeNull();
    expect(w.state).toBe('open');
    w.touch('public.t', '2');
    w.touch('public.other', '3'); // another table's key
    w.touch('public.t', '99'); // not in the chunk
    expect(w.onWatermark({ chunk: 'c1', mark: 'high' })).toEqual([1, 3, 4, 5]);
    expect(w.state).toBe('closed');
    expect(w.dropped).toBe(1);
    w.touch('public.t', '3'); // after the high watermark: the stream's event follows the row
    expect(w.remaining).toBe(4);
  });

  it('ignores watermarks of other chunks (e.g. of a window opened before a restart)', () => {
    const w = windowWith([1, 2]);
    expect(w.onWatermark({ chunk: 'old', mark: 'low' })).toBeNull();
    w.touch('public.t', '1');
    expect(w.state).toBe('pending');
    expect(w.onWatermark({ chunk: 'old', mark: 'high' })).toBeNull();
    expect(w.onWatermark({ chunk: 'c1', mark: 'low' })).toBeNull();
    expect(w.onWatermark({ chunk: 'c1', mark: 'high' })).toEqual([1, 2]);
    expect(w.onWatermark({ chunk: 'c1', mark: 'high' })).toBeNull(); // only once
  });

  it('a truncate between the watermarks empties the chunk', () => {
    const w = windowWith([1, 2, 3]);
    w.onWatermark({ chunk: 'c1', mark: 'low' });
    w.truncated('public.t');
    expect(w.onWatermark({ chunk: 'c1', mark: 'high' })).toEqual([]);
  });

  it('watermark payloads round-trip; anything else is not a watermark', () => {
    expect(parseWatermark(Buffer.from(watermarkPayload({ chunk: 'x', mark: 'high' })))).toEqual({ chunk: 'x', mark: 'high' });
    expect(parseWatermark('not json')).toBeNull();
    expect(parseWatermark('{"chunk":"x","mark":"middle"}')).toBeNull();
  });
});

describe('backfill progress', () => {
  it('advances by chunk, moves to the next table on a short chunk, and rides in the offset', () => {
    const b = new Backfill('s1', ['public.a', 'public.b'], { 'public.b': "status = 'open'" });
    expect(b.current).toBe('public.a');
    b.chunkEmitted(['10'], 10, true);
    expect(b.after).toEqual(['10']);
    const offset = b.toOffset();
    expect(offset).toEqual({ id: 's1', tables: ['public.a', 'public.b'], filters: { 'public.b': "status = 'open'" }, after: ['10'], rows: 10, chunks: 1, tables_done: 0, superseded: 0 });
    expect(b.toOffset()).toBe(offset); // shared until the state changes

    const resumed = Backfill.fromOffset({ lsn: 1, backfill: offset })!;
    expect(resumed.current).toBe('public.a');
    expect(resumed.after).toEqual(['10']);
    resumed.chunkEmitted(['13'], 3, false); // fewer rows than asked: the table is done
    expect(resumed.current).toBe('public.b');
    expect(resumed.after).toBeNull();
    expect(resumed.filter('public.b')).toBe("status = 'open'");
    resumed.chunkEmitted(null, 0, false);
    expect(resumed.done).toBe(true);
    expect(resumed.progress()).toMatchObject({ backfillRowsDone: 13, backfillChunksDone: 3, backfillTablesDone: 2, backfillTablesTotal: 2, backfillCompleted: true });
  });

  it('offsets of earlier versions (or without a backfill) carry none', () => {
    expect(Backfill.fromOffset({ lsn: 5 })).toBeNull();
    expect(Backfill.fromOffset(null)).toBeNull();
    expect(Backfill.fromOffset({ lsn: 5, backfill: { tables: [] } })).toBeNull();
  });

  it('joins tables of a second signal and stops tables on stop-snapshot', () => {
    const b = new Backfill('s1', ['public.a']);
    b.chunkEmitted(['5'], 5, true);
    b.add(['public.a', 'public.b', 'public.c'], { 'public.c': 'id > 3' });
    expect(b.tables).toEqual(['public.a', 'public.b', 'public.c']);
    expect(b.remove(['public.b'])).toBe(false);
    expect(b.after).toEqual(['5']);
    expect(b.remove(['public.a'])).toBe(true); // the current table: the next starts from its beginning
    expect(b.current).toBe('public.c');
    expect(b.after).toBeNull();
    b.remove(null);
    expect(b.done).toBe(true);
  });
});

describe('chunkSelect', () => {
  const t = {
    oid: 1, schema: 'public', table: 'Orders', replicaIdentity: 'd', estimatedRows: 0,
    columns: [{ name: 'a', typeOid: 23, typeMod: -1, notNull: true }, { name: 'b', typeOid: 25, typeMod: -1, notNull: true }, { name: 'v', typeOid: 25, typeMod: -1, notNull: false }],
    keyColumns: ['a', 'b'],
  } satisfies CatalogTable;

  it('reads after the last key, in key order, with the filter', () => {
    expect(chunkSelect(t, "v = 'x'", ['1', 'k'], 100)).toEqual({
      text: `select "a", "b", "v" from "public"."Orders" where (v = 'x') and ("a", "b") > ($1, $2) order by "a", "b" limit 100`,
      values: ['1', 'k'],
    });
    expect(chunkSelect(t, null, null, 5).text).toBe('select "a", "b", "v" from "public"."Orders" order by "a", "b" limit 5');
  });
});
