/**
 * Change events in Debezium's envelope: key and value schemas per table, rows from pgoutput
 * tuples or snapshot rows (both text), and the source block.
 */
import type { FieldSchema, JsonObject, Schema, SourceRecord } from '../../runtime/api/index.ts';
import type { CatalogTable } from './catalog.ts';
import type { PostgresCdcConfig } from './config.ts';
import { UNCHANGED_TOAST, type TupleValue } from './pgoutput.ts';
import { DECIMAL, VARIABLE_SCALE_DECIMAL, mapType, type ColumnMapping, type TypeLookup } from './type-mapping.ts';

export const CONNECTOR_VERSION = '0.1.0';

export interface EventOptions {
  prefix: string;
  db: string;
  decimalMode: string;
  binaryMode: string;
  placeholder: string;
  transactionMetadata: boolean;
}

/** The event options a connector config sets (the streaming task and the chunk workers alike). */
export function eventOptions(cfg: PostgresCdcConfig): EventOptions {
  return {
    prefix: cfg['topic.prefix'],
    db: cfg['database.dbname'],
    decimalMode: cfg['decimal.handling.mode'],
    binaryMode: cfg['binary.handling.mode'],
    placeholder: cfg['unavailable.value.placeholder'],
    transactionMetadata: cfg['provide.transaction.metadata'],
  };
}

export const SNAPSHOT_ENUM = 'true,first,first_in_data_collection,last_in_data_collection,last,false,incremental';

export const SOURCE_SCHEMA: Schema = {
  type: 'struct',
  name: 'io.debezium.connector.postgresql.Source',
  optional: false,
  fields: [
    { field: 'version', type: 'string', optional: false },
    { field: 'connector', type: 'string', optional: false },
    { field: 'name', type: 'string', optional: false },
    { field: 'ts_ms', type: 'int64', optional: false },
    { field: 'snapshot', type: 'string', optional: true, name: 'io.debezium.data.Enum', version: 1, parameters: { allowed: SNAPSHOT_ENUM }, default: 'false' },
    { field: 'db', type: 'string', optional: false },
    { field: 'sequence', type: 'string', optional: true },
    { field: 'ts_us', type: 'int64', optional: true },
    { field: 'ts_ns', type: 'int64', optional: true },
    { field: 'schema', type: 'string', optional: false },
    { field: 'table', type: 'string', optional: false },
    { field: 'txId', type: 'int64', optional: true },
    { field: 'lsn', type: 'int64', optional: true },
    { field: 'xmin', type: 'int64', optional: true },
  ],
};

export const TRANSACTION_BLOCK_SCHEMA: FieldSchema = {
  field: 'transaction',
  type: 'struct',
  name: 'event.block',
  version: 1,
  optional: true,
  fields: [
    { field: 'id', type: 'string', optional: false },
    { field: 'total_order', type: 'int64', optional: false },
    { field: 'data_collection_order', type: 'int64', optional: false },
  ],
};

export interface SourceInfo {
  version: string;
  connector: 'postgresql';
  name: string;
  ts_ms: number;
  snapshot: string;
  db: string;
  sequence: string | null;
  ts_us: number;
  ts_ns: bigint | null;
  schema: string;
  table: string;
  txId: number | null;
  lsn: number | null;
  xmin: null;
}

/** The source block of an event. */
export function sourceInfo(opts: EventOptions, schema: string, table: string, commitUs: number, snapshot: string, xid: number | null, lsn: number | null): SourceInfo {
  return {
    version: CONNECTOR_VERSION, connector: 'postgresql', name: opts.prefix,
    ts_ms: Math.floor(commitUs / 1000), snapshot, db: opts.db, sequence: null,
    ts_us: commitUs, ts_ns: null,
    schema, table, txId: xid, lsn, xmin: null,
  };
}

/** The `op: r` record of a snapshot row, the same whichever task read it; `marker` is source.snapshot. */
export function snapshotRecord(ev: TableEvents, row: string[], marker: string, now: number, opts: EventOptions, partition: JsonObject, offset: JsonObject): SourceRecord {
  const after = ev.row(row as TupleValue[]);
  return {
    topic: ev.topic,
    key: ev.key(after), keySchema: ev.keySchema,
    value: { before: null, after, source: sourceInfo(opts, ev.schema, ev.table, now * 1000, marker, null, null), transaction: null, op: 'r', ts_ms: now, ts_us: now * 1000, ts_ns: null },
    valueSchema: ev.valueSchema,
    timestamp: now,
    sourcePartition: partition,
    sourceOffset: offset,
  };
}

interface Column {
  name: string;
  mapping: ColumnMapping;
  optional: boolean;
  /** What stands for an unchanged TOASTed value whose old value is unknown. */
  unavailable: unknown;
}

/** The relation as the stream or the catalog describes it. */
export interface RelationShape {
  schema: string;
  table: string;
  columns: Array<{ name: string; typeOid: number; typeMod: number }>;
}

/** One table's schemas and the functions that turn its rows into event parts. */
export class TableEvents {
  readonly schema: string;
  readonly table: string;
  readonly topic: string;
  readonly keySchema: Schema | undefined;
  readonly rowSchema: Schema;
  readonly valueSchema: Schema;
  readonly replicaIdentity: string;
  private readonly columns: Column[];
  private readonly keyIndexes: number[];

  constructor(shape: RelationShape, catalog: CatalogTable | null, lookup: TypeLookup, o: EventOptions) {
    this.schema = shape.schema;
    this.table = shape.table;
    this.topic = `${o.prefix}.${shape.schema}.${shape.table}`;
    this.replicaIdentity = catalog?.replicaIdentity ?? 'd';
    const notNull = new Map((catalog?.columns ?? []).map((c) => [c.name, c.notNull]));
    this.columns = shape.columns.map((c) => {
      const mapping = adjust(mapType(c.typeOid, c.typeMod, lookup), o);
      return { name: c.name, mapping, optional: !(notNull.get(c.name) ?? false), unavailable: unavailableValue(mapping, o.placeholder) };
    });
    const base = `${o.prefix}.${shape.schema}.${shape.table}`;
    const keyNames = catalog?.keyColumns ?? [];
    this.keyIndexes = keyNames.map((k) => this.columns.findIndex((c) => c.name === k)).filter((i) => i >= 0);
    if (this.keyIndexes.length !== keyNames.length) this.keyIndexes = [];
    this.keySchema = this.keyIndexes.length === 0 ? undefined : {
      type: 'struct',
      name: `${base}.Key`,
      optional: false,
      fields: this.keyIndexes.map((i) => ({ field: this.columns[i].name, ...this.columns[i].mapping.schema, optional: false }) as FieldSchema),
    };
    this.rowSchema = {
      type: 'struct',
      name: `${base}.Value`,
      optional: true,
      fields: this.columns.map((c) => ({ field: c.name, ...c.mapping.schema, optional: c.optional }) as FieldSchema),
    };
    const fields: FieldSchema[] = [
      { field: 'before', ...this.rowSchema },
      { field: 'after', ...this.rowSchema },
      { field: 'source', ...SOURCE_SCHEMA },
      TRANSACTION_BLOCK_SCHEMA,
      { field: 'op', type: 'string', optional: false },
      { field: 'ts_ms', type: 'int64', optional: true },
      { field: 'ts_us', type: 'int64', optional: true },
      { field: 'ts_ns', type: 'int64', optional: true },
    ];
    this.valueSchema = { type: 'struct', name: `${base}.Envelope`, version: 1, optional: false, fields };
  }

  get columnNames(): string[] {
    return this.columns.map((c) => c.name);
  }

  get keyColumnNames(): string[] {
    return this.keyIndexes.map((i) => this.columns[i].name);
  }

  /**
   * A row struct from a tuple. Unchanged TOASTed values come from `old` when it has them (REPLICA
   * IDENTITY FULL), else the placeholder. A column absent from a key-only tuple (`partial`) gets
   * null, or Debezium's fallback when it is NOT NULL.
   */
  row(tuple: TupleValue[], old: TupleValue[] | null = null, partial = false): Record<string, unknown> {
    const cols = this.columns;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i];
      let v = tuple[i];
      if (v === UNCHANGED_TOAST && old !== null && old[i] !== UNCHANGED_TOAST && old[i] !== undefined) v = old[i];
      if (v === null || v === undefined) {
        out[c.name] = c.optional || !partial ? null : c.mapping.fallback;
      } else if (v === UNCHANGED_TOAST) {
        out[c.name] = c.unavailable ?? (c.optional ? null : c.mapping.fallback);
      } else {
        out[c.name] = c.mapping.convert(typeof v === 'string' ? v : v.toString('utf8'));
      }
    }
    return out;
  }

  /** The key struct from a row struct; null when the table has no key. */
  key(row: Record<string, unknown>): Record<string, unknown> | null {
    if (this.keyIndexes.length === 0) return null;
    const out: Record<string, unknown> = {};
    for (const i of this.keyIndexes) {
      const name = this.columns[i].name;
      out[name] = row[name];
    }
    return out;
  }

  /** A key-only or old tuple's row: key columns known, other columns null or their fallback. */
  beforeRow(keyTuple: TupleValue[]): Record<string, unknown> {
    return this.row(keyTuple, null, true);
  }
}

function adjust(m: ColumnMapping, o: EventOptions): ColumnMapping {
  const name = m.schema.name;
  if ((name === DECIMAL || name === VARIABLE_SCALE_DECIMAL) && o.decimalMode !== 'precise') {
    if (o.decimalMode === 'double') return { schema: { type: 'float64' }, convert: Number, fallback: 0 };
    return { schema: { type: 'string' }, convert: (s) => s, fallback: '0' };
  }
  if (m.schema.type === 'bytes' && !name && o.binaryMode !== 'bytes') {
    const enc = o.binaryMode === 'hex' ? 'hex' : 'base64';
    return { schema: { type: 'string' }, convert: (s) => (m.convert(s) as Buffer).toString(enc), fallback: '' };
  }
  return m;
}

function unavailableValue(m: ColumnMapping, placeholder: string): unknown {
  switch (m.schema.type) {
    case 'string': return placeholder;
    case 'bytes': return m.schema.name ? null : Buffer.from(placeholder, 'utf8');
    case 'array': return m.schema.items?.type === 'string' ? [placeholder] : null;
    default: return null;
  }
}
