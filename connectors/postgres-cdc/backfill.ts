/**
 * Ad-hoc backfills (Debezium's incremental snapshots) while the stream keeps flowing: the state
 * of a backfill, how it rides in the offset, and the watermark bookkeeping of one chunk.
 *
 * The algorithm is DBLog's (Debezium's incremental snapshot uses it too). A table is read in
 * primary-key order, one chunk of `incremental.snapshot.chunk.size` rows at a time, on a normal
 * connection, while the replication stream is consumed as usual. For each chunk:
 *   1. write a low watermark into the WAL (`pg_logical_emit_message(true, prefix, {chunk, low})`,
 *      its own transaction: no signalling table needed);
 *   2. select the chunk (`where (<filter>) and key > <last key> order by key limit n`) and keep its
 *      rows in a buffer keyed by primary key;
 *   3. write a high watermark the same way.
 * The stream then reaches the low watermark, later the high one. Every change the stream carries
 * between the two, for the table being read, drops its key from the buffer: the change may or may
 * not be reflected in what the select saw, but its own event is emitted in stream order, so the
 * buffered row is either stale or redundant. At the high watermark what is left of the buffer is
 * emitted as `op: r` events (`source.snapshot = "incremental"`), in the stream's order at that point.
 * Why that is right for a consumer applying events in order, per key: a change committed before the
 * low watermark was already emitted and the select (which began after the low watermark committed)
 * sees it, so the `r` row is the same or newer; a change between the watermarks drops the row; a
 * change after the high watermark is not in the select (it ended before) and its event follows the
 * `r` row. Either way the last event for a key is the key's current value. (One window the
 * watermarks cannot close: a transaction whose commit record is written before the low watermark's
 * but which is still invisible to the select, e.g. one waiting for a synchronous standby; its event
 * precedes the low watermark and the `r` row may hold the older value until its next change.)
 *
 * Resume. The backfill's progress is part of every offset the task emits while it runs:
 * `backfill: {id, tables, filters, after, rows, chunks, tables_done}` where `tables[0]` is the table
 * being read and `after` the last key of its last fully emitted chunk. Every record of a chunk but
 * the last carries the state before the chunk; the last claims it. The runtime commits an offset
 * only after every record before it is durable, so after a crash the backfill continues after the
 * last committed chunk, in a new window (the old watermarks carry another chunk id and are ignored).
 * Offsets without `backfill` (earlier versions, or no backfill running) mean none is in progress.
 */
import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../../runtime/api/index.ts';
import type { CatalogTable } from './catalog.ts';
import { quoteIdent } from './connection.ts';

/** Prefix of the watermark messages; such messages never become events. */
export const WATERMARK_PREFIX = '__tributary.backfill';

export interface Watermark { chunk: string; mark: 'low' | 'high' }

export function watermarkPayload(w: Watermark): string {
  return JSON.stringify(w);
}

export function parseWatermark(content: Buffer | string): Watermark | null {
  try {
    const v = JSON.parse(typeof content === 'string' ? content : content.toString('utf8')) as Partial<Watermark>;
    if (typeof v.chunk === 'string' && (v.mark === 'low' || v.mark === 'high')) return { chunk: v.chunk, mark: v.mark };
  } catch {
    // not ours
  }
  return null;
}

/** What a backfill still has to do: tables left (the current one first), filters, the last key read. */
export class Backfill {
  readonly id: string;
  private readonly queue: string[];
  private readonly filters: Map<string, string>;
  /** Last key (text values) of the last fully emitted chunk of the current table; null: from the start. */
  after: string[] | null;
  rows: number;
  chunks: number;
  tablesDone: number;
  /** Rows a chunk selected but did not emit because the stream changed them between the watermarks. */
  superseded: number;
  private cached: JsonObject | null = null;

  constructor(id: string, tables: string[], filters: Record<string, string> = {}, after: string[] | null = null, counts = { rows: 0, chunks: 0, tablesDone: 0, superseded: 0 }) {
    this.id = id;
    this.queue = [...tables];
    this.filters = new Map(Object.entries(filters));
    this.after = after;
    this.rows = counts.rows;
    this.chunks = counts.chunks;
    this.tablesDone = counts.tablesDone;
    this.superseded = counts.superseded;
  }

  /** The backfill an offset carries, or null (none running, or an offset of an earlier version). */
  static fromOffset(offset: JsonObject | null | undefined): Backfill | null {
    const b = offset?.backfill as JsonObject | undefined | null;
    if (!b || typeof b !== 'object' || !Array.isArray(b.tables) || b.tables.length === 0) return null;
    const after = Array.isArray(b.after) ? (b.after as string[]) : null;
    const filters = b.filters && typeof b.filters === 'object' && !Array.isArray(b.filters) ? (b.filters as Record<string, string>) : {};
    return new Backfill(String(b.id ?? ''), b.tables as string[], filters, after, {
      rows: Number(b.rows ?? 0), chunks: Number(b.chunks ?? 0), tablesDone: Number(b.tables_done ?? 0), superseded: Number(b.superseded ?? 0),
    });
  }

  get current(): string | null {
    return this.queue[0] ?? null;
  }

  get done(): boolean {
    return this.queue.length === 0;
  }

  get tables(): readonly string[] {
    return this.queue;
  }

  filter(table: string): string | null {
    return this.filters.get(table) ?? null;
  }

  /** Queues tables not queued yet (a second execute-snapshot while one runs joins it, as in Debezium). */
  add(tables: string[], filters: Record<string, string>): void {
    for (const t of tables) {
      if (this.queue.includes(t)) continue;
      this.queue.push(t);
      if (filters[t] !== undefined) this.filters.set(t, filters[t]);
      else this.filters.delete(t);
    }
    this.cached = null;
  }

  /** Drops tables (all when `tables` is null); returns whether the current table was among them. */
  remove(tables: string[] | null): boolean {
    const current = this.current;
    const drop = new Set(tables ?? this.queue);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (drop.has(this.queue[i])) {
        this.filters.delete(this.queue[i]);
        this.queue.splice(i, 1);
      }
    }
    const removed = current !== null && this.current !== current;
    if (removed) this.after = null;
    this.cached = null;
    return removed;
  }

  /** A chunk was emitted: `full` when its select returned as many rows as asked for (more may follow). */
  chunkEmitted(lastKey: string[] | null, rows: number, full: boolean, superseded = 0): void {
    this.rows += rows;
    this.superseded += superseded;
    this.chunks++;
    if (full && lastKey) {
      this.after = lastKey;
    } else {
      const t = this.queue.shift();
      if (t !== undefined) this.filters.delete(t);
      this.after = null;
      this.tablesDone++;
    }
    this.cached = null;
  }

  /** The state as it goes into offsets (one shared object until the state changes). */
  toOffset(): JsonObject {
    if (this.cached) return this.cached;
    const filters: JsonObject = {};
    for (const t of this.queue) if (this.filters.has(t)) filters[t] = this.filters.get(t)!;
    this.cached = Object.freeze({
      id: this.id, tables: [...this.queue], filters, after: this.after,
      rows: this.rows, chunks: this.chunks, tables_done: this.tablesDone, superseded: this.superseded,
    }) as JsonObject;
    return this.cached;
  }

  progress(): Record<string, unknown> {
    return {
      backfillId: this.id,
      backfillTable: this.current,
      backfillTablesDone: this.tablesDone,
      backfillTablesTotal: this.tablesDone + this.queue.length,
      backfillChunksDone: this.chunks,
      backfillRowsDone: this.rows,
      backfillRowsSuperseded: this.superseded,
      backfillCompleted: this.done,
    };
  }
}

/**
 * One chunk between its watermarks: `pending` (rows selected, low watermark not yet streamed),
 * `open` (between the watermarks: streamed changes drop their keys), `closed` (high watermark
 * streamed: what is left is emitted). Watermarks of other chunks are ignored.
 */
export class ChunkWindow<Row> {
  readonly chunk: string;
  readonly table: string;
  /** Rows selected, by key id, in key order. */
  private readonly rows = new Map<string, Row>();
  state: 'pending' | 'open' | 'closed' = 'pending';
  /** Rows the select returned (before any was dropped). */
  selected = 0;
  /** Key (text values) of the last row the select returned. */
  lastKey: string[] | null = null;
  /** Whether the select returned as many rows as it asked for. */
  full = false;
  dropped = 0;

  constructor(table: string, chunk: string = randomUUID()) {
    this.table = table;
    this.chunk = chunk;
  }

  setRows(rows: Array<[keyId: string, row: Row]>, lastKey: string[] | null, full: boolean): void {
    for (const [k, r] of rows) this.rows.set(k, r);
    this.selected = rows.length;
    this.lastKey = lastKey;
    this.full = full;
  }

  /** A watermark message: returns the rows to emit at this chunk's high watermark, else null. */
  onWatermark(w: Watermark): Row[] | null {
    if (w.chunk !== this.chunk) return null;
    if (w.mark === 'low') {
      if (this.state === 'pending') this.state = 'open';
      return null;
    }
    if (this.state === 'closed') return null;
    this.state = 'closed';
    return [...this.rows.values()];
  }

  /** A streamed change of `table` touched the key: between the watermarks, its row is dropped. */
  touch(table: string, keyId: string): void {
    if (this.state !== 'open' || table !== this.table) return;
    if (this.rows.delete(keyId)) this.dropped++;
  }

  /** A streamed truncate of `table`: between the watermarks, every row is dropped. */
  truncated(table: string): void {
    if (this.state !== 'open' || table !== this.table) return;
    this.dropped += this.rows.size;
    this.rows.clear();
  }

  get remaining(): number {
    return this.rows.size;
  }
}

/** The chunk's select: rows after `after` in key order that pass the filter, `limit` of them. */
export function chunkSelect(t: CatalogTable, filter: string | null, after: string[] | null, limit: number): { text: string; values: string[] } {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const keys = t.keyColumns.map(quoteIdent);
  const where: string[] = [];
  if (filter) where.push(`(${filter})`);
  if (after) where.push(`(${keys.join(', ')}) > (${after.map((_, i) => `$${i + 1}`).join(', ')})`);
  return {
    text: `select ${cols} from ${quoteIdent(t.schema)}.${quoteIdent(t.table)}${where.length ? ` where ${where.join(' and ')}` : ''} order by ${keys.join(', ')} limit ${limit}`,
    values: after ?? [],
  };
}
