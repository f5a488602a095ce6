/**
 * Reads tables for the initial snapshot in chunks: by primary key order (keyset pagination), or by
 * ranges of heap pages (ctid) for tables without a key. Every row is text (the same form as the
 * stream's), and each chunk ends with a position from which a restarted snapshot continues.
 */
import type pg from 'pg';
import type { CatalogTable } from './catalog.ts';
import { TEXT_TYPES, quoteIdent } from './connection.ts';

/** Where a table's read stands: the last key read (text values), or the next heap page. */
export type ChunkPosition = { key: string[] } | { page: number } | null;

export interface Chunk {
  rows: string[][];
  /** Position after this chunk; null when the table is done. */
  next: ChunkPosition;
}

const PAGE_CHUNK_MIN = 8;

export async function readChunk(client: pg.Client, t: CatalogTable, from: ChunkPosition, chunkSize: number): Promise<Chunk> {
  const table = `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  if (t.keyColumns.length > 0) {
    const keys = t.keyColumns.map(quoteIdent);
    const keyIdx = t.keyColumns.map((k) => t.columns.findIndex((c) => c.name === k));
    const after = from && 'key' in from ? from.key : null;
    const where = after ? `where (${keys.join(', ')}) > (${keys.map((_, i) => `$${i + 1}`).join(', ')})` : '';
    const res = await client.query<string[]>({
      text: `select ${cols} from ${table} ${where} order by ${keys.join(', ')} limit ${chunkSize + 1}`,
      values: after ?? [],
      rowMode: 'array',
      types: TEXT_TYPES,
    });
    const rows = res.rows;
    if (rows.length <= chunkSize) return { rows, next: null };
    rows.length = chunkSize;
    const last = rows[rows.length - 1];
    return { rows, next: { key: keyIdx.map((i) => last[i]) } };
  }
  // No key: heap page ranges. Rows a concurrent update moved are caught by the stream that follows.
  const { rows: sizeRows } = await client.query<{ pages: string }>(`select (pg_relation_size($1::oid) / current_setting('block_size')::int8)::text as pages`, [t.oid]);
  const pages = Number(sizeRows[0].pages);
  const start = from && 'page' in from ? from.page : 0;
  if (start >= pages) return { rows: [], next: null };
  const rowsPerPage = t.estimatedRows > 0 && pages > 0 ? Math.max(1, t.estimatedRows / pages) : 50;
  const span = Math.max(PAGE_CHUNK_MIN, Math.floor(chunkSize / rowsPerPage));
  const end = start + span;
  const res = await client.query<string[]>({
    text: `select ${cols} from ${table} where ctid >= '(${start},0)'::tid and ctid < '(${end},0)'::tid`,
    rowMode: 'array',
    types: TEXT_TYPES,
  });
  return { rows: res.rows, next: end >= pages ? null : { page: end } };
}
