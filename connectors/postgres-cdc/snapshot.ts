/**
 * Snapshot chunks: how a table is cut into pieces that can be read in parallel and resumed one at
 * a time, and the two ways a chunk is read (SELECT with keyset pages, or COPY ... TO STDOUT).
 *
 * A table with a primary key (or replica identity index) is cut into key ranges: a plan is a list
 * of boundaries b1 < b2 < ... < bn (the key's text values, ordered by the server), and chunk i is
 * (b[i], b[i+1]] with the first unbounded below and the last unbounded above, so the chunks cover
 * every possible key whatever was inserted after planning. Boundaries come from a SYSTEM sample of
 * the table's pages, so planning reads a small fraction of it. A table without a key is cut into
 * ranges of heap pages (ctid), the last one open-ended.
 *
 * Every value is read as text (the form pgoutput sends), so one type mapping serves the snapshot
 * and the stream whichever read method ran.
 */
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Readable } from 'node:stream';
import type { CatalogTable } from './catalog.ts';
import type { ChunkRange, Plan } from './chunk-plan.ts';
import { TEXT_TYPES, quoteIdent, quoteLiteral } from './connection.ts';

export { chunkCount, chunkRange, type ChunkRange, type Plan } from './chunk-plan.ts';

export type ReadMethod = 'copy' | 'select';

/** Receives a chunk's rows in order; `last` is true on the final call for the chunk (which may carry no rows). */
export type RowSink = (rows: string[][], last: boolean) => Promise<void>;

/** Pages a planning sample reads: 1% of the table, at least 32 and at most 1000. */
const SAMPLE_PAGES_MIN = 32;
const SAMPLE_PAGES_MAX = 1000;
const PAGE_CHUNK_MIN = 8;

/**
 * Chunk boundaries from a sorted sample of keys: `chunks = ceil(estimatedRows / chunkRows)` ranges of
 * about equal sample counts. Equal neighbours are dropped, so boundaries strictly increase.
 */
export function boundariesFromSample(sample: string[][], estimatedRows: number, chunkRows: number): string[][] {
  const chunks = Math.min(Math.ceil(estimatedRows / Math.max(1, chunkRows)), sample.length);
  if (chunks <= 1) return [];
  const step = sample.length / chunks;
  const out: string[][] = [];
  let prev = '';
  for (let j = 1; j < chunks; j++) {
    const b = sample[Math.min(sample.length - 1, Math.round(j * step) - 1)];
    const id = JSON.stringify(b);
    if (id === prev) continue;
    prev = id;
    out.push(b);
  }
  return out;
}

/** Cuts a table into chunks of about `chunkRows` rows. Runs on any connection: boundaries need not come from the snapshot. */
export async function planTable(client: pg.Client, t: CatalogTable, chunkRows: number): Promise<Plan> {
  const { rows } = await client.query<{ pages: string; relpages: number; reltuples: number; filenode: string | null }>(
    `select (pg_relation_size(c.oid) / current_setting('block_size')::int8)::text as pages, c.relpages, c.reltuples::float8 as reltuples,
            pg_relation_filenode(c.oid)::text as filenode
       from pg_class c where c.oid = $1`, [t.oid]);
  const info = rows[0];
  const pages = Number(info?.pages ?? 0);
  const filenode = Number(info?.filenode ?? 0);
  const rowsPerPage = info && info.reltuples > 0 && info.relpages > 0 ? info.reltuples / info.relpages : null;
  const table = qualified(t);
  const samplePages = Math.min(pages, Math.max(SAMPLE_PAGES_MIN, Math.min(SAMPLE_PAGES_MAX, Math.ceil(pages / 100))));
  const pct = pages > 0 ? Math.min(100, (100 * samplePages) / pages) : 100;
  if (t.keyColumns.length > 0) {
    if (pages <= 1 || (rowsPerPage !== null && rowsPerPage * pages <= chunkRows)) return { kind: 'key', bounds: [] };
    const keys = t.keyColumns.map(quoteIdent).join(', ');
    const sample = await client.query<string[]>({
      text: `select ${keys} from ${table} tablesample system (${pct.toFixed(6)}) order by ${keys}`,
      rowMode: 'array',
      types: TEXT_TYPES,
    });
    const estimated = (sample.rows.length * 100) / pct;
    return { kind: 'key', bounds: boundariesFromSample(sample.rows, estimated, chunkRows) };
  }
  let perPage = rowsPerPage;
  if (perPage === null && samplePages > 0) {
    const { rows: c } = await client.query<{ n: string }>(`select count(*)::text as n from ${table} tablesample system (${pct.toFixed(6)})`);
    perPage = Math.max(1, Number(c[0].n) / samplePages);
  }
  const span = Math.max(PAGE_CHUNK_MIN, Math.floor(chunkRows / (perPage ?? 50)));
  return { kind: 'pages', span, count: Math.max(1, Math.ceil(pages / span)), filenode };
}

export async function tableFilenode(client: pg.Client, t: CatalogTable): Promise<number> {
  const { rows } = await client.query<{ f: string | null }>('select pg_relation_filenode($1::oid)::text as f', [t.oid]);
  return Number(rows[0]?.f ?? 0);
}

/** Reads one chunk with the chosen method, handing rows to `sink` in batches of at most `batchRows`. */
export function readChunk(client: pg.Client, t: CatalogTable, range: ChunkRange, method: ReadMethod, batchRows: number, sink: RowSink): Promise<void> {
  return method === 'copy' ? copyChunk(client, t, range, batchRows, sink) : selectChunk(client, t, range, batchRows, sink);
}

/** SELECT: key ranges in keyset pages of `fetchRows`; page ranges in spans of pages. */
export async function selectChunk(client: pg.Client, t: CatalogTable, range: ChunkRange, fetchRows: number, sink: RowSink): Promise<void> {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const table = qualified(t);
  if (range.kind === 'key') {
    const keys = t.keyColumns.map(quoteIdent);
    const keyIdx = t.keyColumns.map((k) => t.columns.findIndex((c) => c.name === k));
    let after = range.lo;
    for (;;) {
      const params: string[] = [];
      const where = keyPredicate(keys, after, range.hi, (v) => { params.push(v); return `$${params.length}`; });
      const res = await client.query<string[]>({
        text: `select ${cols} from ${table}${where} order by ${keys.join(', ')} limit ${fetchRows + 1}`,
        values: params,
        rowMode: 'array',
        types: TEXT_TYPES,
      });
      const rows = res.rows;
      if (rows.length <= fetchRows) return sink(rows, true);
      rows.length = fetchRows;
      const last = rows[rows.length - 1];
      after = keyIdx.map((i) => last[i]);
      await sink(rows, false);
    }
  }
  // Page ranges: a bounded chunk is one query; the open-ended last one walks to the table's current end.
  if (range.hi !== null) {
    const res = await client.query<string[]>({ text: `select ${cols} from ${table}${pagePredicate(range.lo, range.hi)}`, rowMode: 'array', types: TEXT_TYPES });
    return sink(res.rows, true);
  }
  const { rows: sizeRows } = await client.query<{ pages: string }>(`select (pg_relation_size($1::oid) / current_setting('block_size')::int8)::text as pages`, [t.oid]);
  const pages = Number(sizeRows[0].pages);
  const span = Math.max(PAGE_CHUNK_MIN, Math.floor(fetchRows / 50));
  for (let lo = range.lo; ; lo += span) {
    const last = lo + span >= pages;
    const res = await client.query<string[]>({ text: `select ${cols} from ${table}${pagePredicate(lo, last ? null : lo + span)}`, rowMode: 'array', types: TEXT_TYPES });
    await sink(res.rows, last);
    if (last) return;
  }
}

/** COPY (SELECT ... WHERE range) TO STDOUT in text format, decoded back to each value's text. */
export async function copyChunk(client: pg.Client, t: CatalogTable, range: ChunkRange, batchRows: number, sink: RowSink): Promise<void> {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const where = range.kind === 'key'
    ? keyPredicate(t.keyColumns.map(quoteIdent), range.lo, range.hi, quoteLiteral)
    : pagePredicate(range.lo, range.hi);
  const stream = client.query((copyStreams as unknown as { to(text: string): Readable & pg.Submittable }).to(`copy (select ${cols} from ${qualified(t)}${where}) to stdout`));
  const decoder = new CopyTextDecoder(t.columns.length);
  let pending: string[][] = [];
  for await (const buf of stream as AsyncIterable<Buffer>) {
    decoder.push(buf, pending);
    // Hold back one row so the final call (last = true) always carries rows when the chunk has any.
    if (pending.length > batchRows) {
      const keep = pending.pop()!;
      await sink(pending, false);
      pending = [keep];
    }
  }
  decoder.end(pending);
  await sink(pending, true);
}

function keyPredicate(keys: string[], lo: string[] | null, hi: string[] | null, value: (v: string) => string): string {
  const parts: string[] = [];
  const tuple = (vals: string[]) => `(${vals.map(value).join(', ')})`;
  const cols = `(${keys.join(', ')})`;
  if (lo) parts.push(`${cols} > ${tuple(lo)}`);
  if (hi) parts.push(`${cols} <= ${tuple(hi)}`);
  return parts.length ? ` where ${parts.join(' and ')}` : '';
}

function pagePredicate(lo: number, hi: number | null): string {
  const parts = [`ctid >= '(${Math.trunc(lo)},0)'::tid`];
  if (hi !== null) parts.push(`ctid < '(${Math.trunc(hi)},0)'::tid`);
  return ` where ${parts.join(' and ')}`;
}

function qualified(t: CatalogTable): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}

/**
 * COPY's text format back to the values' text: rows end with a newline, columns are separated by
 * tabs, `\N` is null, and backslash escapes (\b \f \n \r \t \v \\, \digits octal, \xhh) stand for
 * the bytes the server escaped. A raw newline byte is always a row end (data newlines are
 * escaped), and UTF-8 continuation bytes never look like one, so buffers split at the last newline.
 */
export class CopyTextDecoder {
  private rest: Buffer | null = null;
  private readonly columns: number;

  constructor(columns: number) {
    this.columns = columns;
  }

  push(buf: Buffer, out: string[][]): void {
    const data = this.rest ? Buffer.concat([this.rest, buf]) : buf;
    const end = data.lastIndexOf(10);
    if (end < 0) {
      this.rest = data;
      return;
    }
    this.rest = end + 1 < data.length ? data.subarray(end + 1) : null;
    const text = data.toString('utf8', 0, end);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const line = nl < 0 ? text.slice(start) : text.slice(start, nl);
      out.push(this.row(line));
      if (nl < 0) break;
      start = nl + 1;
    }
  }

  end(out: string[][]): void {
    if (this.rest && this.rest.length > 0) out.push(this.row(this.rest.toString('utf8')));
    this.rest = null;
  }

  private row(line: string): string[] {
    const fields = line.split('\t');
    if (fields.length !== this.columns) throw new Error(`COPY row has ${fields.length} columns, expected ${this.columns}`);
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f.length === 2 && f === '\\N') (fields as Array<string | null>)[i] = null;
      else if (f.includes('\\')) fields[i] = unescapeCopy(f);
    }
    return fields;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

export function unescapeCopy(s: string): string {
  let out = '';
  let from = 0;
  for (let i = s.indexOf('\\'); i >= 0 && i < s.length; i = s.indexOf('\\', from)) {
    out += s.slice(from, i);
    const c = s[i + 1];
    if (c === undefined) { from = i + 1; break; }
    if (c in SIMPLE_ESCAPES) { out += SIMPLE_ESCAPES[c]; from = i + 2; continue; }
    if (c >= '0' && c <= '7') {
      let j = i + 1;
      while (j < s.length && j < i + 4 && s[j] >= '0' && s[j] <= '7') j++;
      out += String.fromCharCode(parseInt(s.slice(i + 1, j), 8));
      from = j;
      continue;
    }
    if (c === 'x' && /^[0-9a-fA-F]/.test(s[i + 2] ?? '')) {
      const j = /^[0-9a-fA-F]/.test(s[i + 3] ?? '') ? i + 4 : i + 3;
      out += String.fromCharCode(parseInt(s.slice(i + 2, j), 16));
      from = j;
      continue;
    }
    out += c;
    from = i + 2;
  }
  return out + s.slice(from);
}

/** A set of chunk indexes as ranges, `0-57,60,62-70`: small in the offset when chunks finish roughly in order. */
export function encodeDone(done: Iterable<number>): string {
  const xs = [...new Set(done)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? String(xs[i]) : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function decodeDone(s: string): Set<number> {
  const out = new Set<number>();
  for (const part of s.split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad chunk set ${JSON.stringify(s)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}
