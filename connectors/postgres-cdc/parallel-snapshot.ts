/**
 * The initial snapshot read on `snapshot.max.threads` connections that share one snapshot.
 *
 * Connection 0 opens a REPEATABLE READ transaction on the slot's exported snapshot (or, when that
 * is gone after a crash, exports a fresh one with pg_export_snapshot()); the others import the same
 * snapshot with SET TRANSACTION SNAPSHOT, so every chunk is read from one consistent view. Each
 * table is planned into chunks (snapshot.ts), and the readers take chunks from one queue in table
 * order. A reader hands its rows over in batches; batches of different chunks interleave in the
 * output, the rows of one chunk stay in order.
 *
 * Offsets. Everything lives in the task's one source partition `{server}`, and the offset of a
 * record says which chunks are complete: `{lsn, snapshot: true, snapshot_done: [tables],
 * snapshot_chunks: {"schema.table": {plan, done: "0-41,43"}}}`. When a chunk's last rows are
 * handed over, the chunk joins the done set and the new offset goes on the chunk's last record;
 * every record after it carries that set too. Since the runtime commits an offset only once every
 * record polled before it is durable, a committed offset never claims a chunk with an undelivered
 * row, however the chunks interleave. (The alternative, one source partition per chunk, would
 * leave thousands of partition keys in the offset store forever, and a resume would have to scan
 * them all; one partition keeps one small, monotonic record that also carries the LSN where
 * streaming starts.) The plan travels with the done set for tables in progress, because chunk
 * boundaries come from a random sample and a resumed task must skip exactly the same ranges.
 */
import type pg from 'pg';
import type { JsonObject, Logger, SourceRecord } from '../../runtime/api/index.ts';
import type { CatalogTable } from './catalog.ts';
import { tableName } from './catalog.ts';
import type { PostgresCdcConfig } from './config.ts';
import { connect, quoteLiteral } from './connection.ts';
import type { TableEvents } from './events.ts';
import { chunkCount, chunkRange, decodeDone, encodeDone, planTable, readChunk, tableFilenode, type Plan, type ReadMethod } from './snapshot.ts';

/** What a stored snapshot offset says is already delivered. */
export interface SnapshotResume {
  /** Tables read completely. */
  done: string[];
  /** Tables in progress: their plan and the chunks delivered. */
  chunks: Record<string, { plan: Plan; done: Set<number> }>;
}

/** Reads the snapshot part of a stored offset (also the single-connection format of earlier versions). */
export function parseResume(offset: JsonObject | null): SnapshotResume {
  const done = Array.isArray(offset?.snapshot_done) ? (offset.snapshot_done as string[]) : [];
  const chunks: SnapshotResume['chunks'] = {};
  const stored = offset?.snapshot_chunks;
  if (stored && typeof stored === 'object' && !Array.isArray(stored)) {
    for (const [name, v] of Object.entries(stored as Record<string, { plan: Plan; done: string }>)) {
      if (v && typeof v === 'object' && v.plan && typeof v.done === 'string') chunks[name] = { plan: v.plan, done: decodeDone(v.done) };
    }
  }
  // Earlier versions: one table in progress, read in key order up to `snapshot_position`.
  const table = offset?.snapshot_table;
  const position = offset?.snapshot_position as { key?: string[]; page?: number } | null | undefined;
  if (typeof table === 'string' && position && !chunks[table]) {
    if (Array.isArray(position.key)) chunks[table] = { plan: { kind: 'key', bounds: [position.key] }, done: new Set([0]) };
    else if (typeof position.page === 'number') chunks[table] = { plan: { kind: 'pages', span: position.page, count: 2, filenode: 0 }, done: new Set([0]) };
  }
  return { done, chunks };
}

/** A table cut into chunks, with the chunks a stored offset says were delivered. */
export interface PlannedTable {
  table: CatalogTable;
  name: string;
  plan: Plan;
  count: number;
  done: Set<number>;
}

/**
 * Plans each table (snapshot.ts), or takes the plan of a table in progress from the stored offset
 * so that a resumed snapshot skips exactly the ranges it delivered.
 */
export async function planTables(catalog: pg.Client, tables: CatalogTable[], resume: SnapshotResume, chunkRows: number, logger: Logger): Promise<PlannedTable[]> {
  const out: PlannedTable[] = [];
  for (const t of tables) {
    const name = tableName(t);
    let prior: SnapshotResume['chunks'][string] | undefined = resume.chunks[name];
    if (prior && prior.plan.kind === 'pages' && prior.plan.filenode !== 0 && prior.plan.filenode !== (await tableFilenode(catalog, t))) {
      // The table was rewritten (VACUUM FULL, CLUSTER, ...): page ranges no longer mean the same rows.
      logger.warn({ table: name }, 'snapshot resume: the table was rewritten since the crash; reading it again from the start');
      prior = undefined;
    }
    const plan = prior?.plan ?? (await planTable(catalog, t, chunkRows));
    const count = chunkCount(plan);
    const done = new Set([...(prior?.done ?? [])].filter((i) => i < count));
    out.push({ table: t, name, plan, count, done });
  }
  return out;
}

interface TableState extends PlannedTable {
  events: TableEvents;
  remaining: number;
  emitted: number;
}

interface Job { state: TableState; index: number }

export interface SnapshotStart {
  /** Tables to read (those not done before). */
  tables: CatalogTable[];
  resume: SnapshotResume;
  /** Where streaming starts afterwards: in every snapshot offset. */
  lsn: number;
  /** Whether this is the snapshot's very first start (the first record is marked `first`). */
  first: boolean;
  events(t: CatalogTable): TableEvents;
  /** An `op: r` record for a row; its sourceOffset is set here. */
  record(ev: TableEvents, row: string[], marker: string, now: number): SourceRecord;
}

class Closed extends Error {}

export class ParallelSnapshot {
  /** Connection 0, inside the snapshot: the task reads the catalog on it. */
  readonly catalog: pg.Client;
  private readonly cfg: PostgresCdcConfig;
  private readonly logger: Logger;
  /** The snapshot every connection imports (the slot's exported one, or connection 0's). */
  readonly snapshotName: string;
  private readonly clients: pg.Client[];
  private readonly method: ReadMethod;

  private states: TableState[] = [];
  private queue: Job[] = [];
  private doneTables: string[] = [];
  private lsn = 0;
  private offset: JsonObject = {};
  private first = false;
  private remainingChunks = 0;
  private chunksTotal = 0;
  private chunksDone = 0;
  private rowsDone = 0;
  private rowsEstimated = 0;
  private startedAt = Date.now();
  private make!: SnapshotStart['record'];

  private readonly buffer: SourceRecord[][] = [];
  private buffered = 0;
  private readonly capacity: number;
  private readersDone = false;
  private failure: unknown;
  private closed = false;
  private dataWaiter: (() => void) | undefined;
  private spaceWaiters: Array<() => void> = [];

  private constructor(cfg: PostgresCdcConfig, logger: Logger, catalog: pg.Client, snapshotName: string) {
    this.cfg = cfg;
    this.logger = logger;
    this.catalog = catalog;
    this.snapshotName = snapshotName;
    this.clients = [catalog];
    this.method = cfg['snapshot.read.method'] as ReadMethod;
    this.capacity = Math.max(2 * cfg['max.batch.size'], 1024);
  }

  /** Opens connection 0 on the exported snapshot, or on a fresh one it exports itself when `exported` is null. */
  static async open(cfg: PostgresCdcConfig, exported: string | null, logger: Logger): Promise<ParallelSnapshot> {
    const client = await connect(cfg);
    try {
      await client.query('begin isolation level repeatable read read only');
      let name = exported;
      if (name) await client.query(`set transaction snapshot ${quoteLiteral(name)}`);
      else name = (await client.query<{ s: string }>('select pg_export_snapshot() as s')).rows[0].s;
      return new ParallelSnapshot(cfg, logger, client, name);
    } catch (e) {
      await client.end().catch(() => {});
      throw e;
    }
  }

  /** Plans the tables, opens the other connections and starts the readers. */
  async start(o: SnapshotStart): Promise<void> {
    this.lsn = o.lsn;
    this.first = o.first;
    this.make = o.record;
    this.doneTables = [...o.resume.done];
    for (const p of await planTables(this.catalog, o.tables, o.resume, this.cfg['snapshot.fetch.size'], this.logger)) {
      const { table: t, count, done } = p;
      const state: TableState = { ...p, events: o.events(t), remaining: count - done.size, emitted: 0 };
      this.states.push(state);
      this.chunksTotal += count;
      this.chunksDone += done.size;
      this.rowsEstimated += Math.round((t.estimatedRows * state.remaining) / count);
      for (let i = 0; i < count; i++) if (!done.has(i)) this.queue.push({ state, index: i });
    }
    this.remainingChunks = this.queue.length;
    this.offset = this.buildOffset();
    const threads = Math.max(1, Math.min(this.cfg['snapshot.max.threads'], this.queue.length));
    for (let i = 1; i < threads; i++) {
      const c = await connect(this.cfg);
      this.clients.push(c);
      await c.query('begin isolation level repeatable read read only');
      await c.query(`set transaction snapshot ${quoteLiteral(this.snapshotName)}`);
    }
    this.startedAt = Date.now();
    this.logger.info({ tables: o.tables.length, chunks: this.queue.length, chunksTotal: this.chunksTotal, threads, method: this.method }, 'snapshot chunks planned');
    const readers = this.clients.map((c) => this.reader(c));
    void Promise.all(readers).then(
      () => { this.readersDone = true; this.wakeTaker(); },
      (e) => { if (!this.closed) this.failure = e; this.wakeTaker(); },
    );
  }

  /** Up to `max` records in emission order; waits up to `waitMs` for some. Throws what a reader hit. */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<SourceRecord[]> {
    if (this.failure) throw this.failure;
    if (this.buffered === 0 && !this.readersDone) {
      await new Promise<void>((resolve) => {
        const done = () => { clearTimeout(timer); signal.removeEventListener('abort', done); this.dataWaiter = undefined; resolve(); };
        const timer = setTimeout(done, waitMs);
        signal.addEventListener('abort', done, { once: true });
        this.dataWaiter = done;
      });
    }
    if (this.failure) throw this.failure;
    const out: SourceRecord[] = [];
    while (this.buffer.length > 0 && out.length < max) {
      const batch = this.buffer[0];
      const n = Math.min(batch.length, max - out.length);
      if (n === batch.length) {
        this.buffer.shift();
        for (const r of batch) out.push(r);
      } else {
        for (let i = 0; i < n; i++) out.push(batch[i]);
        this.buffer[0] = batch.slice(n);
      }
    }
    this.buffered -= out.length;
    if (this.buffered < this.capacity && this.spaceWaiters.length > 0) {
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    }
    return out;
  }

  /** Every chunk was read and every record taken. */
  get finished(): boolean {
    return this.readersDone && this.buffered === 0 && !this.failure;
  }

  progress(): Record<string, unknown> {
    const secs = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    return {
      phase: 'snapshot',
      snapshotRowsDone: this.rowsDone,
      snapshotRowsEstimated: Math.max(this.rowsEstimated, this.rowsDone),
      snapshotRowsPerSecond: Math.round(this.rowsDone / secs),
      snapshotChunksDone: this.chunksDone,
      snapshotChunksTotal: this.chunksTotal,
      snapshotTablesDone: this.doneTables.length,
      snapshotTablesTotal: this.doneTables.length + this.states.filter((s) => s.remaining > 0).length,
      snapshotThreads: this.clients.length,
      snapshotReadMethod: this.method,
    };
  }

  get rows(): number {
    return this.rowsDone;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeTaker();
    for (const w of this.spaceWaiters.splice(0)) w();
    await Promise.all(this.clients.map(async (c) => {
      await c.query('commit').catch(() => {});
      await c.end().catch(() => {});
    }));
  }

  private async reader(client: pg.Client): Promise<void> {
    const batchRows = this.method === 'copy' ? Math.min(1024, this.cfg['snapshot.fetch.size']) : this.cfg['snapshot.fetch.size'];
    while (!this.closed) {
      const job = this.queue.shift();
      if (!job) return;
      try {
        await readChunk(client, job.state.table, chunkRange(job.state.plan, job.index), this.method, batchRows, (rows, last) => this.emit(job, rows, last));
      } catch (e) {
        if (this.closed || e instanceof Closed) return;
        throw e;
      }
    }
  }

  private async emit(job: Job, rows: string[][], last: boolean): Promise<void> {
    if (this.closed) throw new Closed();
    const s = job.state;
    const now = Date.now();
    const out: SourceRecord[] = new Array(rows.length);
    const finalRows = last && s.remaining === 1;
    for (let i = 0; i < rows.length; i++) {
      let marker = 'true';
      if (this.first) { marker = 'first'; this.first = false; }
      else if (finalRows && i === rows.length - 1) marker = this.remainingChunks === 1 ? 'last' : 'last_in_data_collection';
      else if (s.emitted === 0 && i === 0) marker = 'first_in_data_collection';
      const rec = this.make(s.events, rows[i], marker, now);
      rec.sourceOffset = this.offset;
      out[i] = rec;
    }
    s.emitted += rows.length;
    this.rowsDone += rows.length;
    if (last) {
      s.done.add(job.index);
      s.remaining--;
      this.remainingChunks--;
      this.chunksDone++;
      if (s.remaining === 0) this.doneTables.push(s.name);
      this.offset = this.buildOffset();
      if (out.length > 0) out[out.length - 1].sourceOffset = this.offset;
    }
    if (out.length > 0) {
      this.buffer.push(out);
      this.buffered += out.length;
      this.wakeTaker();
    }
    while (this.buffered >= this.capacity && !this.closed) await new Promise<void>((r) => this.spaceWaiters.push(r));
    if (this.closed) throw new Closed();
  }

  /** The offset after the chunks done so far; `{lsn}` alone once every chunk is. */
  private buildOffset(): JsonObject {
    if (this.remainingChunks === 0) return { lsn: this.lsn };
    const chunks: Record<string, JsonObject> = {};
    for (const s of this.states) {
      if (s.remaining === 0 || s.done.size === 0) continue;
      chunks[s.name] = { plan: s.plan as unknown as JsonObject, done: encodeDone(s.done) };
    }
    return { lsn: this.lsn, snapshot: true, snapshot_done: [...this.doneTables], snapshot_chunks: chunks };
  }

  private wakeTaker(): void {
    this.dataWaiter?.();
  }
}
