/** What the connector reads from the system catalogs: tables, their columns and keys, and types. */
import type pg from 'pg';
import type { TypeInfo } from './type-mapping.ts';

export interface TableId {
  schema: string;
  table: string;
}

export interface CatalogColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  notNull: boolean;
}

export interface CatalogTable extends TableId {
  oid: number;
  columns: CatalogColumn[];
  /** Primary key columns, else the replica identity index columns, else empty. */
  keyColumns: string[];
  replicaIdentity: string;
  estimatedRows: number;
}

export function tableName(t: TableId): string {
  return `${t.schema}.${t.table}`;
}

/** Include/exclude lists of regular expressions matched against whole names, as Debezium does. */
export class TableFilter {
  private readonly schemaInclude: RegExp[];
  private readonly schemaExclude: RegExp[];
  private readonly tableInclude: RegExp[];
  private readonly tableExclude: RegExp[];

  constructor(lists: { schemaInclude?: string[] | null; schemaExclude?: string[] | null; tableInclude?: string[] | null; tableExclude?: string[] | null }) {
    const compile = (l?: string[] | null) => (l ?? []).map((p) => new RegExp(`^(?:${p})$`, 'i'));
    this.schemaInclude = compile(lists.schemaInclude);
    this.schemaExclude = compile(lists.schemaExclude);
    this.tableInclude = compile(lists.tableInclude);
    this.tableExclude = compile(lists.tableExclude);
  }

  includes(t: TableId): boolean {
    if (t.schema === 'pg_catalog' || t.schema === 'information_schema' || t.schema.startsWith('pg_toast') || t.schema.startsWith('pg_temp')) return false;
    if (this.schemaInclude.length > 0 && !this.schemaInclude.some((r) => r.test(t.schema))) return false;
    if (this.schemaExclude.some((r) => r.test(t.schema))) return false;
    const name = tableName(t);
    if (this.tableInclude.length > 0 && !this.tableInclude.some((r) => r.test(name))) return false;
    return !this.tableExclude.some((r) => r.test(name));
  }
}

/** Ordinary and partitioned tables the filter selects, in name order. */
export async function listTables(client: pg.Client, filter: TableFilter): Promise<TableId[]> {
  const { rows } = await client.query<{ schema: string; table: string }>(
    `select n.nspname as schema, c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
      order by 1, 2`,
  );
  return rows.filter((r) => filter.includes(r));
}

/** Columns, keys and replica identity of a table by oid (or by name when oid is 0); null when it is gone. */
export async function describeTable(client: pg.Client, by: { oid: number } | TableId): Promise<CatalogTable | null> {
  const where = 'oid' in by ? 'c.oid = $1' : 'n.nspname = $1 and c.relname = $2';
  const params = 'oid' in by ? [by.oid] : [by.schema, by.table];
  const { rows } = await client.query<{ oid: number; schema: string; table: string; relreplident: string; reltuples: number }>(
    `select c.oid::int8 as oid, n.nspname as schema, c.relname as table, c.relreplident, c.reltuples::float8 as reltuples
       from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${where}`,
    params,
  );
  if (rows.length === 0) return null;
  const t = rows[0];
  const oid = Number(t.oid);
  const cols = await client.query<{ name: string; typid: number; typmod: number; notnull: boolean }>(
    `select attname as name, atttypid::int8 as typid, atttypmod as typmod, attnotnull as notnull
       from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped order by attnum`,
    [oid],
  );
  const keys = await client.query<{ name: string; primary: boolean }>(
    `select a.attname as name, i.indisprimary as primary from pg_index i
       join lateral unnest(i.indkey) with ordinality as k(attnum, ord) on true
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where i.indrelid = $1 and (i.indisprimary or i.indisreplident) order by i.indisprimary desc, k.ord`,
    [oid],
  );
  const primary = keys.rows.filter((k) => k.primary).map((k) => k.name);
  const keyColumns = primary.length > 0 ? primary : keys.rows.map((k) => k.name);
  return {
    oid,
    schema: t.schema,
    table: t.table,
    replicaIdentity: t.relreplident,
    estimatedRows: Math.max(0, Number(t.reltuples)),
    columns: cols.rows.map((c) => ({ name: c.name, typeOid: Number(c.typid), typeMod: c.typmod, notNull: c.notnull })),
    keyColumns,
  };
}

/** Types that are not built in: enums with their labels, domains with their base, arrays with their element. */
export async function loadTypes(client: pg.Client, oids: number[]): Promise<TypeInfo[]> {
  if (oids.length === 0) return [];
  const { rows } = await client.query<{ oid: string; name: string; kind: string; elem: string; base: string; basemod: number; labels: string[] | null }>(
    `select t.oid::int8 as oid, t.typname as name, t.typtype as kind, t.typelem::int8 as elem, t.typbasetype::int8 as base, t.typtypmod as basemod,
            (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = t.oid) as labels
       from pg_type t where t.oid = any($1::oid[])`,
    [oids],
  );
  const out: TypeInfo[] = rows.map((r) => ({
    oid: Number(r.oid), name: r.name, kind: r.kind, elem: Number(r.elem), base: Number(r.base), baseTypeMod: r.basemod, labels: r.labels ?? [],
  }));
  // Elements of arrays and bases of domains may themselves need describing.
  const known = new Set([...oids, ...out.map((t) => t.oid)]);
  const more = out.flatMap((t) => [t.elem, t.base]).filter((o) => o >= 16384 && !known.has(o));
  return more.length > 0 ? [...out, ...(await loadTypes(client, more))] : out;
}
