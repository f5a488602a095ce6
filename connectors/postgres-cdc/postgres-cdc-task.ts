import type pg from 'pg';
import { ConfigError, FatalError, RetriableError } from '../../runtime/api/index.ts';
import type { JsonObject, Logger, SourceRecord, SourceTask, SourceTaskContext, TaskConfig, TaskSignal } from '../../runtime/api/index.ts';
import { Backfill, ChunkWindow, WATERMARK_PREFIX, chunkSelect, parseWatermark, watermarkPayload, type Watermark } from './backfill.ts';
import { TableFilter, describeTable, listTables, loadTypes, tableName } from './catalog.ts';
import type { CatalogTable } from './catalog.ts';
import { postgresCdcConfig, type PostgresCdcConfig } from './config.ts';
import { TEXT_TYPES, classify, connect, dropSlot, quoteIdent } from './connection.ts';
import { TableEvents, eventOptions, snapshotRecord, sourceInfo, type EventOptions, type SourceInfo } from './events.ts';
import { formatLsn, parseLsn } from './lsn.ts';
import { decodePgOutput, pgTimeToUnixMicros, type TupleValue } from './pgoutput.ts';
import {
  HEARTBEAT_KEY_SCHEMA, HEARTBEAT_VALUE_SCHEMA, MESSAGE_KEY_SCHEMA, MESSAGE_VALUE_SCHEMA, TX_KEY_SCHEMA, TX_VALUE_SCHEMA,
} from './records.ts';
import { ReplicationStream, XLOGDATA_HEADER, type WalMessage } from './replication.ts';
import { ParallelSnapshot, parseResume } from './parallel-snapshot.ts';
// BullMQ (and ioredis) load only when this task coordinates chunk jobs (redis.url with tasks.max > 1).
import type { ChunkJobCoordinator } from './chunk-coordinator.ts';
import { taskRole } from './chunk-jobs.ts';
import { needsLookup, type TypeInfo } from './type-mapping.ts';

type Phase = 'init' | 'snapshot' | 'stream' | 'idle';

/**
 * The connector's offset, opaque to the runtime:
 * - streaming, between transactions: `{lsn, txId?, ts_usec?}`: every transaction ending at or
 *   before `lsn` was delivered; `lsn` is what gets confirmed to the slot;
 * - streaming, inside a transaction: additionally `lsn_commit` (the transaction's commit LSN) and
 *   `event` (how many of its changes were delivered): a restart skips those;
 * - snapshot: `{lsn, snapshot: true, snapshot_done: [tables], snapshot_chunks: {table: {plan, done}}}`
 *   where `lsn` is where streaming starts once the snapshot is done (parallel-snapshot.ts);
 * - streaming while a backfill runs: additionally `backfill: {id, tables, filters, after, ...}`
 *   (backfill.ts).
 */
interface StreamOffset { lsn: number; lsn_commit?: number; event?: number }

interface Tx {
  xid: number;
  finalLsn: number;
  commitUs: number;
  /** Index of the current change within the transaction (1-based once one was seen). */
  index: number;
  /** Changes up to this index were delivered before a restart. */
  skip: number;
  emitted: number;
  perTable: Map<string, number>;
  begun: boolean;
}

export class PostgresCdcTask implements SourceTask {
  private cfg!: PostgresCdcConfig;
  private context!: SourceTaskContext;
  private logger!: Logger;
  private partition: JsonObject = {};
  private opts!: EventOptions;
  private filter!: TableFilter;
  private skipped = new Set<string>();
  private messageInclude: RegExp[] = [];
  private messageExclude: RegExp[] = [];

  private phase: Phase = 'init';
  private query: pg.Client | undefined;
  private repl: ReplicationStream | undefined;
  private snapClient: pg.Client | undefined;
  private readonly stopping = new AbortController();

  /** The offset to resume from: the stored one, then the last one handed to the runtime. */
  private resumeFrom: JsonObject | null = null;
  private lastEmitted: JsonObject | null = null;
  private lastCommittedKey = '';
  private slotAttempts = 0;

  private readonly types = new Map<number, TypeInfo>();
  private readonly relations = new Map<number, TableEvents | null>();
  private lastCompleteLsn = 0;
  private confirmed = 0;
  private lastWalEnd = 0;
  private tx: Tx | null = null;
  private resumeSkip: { lsnCommit: number; event: number } | null = null;
  private lastStatusAt = 0;
  private lastHeartbeatAt = 0;
  private snapshot: ParallelSnapshot | undefined;
  private snapshotLsn = 0;
  /** Task 0 with chunk workers: the snapshot's chunks are jobs others read (chunk-jobs.ts). */
  private chunkJobs = false;
  private jobs: ChunkJobCoordinator | undefined;
  private jobsAnnounced = false;
  /** A finished run whose jobs are dropped once the snapshot's end is committed. */
  private jobsCleanup: ChunkJobCoordinator | undefined;
  private streamed = 0;

  /** The backfill running (from signals or the stored offset), its chunk between watermarks, signals not yet applied. */
  private backfill: Backfill | null = null;
  private window: ChunkWindow<Record<string, unknown>> | null = null;
  /** The schemas the window's rows were read with (a Relation message may replace the table's meanwhile). */
  private windowEvents: TableEvents | null = null;
  private readonly backfillTables = new Map<string, { table: CatalogTable; events: TableEvents }>();
  private pendingSignals: Array<{ stop: boolean; id: string; tables: string[] | null; filters: Record<string, string> }> = [];

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    const cfg = postgresCdcConfig.parse(config);
    this.cfg = cfg;
    this.context = context;
    this.logger = context.logger;
    this.partition = Object.freeze({ server: cfg['topic.prefix'] });
    this.opts = eventOptions(cfg);
    this.filter = new TableFilter({
      schemaInclude: cfg['schema.include.list'], schemaExclude: cfg['schema.exclude.list'],
      tableInclude: cfg['table.include.list'], tableExclude: cfg['table.exclude.list'],
    });
    this.skipped = new Set(cfg['skipped.operations'].filter((o) => o !== 'none'));
    this.messageInclude = (cfg['message.prefix.include.list'] ?? []).map((p) => new RegExp(`^(?:${p})$`));
    this.messageExclude = (cfg['message.prefix.exclude.list'] ?? []).map((p) => new RegExp(`^(?:${p})$`));
    this.chunkJobs = taskRole(config) === 'main' && cfg['redis.url'] !== null;
    this.resumeFrom = await context.offsetStorageReader.offset(this.partition);
    if (this.resumeFrom?.snapshot !== true) this.backfill = Backfill.fromOffset(this.resumeFrom);
    this.logger.info({ partition: this.partition, offset: this.resumeFrom }, 'postgres-cdc task starting');
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    if (signal.aborted || this.stopping.signal.aborted) return [];
    if (this.pendingSignals.length > 0) this.applySignals();
    // What the backfill looked like after the last records handed over: restored when this poll fails.
    const checkpoint = this.backfill?.toOffset() ?? null;
    try {
      if (this.phase === 'init') await this.setup();
      if (this.phase === 'snapshot') return await this.pollSnapshot(signal);
      if (this.phase === 'stream') return await this.pollStream(signal);
      await sleep(this.cfg['poll.interval.ms'], signal);
      return [];
    } catch (e) {
      if (signal.aborted || this.stopping.signal.aborted) return [];
      const err = classify(e, this.cfg, this.phase === 'init' ? 'starting' : this.phase === 'snapshot' ? 'reading the snapshot' : 'streaming changes');
      await this.teardown();
      if (this.lastEmitted) this.resumeFrom = this.lastEmitted;
      this.backfill = Backfill.fromOffset(checkpoint === null ? null : { backfill: checkpoint });
      this.phase = 'init';
      if (err instanceof RetriableError) this.logger.warn({ err: err.message }, 'postgres-cdc: reconnecting');
      throw err;
    }
  }

  commit(committed: Array<{ partition: JsonObject; offset: JsonObject }>): void {
    for (const { partition, offset } of committed) {
      if (partition.server !== this.cfg['topic.prefix']) continue;
      this.lastCommittedKey = offsetKey(offset);
      if (offset.snapshot === true) continue;
      if (this.jobsCleanup) {
        const done = this.jobsCleanup;
        this.jobsCleanup = undefined;
        void done.cleanup().catch((e: Error) => this.logger.warn({ err: e.message }, 'could not drop the finished snapshot chunk jobs')).finally(() => done.close());
      }
      const lsn = typeof offset.lsn === 'number' ? offset.lsn : null;
      if (lsn !== null && lsn > this.confirmed) {
        this.confirmed = lsn;
        this.repl?.sendStatus(lsn);
        this.lastStatusAt = Date.now();
      }
    }
  }

  /**
   * Debezium's `execute-snapshot` (an incremental snapshot: a backfill of chosen tables, with
   * optional filters, while streaming continues) and `stop-snapshot`. Validated here against the
   * catalog (a ConfigError names what is wrong); applied by the next poll. Other types: false.
   */
  async signal(signal: TaskSignal): Promise<boolean> {
    if (signal.type !== 'execute-snapshot' && signal.type !== 'stop-snapshot') return false;
    const data = (signal.data ?? {}) as JsonObject;
    const kind = data.type ?? 'incremental';
    if (typeof kind !== 'string' || kind.toLowerCase() !== 'incremental') {
      throw new ConfigError(`Signal ${signal.type}: snapshot type ${JSON.stringify(kind)} is not supported; only "incremental" (a backfill while streaming continues) is. Leave "type" out or set it to "incremental".`,
        [{ name: 'type', message: 'only incremental is supported' }]);
    }
    const raw = data['data-collections'];
    if (raw !== undefined && (!Array.isArray(raw) || raw.some((t) => typeof t !== 'string' || t.trim() === ''))) {
      throw new ConfigError(`Signal ${signal.type}: "data-collections" must be a list of table names ("schema.table"), got ${JSON.stringify(raw)}.`, [{ name: 'data-collections', message: 'a list of schema.table names' }]);
    }
    const names = raw === undefined ? null : (raw as string[]).map((t) => t.trim());
    if (this.cfg['snapshot.mode'] === 'initial_only') {
      throw new ConfigError(`Signal ${signal.type}: this connector does not stream (snapshot.mode=initial_only), and a backfill runs alongside the stream.`, [{ name: 'snapshot.mode', message: 'initial_only does not stream' }]);
    }
    if (signal.type === 'stop-snapshot') {
      this.pendingSignals.push({ stop: true, id: signal.id, tables: names, filters: {} });
      return true;
    }
    if (!names || names.length === 0) {
      throw new ConfigError('Signal execute-snapshot needs "data-collections": the tables to backfill, e.g. {"data-collections": ["public.orders"]}.', [{ name: 'data-collections', message: 'required' }]);
    }
    const conditions = data['additional-conditions'] ?? [];
    if (!Array.isArray(conditions) || conditions.some((c) => !c || typeof c !== 'object' || Array.isArray(c) || typeof (c as JsonObject)['data-collection'] !== 'string' || typeof (c as JsonObject).filter !== 'string')) {
      throw new ConfigError('Signal execute-snapshot: "additional-conditions" must be a list of {"data-collection": "schema.table", "filter": "<SQL condition>"}.', [{ name: 'additional-conditions', message: 'a list of {data-collection, filter}' }]);
    }
    const client = await connect(this.cfg);
    try {
      const tables: string[] = [];
      for (const name of names) tables.push(await this.checkBackfillTable(client, name));
      const filters: Record<string, string> = {};
      for (const c of conditions as Array<{ 'data-collection': string; filter: string }>) {
        const i = names.indexOf(c['data-collection'].trim());
        if (i < 0) throw new ConfigError(`Signal execute-snapshot: additional-conditions names ${c['data-collection']}, which is not in data-collections (${names.join(', ')}).`, [{ name: 'additional-conditions', message: `${c['data-collection']} is not in data-collections` }]);
        const filter = c.filter.trim();
        if (filter === '') continue;
        const [schema, table] = tables[i].split('.');
        try {
          await client.query(`explain select 1 from ${quoteIdent(schema)}.${quoteIdent(table)} where (${filter})`);
        } catch (e) {
          throw new ConfigError(`Signal execute-snapshot: the filter for ${tables[i]} is not a valid condition on it: ${(e as Error).message} (filter: ${filter}).`, [{ name: 'additional-conditions', message: (e as Error).message }]);
        }
        filters[tables[i]] = filter;
      }
      this.pendingSignals.push({ stop: false, id: signal.id, tables, filters });
      this.logger.info({ id: signal.id, tables, filters }, 'backfill requested');
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** `schema.table` as the catalog spells it, if the table exists, is captured and has a key. */
  private async checkBackfillTable(client: pg.Client, name: string): Promise<string> {
    const dot = name.indexOf('.');
    const id = dot < 0 ? { schema: 'public', table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
    const t = (await describeTable(client, id)) ?? (await describeTable(client, { schema: id.schema.toLowerCase(), table: id.table.toLowerCase() }));
    const field = [{ name: 'data-collections', message: `${name}` }];
    if (!t) throw new ConfigError(`Signal execute-snapshot: table ${name} does not exist in database ${this.cfg['database.dbname']}.`, field);
    if (!this.filter.includes(t)) throw new ConfigError(`Signal execute-snapshot: table ${tableName(t)} is not captured by this connector (see table.include.list / table.exclude.list / schema.*.list); only captured tables can be backfilled.`, field);
    if (t.keyColumns.length === 0) throw new ConfigError(`Signal execute-snapshot: table ${tableName(t)} has no primary key (or replica identity index); a backfill reads in key order.`, field);
    return tableName(t);
  }

  private applySignals(): void {
    for (const s of this.pendingSignals.splice(0)) {
      if (s.stop) {
        if (!this.backfill) continue;
        if (this.backfill.remove(s.tables)) this.window = null;
        this.logger.info({ tables: s.tables ?? 'all', left: this.backfill.tables }, 'backfill stopped');
        if (this.backfill.done) this.finishBackfill();
      } else if (this.backfill) {
        this.backfill.add(s.tables!, s.filters);
      } else {
        this.backfill = new Backfill(s.id, s.tables!, s.filters);
      }
    }
    if (this.backfill) this.context.reportProgress(this.backfill.progress());
  }

  private finishBackfill(): void {
    const b = this.backfill!;
    this.backfill = null;
    this.window = null;
    this.logger.info({ id: b.id, rows: b.rows, chunks: b.chunks, tables: b.tablesDone }, 'backfill done');
    this.context.reportProgress({ ...b.progress(), backfillTable: null, backfillCompleted: true });
  }

  /** Low watermark, select, high watermark (backfill.ts explains why). */
  private async openChunk(): Promise<void> {
    const b = this.backfill!;
    const name = b.current!;
    const client = this.query!;
    let meta = this.backfillTables.get(name);
    if (!meta) {
      const [schema, table] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
      const t = await describeTable(client, { schema, table });
      if (!t || t.keyColumns.length === 0) {
        this.logger.warn({ table: name }, 'backfill: the table is gone or has no key any more; skipping it');
        b.remove([name]);
        if (b.done) this.finishBackfill();
        return;
      }
      await this.ensureTypes(t.columns.map((c) => c.typeOid));
      meta = { table: t, events: new TableEvents({ schema: t.schema, table: t.table, columns: t.columns }, t, this.lookup, this.opts) };
      this.backfillTables.set(name, meta);
    }
    const { table: t, events: ev } = meta;
    const limit = this.cfg['incremental.snapshot.chunk.size'];
    const window = new ChunkWindow<Record<string, unknown>>(name);
    await this.emitWatermark(client, { chunk: window.chunk, mark: 'low' });
    const q = chunkSelect(t, b.filter(name), b.after, limit);
    let rows: string[][];
    try {
      rows = (await client.query<string[]>({ text: q.text, values: q.values, rowMode: 'array', types: TEXT_TYPES })).rows;
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (!code.startsWith('42') && !code.startsWith('22')) throw e;
      // The filter (or the table) no longer fits: give up on this table, not on the task.
      this.logger.error({ table: name, err: (e as Error).message }, 'backfill: the chunk select failed; skipping the table');
      this.context.reportProgress({ backfillError: `${name}: ${(e as Error).message}` });
      b.remove([name]);
      if (b.done) this.finishBackfill();
      return;
    }
    const keyIdx = t.keyColumns.map((k) => t.columns.findIndex((c) => c.name === k));
    const entries: Array<[string, Record<string, unknown>]> = rows.map((r) => {
      const after = ev.row(r as TupleValue[]);
      return [JSON.stringify(ev.key(after)), after];
    });
    const last = rows.at(-1);
    window.setRows(entries, last ? keyIdx.map((i) => last[i]) : null, rows.length >= limit);
    this.window = window;
    this.windowEvents = ev;
    await this.emitWatermark(client, { chunk: window.chunk, mark: 'high' });
  }

  private async emitWatermark(client: pg.Client, w: Watermark): Promise<void> {
    await client.query('select pg_logical_emit_message(true, $1, $2)', [WATERMARK_PREFIX, watermarkPayload(w)]);
  }

  /** A streamed change between the watermarks drops its keys (old and new) from the chunk. */
  private touchWindow(ev: TableEvents, msg: { tag: 'insert' | 'update' | 'delete'; newTuple?: TupleValue[]; keyTuple?: TupleValue[] | null; oldTuple?: TupleValue[] | null }): void {
    const window = this.window!;
    const name = `${ev.schema}.${ev.table}`;
    if (name !== window.table) return;
    if (msg.newTuple) window.touch(name, JSON.stringify(ev.key(ev.row(msg.newTuple))));
    const old = msg.oldTuple ? ev.row(msg.oldTuple) : msg.keyTuple ? ev.beforeRow(msg.keyTuple) : null;
    if (old) window.touch(name, JSON.stringify(ev.key(old)));
  }

  /** A watermark message: at this chunk's high watermark, emit what is left of it. Never an event itself. */
  private onWatermark(content: Buffer, tx: Tx | null, out: SourceRecord[]): SourceRecord | undefined {
    const w = parseWatermark(content);
    const window = this.window;
    const b = this.backfill;
    if (!w || !window || !b) return undefined;
    const rows = window.onWatermark(w);
    if (rows === null) return undefined;
    this.window = null;
    const ev = this.windowEvents!;
    const before = b.toOffset();
    b.chunkEmitted(window.lastKey, rows.length, window.full, window.dropped);
    if (b.done) this.finishBackfill();
    else this.context.reportProgress(b.progress());
    if (rows.length === 0) return undefined;
    const now = Date.now();
    let rec: SourceRecord | undefined;
    for (let i = 0; i < rows.length; i++) {
      const after = rows[i];
      const offset = i === rows.length - 1 ? this.offset(tx) : { ...this.offset(tx), backfill: before };
      rec = {
        topic: ev.topic,
        key: ev.key(after), keySchema: ev.keySchema,
        value: { before: null, after, source: this.source(ev, now * 1000, 'incremental', null, null, null), transaction: null, op: 'r', ts_ms: now, ts_us: now * 1000, ts_ns: null },
        valueSchema: ev.valueSchema,
        timestamp: now,
        sourcePartition: this.partition,
        sourceOffset: offset,
      };
      out.push(rec);
    }
    return tx ? rec : undefined;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.teardown();
    // A finished run whose end was not committed yet keeps its jobs (the next start sees it done).
    await this.jobsCleanup?.close().catch(() => {});
    this.jobsCleanup = undefined;
    if (this.cfg?.['slot.drop.on.stop']) await dropSlot(this.cfg, this.logger, 'slot.drop.on.stop', 5000);
  }

  // ---- setup ----------------------------------------------------------------------------------

  private async setup(): Promise<void> {
    const cfg = this.cfg;
    const slot = cfg['slot.name'];
    const query = await connect(cfg);
    this.query = query;
    const wal = (await query.query<{ wal_level: string }>('show wal_level')).rows[0].wal_level;
    if (wal !== 'logical') {
      throw new FatalError(`Postgres runs with wal_level = ${wal}; logical replication needs wal_level = logical. Set it in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart the server.`);
    }
    const role = (await query.query<{ rolreplication: boolean; rolsuper: boolean }>('select rolreplication, rolsuper from pg_roles where rolname = current_user')).rows[0];
    if (!role?.rolreplication && !role?.rolsuper) {
      throw new FatalError(`User ${cfg['database.user']} lacks the REPLICATION attribute needed for logical replication. Run ALTER ROLE ${quoteIdent(cfg['database.user'])} WITH REPLICATION (as a superuser), or connect as a role that has it.`);
    }
    const tables = await listTables(query, this.filter);
    this.checkIncludedTablesExist(tables.map(tableName));
    await this.ensurePublication(query, tables.map(tableName));

    const slots = await query.query<{ plugin: string; database: string; active: boolean; active_pid: number | null; confirmed_flush_lsn: string | null }>(
      'select plugin, database, active, active_pid, confirmed_flush_lsn from pg_replication_slots where slot_name = $1', [slot]);
    const existing = slots.rows[0];
    if (existing) {
      if (existing.plugin !== 'pgoutput') throw new FatalError(`Replication slot ${slot} uses the ${existing.plugin} plugin; this connector needs pgoutput. Drop the slot or choose another slot.name.`);
      if (existing.database !== cfg['database.dbname']) throw new FatalError(`Replication slot ${slot} belongs to database ${existing.database}, not ${cfg['database.dbname']}. Choose another slot.name.`);
      if (existing.active) this.slotBusy(existing.active_pid);
    }
    this.slotAttempts = 0;

    const stored = this.resumeFrom;
    const storedLsn = typeof stored?.lsn === 'number' ? stored.lsn : null;
    const inSnapshot = stored?.snapshot === true;
    const mode = cfg['snapshot.mode'];
    const slotConfirmed = existing?.confirmed_flush_lsn ? parseLsn(existing.confirmed_flush_lsn) : null;
    let snapshot: boolean;
    switch (mode) {
      case 'initial': case 'initial_only': snapshot = stored === null || inSnapshot; break;
      case 'always': snapshot = true; break;
      case 'when_needed': snapshot = stored === null || inSnapshot || !existing || (slotConfirmed !== null && storedLsn !== null && slotConfirmed > storedLsn); break;
      default: snapshot = false;
    }
    if (!existing && stored !== null && !inSnapshot && !snapshot) {
      throw new FatalError(`Replication slot ${slot} does not exist, but the connector has a stored position (LSN ${formatLsn(storedLsn ?? 0)}): the changes since then are gone. ` +
        'Use snapshot.mode=when_needed to take a new snapshot, or reset the connector\'s offsets (DELETE /connectors/<name>/offsets while stopped).');
    }

    const replClient = await connect(cfg, true);
    const repl = new ReplicationStream(replClient);
    this.repl = repl;
    let consistentPoint: number | null = null;
    let exported: string | null = null;
    if (!existing) {
      try {
        const created = await repl.createSlot(slot, snapshot);
        consistentPoint = parseLsn(created.consistentPoint);
        exported = created.snapshotName;
        this.logger.info({ slot, consistentPoint: created.consistentPoint }, 'created replication slot');
      } catch (e) {
        throw classify(e, cfg, `creating replication slot ${slot}`);
      }
    }
    this.confirmed = slotConfirmed ?? consistentPoint ?? 0;
    const startLsn = Math.max(inSnapshot || snapshot ? 0 : storedLsn ?? 0, slotConfirmed ?? 0, consistentPoint ?? 0);
    if (snapshot) {
      await this.beginSnapshot(exported, inSnapshot ? stored : null, inSnapshot && storedLsn !== null ? storedLsn : startLsn);
    } else {
      await this.startStreaming(stored && !inSnapshot ? stored : null, startLsn);
    }
  }

  private slotBusy(pid: number | null): never {
    // Right after a crash the old walsender may hold the slot for a moment: retry a few times first.
    this.slotAttempts++;
    const message = `Replication slot ${this.cfg['slot.name']} is in use by another process (PID ${pid ?? '?'}). Stop the other consumer (select pg_terminate_backend(${pid ?? 'pid'})) or give this connector its own slot.name.`;
    if (this.slotAttempts <= SLOT_BUSY_RETRIES) throw new RetriableError(message, { retryAfterMs: 1000 });
    throw new FatalError(message);
  }

  private checkIncludedTablesExist(found: string[]): void {
    const include = this.cfg['table.include.list'] ?? [];
    const have = new Set(found.map((n) => n.toLowerCase()));
    const missing = include.filter((p) => /^[\w$]+\.[\w$]+$/.test(p) && !have.has(p.toLowerCase()));
    if (missing.length > 0) {
      throw new FatalError(`table.include.list names ${missing.length === 1 ? 'a table' : 'tables'} that ${missing.length === 1 ? 'does' : 'do'} not exist in database ${this.cfg['database.dbname']}: ${missing.join(', ')}. Create ${missing.length === 1 ? 'it' : 'them'} or fix the list.`);
    }
  }

  private async ensurePublication(query: pg.Client, tables: string[]): Promise<void> {
    const name = this.cfg['publication.name'];
    const mode = this.cfg['publication.autocreate.mode'];
    const { rows } = await query.query<{ puballtables: boolean }>('select puballtables from pg_publication where pubname = $1', [name]);
    const list = tables.map((t) => { const [s, ...rest] = t.split('.'); return `${quoteIdent(s)}.${quoteIdent(rest.join('.'))}`; }).join(', ');
    try {
      if (rows.length === 0) {
        if (mode === 'disabled') throw new FatalError(`Publication ${name} does not exist and publication.autocreate.mode is disabled. Create it (CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ...) or change the mode.`);
        if (mode === 'all_tables') await query.query(`create publication ${quoteIdent(name)} for all tables`);
        else if (tables.length === 0) throw new FatalError(`publication.autocreate.mode is filtered but the include/exclude lists select no table, so publication ${name} would be empty.`);
        else await query.query(`create publication ${quoteIdent(name)} for table ${list}`);
        this.logger.info({ publication: name, mode }, 'created publication');
      } else if (mode === 'filtered' && !rows[0].puballtables && tables.length > 0) {
        await query.query(`alter publication ${quoteIdent(name)} set table ${list}`);
      }
    } catch (e) {
      if ((e as { code?: string }).code === '42710') return; // created concurrently
      throw classify(e, this.cfg, `creating publication ${name}`);
    }
  }

  private async teardown(): Promise<void> {
    const { repl, query, snapshot, jobs } = this;
    this.jobs = undefined;
    this.jobsAnnounced = false;
    this.repl = undefined;
    this.query = undefined;
    this.snapClient = undefined;
    this.snapshot = undefined;
    this.tx = null;
    this.window = null;
    this.backfillTables.clear();
    this.relations.clear();
    await repl?.close().catch(() => {});
    await snapshot?.close().catch(() => {});
    await jobs?.close().catch(() => {});
    await query?.end().catch(() => {});
  }

  // ---- snapshot -------------------------------------------------------------------------------

  private async beginSnapshot(exported: string | null, resume: JsonObject | null, lsn: number): Promise<void> {
    // After a crash the slot's exported snapshot is gone (it lived only until the next command on
    // the replication connection that created the slot): the remaining chunks are read in a fresh
    // snapshot, which is later than the slot's consistent point. Streaming still starts at that
    // point, so every change committed in between arrives as an event too: duplicated, never missed.
    const snap = await ParallelSnapshot.open(this.cfg, exported, this.logger);
    this.snapshot = snap;
    this.snapshotLsn = lsn;
    const client = snap.catalog;
    this.snapClient = client;
    const point = parseResume(resume);
    const doneSet = new Set(point.done);
    const tables: CatalogTable[] = [];
    for (const id of await listTables(client, this.filter)) {
      if (doneSet.has(tableName(id))) continue;
      const t = await describeTable(client, id);
      if (t) tables.push(t);
    }
    await this.ensureTypes(tables.flatMap((t) => t.columns.map((c) => c.typeOid)));
    if (this.chunkJobs) {
      const { ChunkJobCoordinator } = await import('./chunk-coordinator.ts');
      this.jobs = await ChunkJobCoordinator.start({
        redisUrl: this.cfg['redis.url']!, connector: this.context.connectorName, logger: this.logger,
        catalog: client, snapshot: snap.snapshotName, tables, stored: resume, resume: point, lsn, chunkRows: this.cfg['snapshot.fetch.size'],
      });
      this.jobsAnnounced = false;
      this.phase = 'snapshot';
      this.logger.info({ tables: tables.length, resumed: resume !== null, exported: exported !== null, run: this.jobs.run, generation: this.jobs.generation }, 'snapshot starting as chunk jobs');
      this.context.reportProgress(this.jobs.progress());
      return;
    }
    await snap.start({
      tables, resume: point, lsn, first: resume === null,
      events: (t) => new TableEvents({ schema: t.schema, table: t.table, columns: t.columns }, t, this.lookup, this.opts),
      record: (ev, row, marker, now) => snapshotRecord(ev, row, marker, now, this.opts, this.partition, NO_OFFSET),
    });
    this.phase = 'snapshot';
    this.logger.info({ tables: tables.length, resumed: resume !== null, exported: exported !== null }, 'snapshot starting');
    this.context.reportProgress(snap.progress());
  }

  /**
   * Task 0 while chunk workers read the snapshot: it emits no rows, so heartbeat records carry its
   * offset (Debezium's heartbeats exist for exactly that): first the run in progress, so that a
   * restart continues it; at the end `{lsn}`, so that a restart does not redo it.
   */
  private async pollJobSnapshot(signal: AbortSignal): Promise<SourceRecord[]> {
    const jobs = this.jobs!;
    if (!this.jobsAnnounced) {
      this.jobsAnnounced = true;
      this.lastEmitted = jobs.inProgressOffset;
      return [this.heartbeatRecord(jobs.inProgressOffset)];
    }
    await sleep(this.cfg['poll.interval.ms'], signal);
    if (signal.aborted) return [];
    let finished: boolean;
    try {
      finished = await jobs.refresh();
    } catch (e) {
      if (e instanceof RetriableError) throw e;
      // Redis is away for a moment: the snapshot transaction is fine, look again next poll.
      this.logger.warn({ err: (e as Error).message }, 'snapshot chunk jobs: cannot read the queue');
      return [];
    }
    const progress = jobs.progress();
    this.context.reportProgress(progress);
    if (!finished) return [];
    const snap = this.snapshot!;
    this.jobs = undefined;
    this.snapshot = undefined;
    this.snapClient = undefined;
    await snap.close();
    const rows = await jobs.rowsByTask().catch(() => ({}));
    const total = Object.values(rows).reduce((a, b) => a + b, 0);
    this.logger.info({ chunks: progress.snapshotChunksTotal, rows: total, rowsByTask: rows, run: jobs.run }, 'snapshot done (chunk jobs)');
    this.context.reportProgress({ ...progress, phase: this.cfg['snapshot.mode'] === 'initial_only' ? 'snapshot-only done' : 'streaming', snapshotRowsDone: total, snapshotRowsEstimated: total, snapshotCompleted: true });
    this.jobsCleanup = jobs;
    const done = this.heartbeatRecord({ lsn: this.snapshotLsn });
    this.lastEmitted = done.sourceOffset;
    if (this.cfg['snapshot.mode'] === 'initial_only') {
      await this.repl?.close();
      this.repl = undefined;
      this.phase = 'idle';
      return [done];
    }
    this.lastCompleteLsn = this.snapshotLsn;
    await this.startStreaming(null, this.snapshotLsn);
    return [done];
  }

  private heartbeatRecord(offset: JsonObject): SourceRecord {
    const now = Date.now();
    return {
      topic: `${this.cfg['topic.heartbeat.prefix']}.${this.opts.prefix}`,
      key: { serverName: this.opts.prefix }, keySchema: HEARTBEAT_KEY_SCHEMA,
      value: { ts_ms: now }, valueSchema: HEARTBEAT_VALUE_SCHEMA,
      timestamp: now,
      sourcePartition: this.partition,
      sourceOffset: offset,
    };
  }

  private async pollSnapshot(signal: AbortSignal): Promise<SourceRecord[]> {
    if (this.jobs) return this.pollJobSnapshot(signal);
    const snap = this.snapshot!;
    const out = await snap.take(this.cfg['max.batch.size'], this.cfg['poll.interval.ms'], signal);
    if (out.length > 0) {
      this.lastEmitted = out[out.length - 1].sourceOffset;
      this.context.reportProgress(snap.progress());
      return out;
    }
    if (!snap.finished) {
      this.context.reportProgress(snap.progress());
      return out;
    }
    // Every record was handed over: end the snapshot transactions, then stream (or stop).
    const progress = snap.progress();
    this.snapshot = undefined;
    this.snapClient = undefined;
    await snap.close();
    this.logger.info({ rows: progress.snapshotRowsDone, rowsPerSecond: progress.snapshotRowsPerSecond, chunks: progress.snapshotChunksTotal }, 'snapshot done');
    this.context.reportProgress({ ...progress, phase: this.cfg['snapshot.mode'] === 'initial_only' ? 'snapshot-only done' : 'streaming', snapshotRowsEstimated: progress.snapshotRowsDone, snapshotCompleted: true });
    const lsn = this.snapshotLsn;
    if (this.cfg['snapshot.mode'] === 'initial_only') {
      await this.repl?.close();
      this.repl = undefined;
      this.phase = 'idle';
      return [];
    }
    this.lastCompleteLsn = lsn;
    await this.startStreaming(null, lsn);
    return [];
  }

  // ---- streaming ------------------------------------------------------------------------------

  private async startStreaming(resume: JsonObject | null, lsn: number): Promise<void> {
    const off = resume as StreamOffset | null;
    const from = Math.max(lsn, off?.lsn ?? 0);
    this.lastCompleteLsn = from;
    this.resumeSkip = off && typeof off.lsn_commit === 'number' && typeof off.event === 'number' ? { lsnCommit: off.lsn_commit, event: off.event } : null;
    if (!this.query) this.query = await connect(this.cfg);
    try {
      await this.repl!.start(this.cfg['slot.name'], from, this.cfg['publication.name'], true);
    } catch (e) {
      const err = classify(e, this.cfg, `starting replication from slot ${this.cfg['slot.name']}`);
      if ((e as { code?: string }).code === '55006') this.slotBusy(null);
      throw err;
    }
    this.phase = 'stream';
    this.lastStatusAt = Date.now();
    this.lastHeartbeatAt = Date.now();
    this.logger.info({ slot: this.cfg['slot.name'], from: formatLsn(from), skip: this.resumeSkip }, 'streaming changes');
    this.context.reportProgress({ phase: 'streaming', startLsn: formatLsn(from) });
  }

  private async pollStream(signal: AbortSignal): Promise<SourceRecord[]> {
    const repl = this.repl!;
    if (this.backfill && !this.window) await this.openChunk();
    const msgs = await repl.take(this.cfg['max.batch.size'], this.cfg['poll.interval.ms'], signal);
    const out: SourceRecord[] = [];
    let lastTxRecord: SourceRecord | undefined;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i];
      if (m.kind === 'keepalive') {
        if (m.walEnd > this.lastWalEnd) this.lastWalEnd = m.walEnd;
        if (m.replyRequested) {
          repl.sendStatus(this.confirmed);
          this.lastStatusAt = Date.now();
        }
        continue;
      }
      const r = this.handle(m, out, lastTxRecord);
      if (r instanceof Promise) await r;
      else if (r !== undefined) lastTxRecord = r;
    }
    const now = Date.now();
    if (this.tx === null) {
      const hb = this.cfg['heartbeat.interval.ms'];
      if (hb > 0 && now - this.lastHeartbeatAt >= hb) {
        this.lastHeartbeatAt = now;
        await this.heartbeat(out, now);
      } else if (hb === 0 && out.length === 0 && this.lastWalEnd > this.confirmed && this.allCommitted()) {
        // Without heartbeats: nothing is in flight and the server has sent everything up to
        // lastWalEnd, so confirm it and let the server release WAL of tables we do not capture.
        this.lastCompleteLsn = Math.max(this.lastCompleteLsn, this.lastWalEnd);
        this.confirmed = this.lastWalEnd;
        repl.sendStatus(this.confirmed);
        this.lastStatusAt = now;
      }
    }
    if (now - this.lastStatusAt >= this.cfg['status.update.interval.ms']) {
      repl.sendStatus(this.confirmed);
      this.lastStatusAt = now;
    }
    if (out.length > 0) {
      this.lastEmitted = out[out.length - 1].sourceOffset;
      this.streamed += out.length;
    }
    if (msgs.length > 0) this.context.reportProgress({ streamedRecords: this.streamed, lastLsn: formatLsn(this.lastCompleteLsn), confirmedLsn: formatLsn(this.confirmed) });
    return out;
  }

  private allCommitted(): boolean {
    return this.lastEmitted === null || offsetKey(this.lastEmitted) === this.lastCommittedKey;
  }

  private async heartbeat(out: SourceRecord[], now: number): Promise<void> {
    const action = this.cfg['heartbeat.action.query'];
    if (action) await this.query!.query(action);
    const lsn = Math.max(this.lastCompleteLsn, this.lastWalEnd);
    this.lastCompleteLsn = lsn;
    out.push({
      topic: `${this.cfg['topic.heartbeat.prefix']}.${this.opts.prefix}`,
      key: { serverName: this.opts.prefix }, keySchema: HEARTBEAT_KEY_SCHEMA,
      value: { ts_ms: now }, valueSchema: HEARTBEAT_VALUE_SCHEMA,
      timestamp: now,
      sourcePartition: this.partition,
      sourceOffset: this.withBackfill({ lsn }),
    });
  }

  /**
   * Handles one pgoutput message; returns the last record it added for the current transaction.
   * Synchronous but for Relation and Type messages (catalog lookups): an async function would
   * cost every change a promise and a microtask.
   */
  private handle(m: Extract<WalMessage, { kind: 'data' }>, out: SourceRecord[], lastTxRecord: SourceRecord | undefined): SourceRecord | undefined | Promise<void> {
    const msg = decodePgOutput(m.frame, XLOGDATA_HEADER);
    switch (msg.tag) {
      case 'begin': {
        let skip = 0;
        if (this.resumeSkip) {
          if (this.resumeSkip.lsnCommit === msg.finalLsn) skip = this.resumeSkip.event;
          this.resumeSkip = null;
        }
        this.tx = { xid: msg.xid, finalLsn: msg.finalLsn, commitUs: Number(pgTimeToUnixMicros(msg.commitTime)), index: 0, skip, emitted: 0, perTable: new Map(), begun: false };
        return undefined;
      }
      case 'commit': {
        const tx = this.tx;
        this.tx = null;
        this.lastCompleteLsn = msg.endLsn;
        const done: JsonObject = this.withBackfill({ lsn: msg.endLsn, txId: tx?.xid ?? null, ts_usec: tx?.commitUs ?? null });
        if (tx && this.opts.transactionMetadata && tx.begun) {
          out.push(this.txRecord(tx, 'END', done));
          return undefined;
        }
        if (lastTxRecord) lastTxRecord.sourceOffset = done;
        return undefined;
      }
      case 'relation':
        return this.onRelation(msg);
      case 'type':
        this.types.delete(msg.typeOid);
        return this.ensureTypes([msg.typeOid]);
      case 'origin':
        return undefined;
      case 'insert': case 'update': case 'delete': {
        const tx = this.tx;
        if (tx) tx.index++;
        const ev = this.relations.get(msg.relationOid);
        if (ev && this.window?.state === 'open') this.touchWindow(ev, msg);
        if (!ev || (tx && tx.index <= tx.skip)) return undefined;
        const op = msg.tag === 'insert' ? 'c' : msg.tag === 'update' ? 'u' : 'd';
        if (this.skipped.has(op)) return undefined;
        return this.change(ev, msg, m.walStart, out);
      }
      case 'truncate': {
        const tx = this.tx;
        if (tx) tx.index++;
        if (this.window?.state === 'open') {
          for (const oid of msg.relationOids) {
            const ev = this.relations.get(oid);
            if (ev) this.window.truncated(`${ev.schema}.${ev.table}`);
          }
        }
        if (this.skipped.has('t') || (tx && tx.index <= tx.skip)) return undefined;
        let last: SourceRecord | undefined;
        for (const oid of msg.relationOids) {
          const ev = this.relations.get(oid);
          if (!ev) continue;
          last = this.emit(ev, null, null, null, 't', m.walStart, out);
        }
        return last;
      }
      case 'message': {
        const tx = msg.transactional ? this.tx : null;
        if (tx) tx.index++;
        if (tx && tx.index <= tx.skip) return undefined;
        if (msg.prefix === WATERMARK_PREFIX) return this.onWatermark(msg.content, tx, out);
        if (this.messageInclude.length > 0 && !this.messageInclude.some((r) => r.test(msg.prefix))) return undefined;
        if (this.messageExclude.some((r) => r.test(msg.prefix))) return undefined;
        const now = Date.now();
        const commitUs = tx?.commitUs ?? now * 1000;
        const source = this.sourceFor('', '', commitUs, 'false', tx?.xid ?? null, msg.lsn);
        const rec: SourceRecord = {
          topic: `${this.opts.prefix}.message`,
          key: { prefix: msg.prefix }, keySchema: MESSAGE_KEY_SCHEMA,
          value: { op: 'm', ts_ms: now, source, message: { prefix: msg.prefix, content: Buffer.from(msg.content) } },
          valueSchema: MESSAGE_VALUE_SCHEMA,
          timestamp: now,
          sourcePartition: this.partition,
          sourceOffset: this.offset(tx),
        };
        out.push(rec);
        return tx ? rec : undefined;
      }
    }
  }

  private change(ev: TableEvents, msg: { tag: 'insert' | 'update' | 'delete'; newTuple?: TupleValue[]; keyTuple?: TupleValue[] | null; oldTuple?: TupleValue[] | null }, lsn: number, out: SourceRecord[]): SourceRecord {
    if (msg.tag === 'insert') {
      const after = ev.row(msg.newTuple!);
      return this.emit(ev, ev.key(after), null, after, 'c', lsn, out);
    }
    const old = msg.oldTuple ?? null;
    const before = old ? ev.row(old) : msg.keyTuple ? ev.beforeRow(msg.keyTuple) : null;
    if (msg.tag === 'delete') {
      const key = before ? ev.key(before) : null;
      const rec = this.emit(ev, key, before, null, 'd', lsn, out);
      if (!this.cfg['tombstones.on.delete'] || key === null) return rec;
      const tomb: SourceRecord = { ...rec, value: null, valueSchema: undefined, sourceOffset: rec.sourceOffset };
      out.push(tomb);
      return tomb;
    }
    const after = ev.row(msg.newTuple!, old);
    const newKey = ev.key(after);
    const oldKey = before ? ev.key(before) : null;
    if (oldKey && newKey && msg.keyTuple && JSON.stringify(oldKey) !== JSON.stringify(newKey)) {
      // The primary key changed: a delete of the old key (and its tombstone), then a create, as Debezium does.
      const del = this.emit(ev, oldKey, before, null, 'd', lsn, out);
      del.headers = [{ key: '__debezium.newkey', value: JSON.stringify(newKey) }];
      if (this.cfg['tombstones.on.delete']) out.push({ ...del, value: null, valueSchema: undefined, headers: undefined });
      const create = this.emit(ev, newKey, null, after, 'c', lsn, out);
      create.headers = [{ key: '__debezium.oldkey', value: JSON.stringify(oldKey) }];
      return create;
    }
    return this.emit(ev, newKey, before, after, 'u', lsn, out);
  }

  private emit(ev: TableEvents, key: Record<string, unknown> | null, before: unknown, after: unknown, op: string, lsn: number, out: SourceRecord[]): SourceRecord {
    const tx = this.tx;
    const now = Date.now();
    let transaction: unknown = null;
    if (tx) {
      if (this.opts.transactionMetadata) {
        if (!tx.begun) {
          tx.begun = true;
          out.push(this.txRecord(tx, 'BEGIN', this.offset(tx)));
        }
        const coll = `${ev.schema}.${ev.table}`;
        const n = (tx.perTable.get(coll) ?? 0) + 1;
        tx.perTable.set(coll, n);
        transaction = { id: `${tx.xid}:${tx.finalLsn}`, total_order: tx.emitted + 1, data_collection_order: n };
      }
      tx.emitted++;
    }
    const source = this.source(ev, tx?.commitUs ?? now * 1000, 'false', tx?.xid ?? null, lsn, tx);
    const rec: SourceRecord = {
      topic: ev.topic,
      key, keySchema: key === null ? undefined : ev.keySchema,
      value: { before, after, source, transaction, op, ts_ms: now, ts_us: now * 1000, ts_ns: null },
      valueSchema: ev.valueSchema,
      timestamp: now,
      sourcePartition: this.partition,
      sourceOffset: this.offset(tx),
    };
    out.push(rec);
    return rec;
  }

  private offset(tx: Tx | null): JsonObject {
    if (!tx) return this.withBackfill({ lsn: this.lastCompleteLsn });
    return this.withBackfill({ lsn: this.lastCompleteLsn, lsn_commit: tx.finalLsn, event: tx.index, txId: tx.xid, ts_usec: tx.commitUs });
  }

  private withBackfill(o: JsonObject): JsonObject {
    if (this.backfill) o.backfill = this.backfill.toOffset();
    return o;
  }

  private source(ev: TableEvents, commitUs: number, snapshot: string, xid: number | null, lsn: number | null, tx: Tx | null): SourceInfo {
    const s = this.sourceFor(ev.schema, ev.table, commitUs, snapshot, xid, lsn);
    if (tx && lsn !== null) s.sequence = `["${this.lastCompleteLsn}","${lsn}"]`;
    return s;
  }

  private sourceFor(schema: string, table: string, commitUs: number, snapshot: string, xid: number | null, lsn: number | null): SourceInfo {
    return sourceInfo(this.opts, schema, table, commitUs, snapshot, xid, lsn);
  }

  private txRecord(tx: Tx, status: 'BEGIN' | 'END', offset: JsonObject): SourceRecord {
    const id = `${tx.xid}:${tx.finalLsn}`;
    const tsMs = Math.floor(tx.commitUs / 1000);
    return {
      topic: `${this.opts.prefix}.${this.cfg['topic.transaction']}`,
      key: { id }, keySchema: TX_KEY_SCHEMA,
      value: status === 'BEGIN'
        ? { status, id, event_count: null, data_collections: null, ts_ms: tsMs }
        : { status, id, event_count: tx.emitted, data_collections: [...tx.perTable].map(([c, n]) => ({ data_collection: c, event_count: n })), ts_ms: tsMs },
      valueSchema: TX_VALUE_SCHEMA,
      timestamp: tsMs,
      sourcePartition: this.partition,
      sourceOffset: offset,
    };
  }

  private async onRelation(msg: { relationOid: number; schema: string; table: string; columns: Array<{ name: string; typeOid: number; typeMod: number }> }): Promise<void> {
    if (!this.filter.includes(msg)) {
      this.relations.set(msg.relationOid, null);
      return;
    }
    await this.ensureTypes(msg.columns.map((c) => c.typeOid));
    this.backfillTables.delete(`${msg.schema}.${msg.table}`);
    const catalog = await describeTable(this.query!, { oid: msg.relationOid });
    this.relations.set(msg.relationOid, new TableEvents(msg, catalog, this.lookup, this.opts));
  }

  private readonly lookup = (oid: number): TypeInfo | undefined => this.types.get(oid);

  private async ensureTypes(oids: number[]): Promise<void> {
    const missing = [...new Set(oids.filter((o) => needsLookup(o) && !this.types.has(o)))];
    if (missing.length === 0) return;
    const client = this.query ?? this.snapClient;
    if (!client) return;
    for (const t of await loadTypes(client, missing)) this.types.set(t.oid, t);
  }
}

/** Attempts (a second apart) before a slot held by another process fails the task. */
const SLOT_BUSY_RETRIES = 5;

function offsetKey(o: JsonObject): string {
  return `${String(o.lsn)}:${String(o.lsn_commit ?? '')}:${String(o.event ?? '')}:${o.snapshot === true ? JSON.stringify(o.snapshot_chunks ?? null) + JSON.stringify(o.snapshot_done ?? null) : ''}:${o.backfill ? JSON.stringify(o.backfill) : ''}`;
}

/** Placeholder until the snapshot reader sets a record's offset. */
const NO_OFFSET: JsonObject = Object.freeze({}) as JsonObject;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    const onAbort = () => done();
    signal?.addEventListener('abort', onAbort, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
  });
}
