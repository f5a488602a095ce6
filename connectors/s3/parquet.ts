/**
 * Parquet objects with columns from the record's value schema (Kafka Connect schema JSON), written
 * by hyparquet-writer (pure JavaScript). Types:
 *
 * | Connect schema                                   | Parquet                                       |
 * |--------------------------------------------------|-----------------------------------------------|
 * | int8 / int16 / int32 / int64                     | INT32 (INT_8 / INT_16) / INT32 / INT64        |
 * | float32 / float64 / boolean                      | FLOAT / DOUBLE / BOOLEAN                      |
 * | string / bytes                                   | BYTE_ARRAY UTF8 / BYTE_ARRAY                  |
 * | Decimal (scale, connect.decimal.precision)       | BYTE_ARRAY DECIMAL(precision, scale)          |
 * | Timestamp, io.debezium.time.Timestamp            | INT64 TIMESTAMP(MILLIS, UTC)                  |
 * | io.debezium.time.MicroTimestamp, ZonedTimestamp  | INT64 TIMESTAMP(MICROS, UTC)                  |
 * | io.debezium.time.MicroTime                       | INT64 TIME_MICROS                             |
 * | Date, io.debezium.time.Date / Time               | INT32 DATE / INT32 TIME_MILLIS                |
 * | struct, array, map (nested)                      | BYTE_ARRAY UTF8 holding JSON                  |
 *
 * Optional fields are OPTIONAL columns, the rest REQUIRED. A value that does not fit its column is
 * a DataError. Without a schema, columns are inferred from the first record of the object.
 */
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import { DataError } from '../../runtime/api/index.ts';
import type { FieldSchema, Schema, SinkRecord } from '../../runtime/api/index.ts';
import type { FileBuilder } from './formats.ts';
import { where } from './partitioner.ts';

type Element = {
  name: string;
  type?: string;
  repetition_type?: 'REQUIRED' | 'OPTIONAL';
  converted_type?: string;
  logical_type?: Record<string, unknown>;
  scale?: number;
  precision?: number;
  num_children?: number;
};

interface Column {
  name: string;
  element: Element;
  optional: boolean;
  /** The stored value, or throws a message when the value does not fit. */
  convert: (v: unknown) => unknown;
  data: unknown[];
}

const MS_PER_DAY = 86_400_000;

export class ParquetBuilder implements FileBuilder {
  private readonly schema: Schema | undefined;
  private readonly columns: Column[];
  private readonly wrapped: boolean;
  private readonly codec: 'SNAPPY' | 'UNCOMPRESSED';
  private readonly rowGroupSize: number;
  private readonly inferredKeys: Set<string> | undefined;
  count = 0;
  size = 0;

  constructor(schema: Schema | undefined, codec: 'snappy' | 'none', rowGroupSize: number, first?: unknown) {
    this.schema = schema;
    this.codec = codec === 'snappy' ? 'SNAPPY' : 'UNCOMPRESSED';
    this.rowGroupSize = rowGroupSize;
    if (schema && schema.type === 'struct') {
      this.columns = (schema.fields ?? []).map((f) => column(f.field, f));
      this.wrapped = false;
    } else if (schema) {
      this.columns = [column('value', schema)];
      this.wrapped = true;
    } else {
      const fields = inferFields(first);
      this.inferredKeys = new Set(fields.map((f) => f.field));
      this.columns = fields.map((f) => column(f.field, f));
      this.wrapped = false;
    }
  }

  needsNewFile(r: SinkRecord): boolean {
    if (this.count === 0) return false;
    if (r.valueSchema !== this.schema && schemaKey(r.valueSchema) !== schemaKey(this.schema)) return true;
    if (this.inferredKeys && r.value !== null && typeof r.value === 'object' && !Array.isArray(r.value)) {
      for (const k of Object.keys(r.value)) if (!this.inferredKeys.has(k)) return true;
    }
    return false;
  }

  add(r: SinkRecord): void {
    const value = r.value;
    if (!this.wrapped && (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array)) {
      throw new DataError(`Record ${where(r)} does not fit the Parquet schema: expected a struct value, got ${describe(value)}.`);
    }
    const row = new Array<unknown>(this.columns.length);
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i];
      const v = this.wrapped ? value : (value as Record<string, unknown>)[c.name];
      if (v === null || v === undefined) {
        if (!c.optional) throw new DataError(`Record ${where(r)} does not fit the Parquet schema: the required column ${c.name} is ${v === null ? 'null' : 'missing'}.`);
        row[i] = null;
        continue;
      }
      try {
        row[i] = c.convert(v);
      } catch (e) {
        throw new DataError(`Record ${where(r)} does not fit the Parquet schema: column ${c.name}: ${(e as Error).message}`);
      }
    }
    for (let i = 0; i < row.length; i++) this.columns[i].data.push(row[i]);
    this.count++;
    this.size += this.columns.length * 8;
  }

  async finish(): Promise<Buffer> {
    const writer = new ByteWriter(Math.max(1024, this.size));
    const schema = [{ name: 'root', num_children: this.columns.length }, ...this.columns.map((c) => c.element)];
    parquetWrite({
      writer,
      columnData: this.columns.map((c) => ({ name: c.name, data: c.data as any })),
      schema: schema as any,
      codec: this.codec,
      rowGroupSize: this.rowGroupSize,
      createdBy: 'tributary s3 sink (hyparquet-writer)',
    } as any);
    return Buffer.from(writer.getBuffer());
  }
}

const keys = new WeakMap<Schema, string>();
function schemaKey(s: Schema | undefined): string {
  if (!s) return '';
  let k = keys.get(s);
  if (k === undefined) {
    k = JSON.stringify(s);
    keys.set(s, k);
  }
  return k;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'string' ? `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}` : `${typeof v} ${String(v)}`;
}

function inferFields(value: unknown): FieldSchema[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [{ field: 'value', type: 'string', optional: true }];
  return Object.entries(value as Record<string, unknown>).map(([field, v]): FieldSchema => {
    if (typeof v === 'boolean') return { field, type: 'boolean', optional: true };
    if (typeof v === 'number' || typeof v === 'bigint') return { field, type: 'float64', optional: true };
    if (typeof v === 'string') return { field, type: 'string', optional: true };
    if (v instanceof Date) return { field, type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp', optional: true };
    if (v instanceof Uint8Array) return { field, type: 'bytes', optional: true };
    return { field, type: 'struct', optional: true, fields: [] };
  });
}

function column(name: string, s: Schema): Column {
  const optional = s.optional === true;
  const base = { name, repetition_type: optional ? 'OPTIONAL' : 'REQUIRED' } as const;
  const mk = (element: Omit<Element, 'name' | 'repetition_type'>, convert: (v: unknown) => unknown): Column =>
    ({ name, element: { ...base, ...element }, optional, convert, data: [] });
  switch (s.name) {
    case 'org.apache.kafka.connect.data.Decimal': {
      const scale = Number(s.parameters?.scale ?? 0);
      const precision = Number(s.parameters?.['connect.decimal.precision'] ?? 38);
      return mk({ type: 'BYTE_ARRAY', converted_type: 'DECIMAL', scale, precision, logical_type: { type: 'DECIMAL', scale, precision } }, (v) => unscaled(v, scale));
    }
    case 'org.apache.kafka.connect.data.Timestamp':
    case 'io.debezium.time.Timestamp':
      return mk({ type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' } }, (v) => BigInt(epochMillis(v)));
    case 'io.debezium.time.MicroTimestamp':
      return mk({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } }, (v) => BigInt(integer(v)));
    case 'io.debezium.time.ZonedTimestamp':
      return mk({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } }, isoMicros);
    case 'io.debezium.time.MicroTime':
      return mk({ type: 'INT64', converted_type: 'TIME_MICROS' }, (v) => BigInt(integer(v)));
    case 'org.apache.kafka.connect.data.Date':
    case 'io.debezium.time.Date':
      return mk({ type: 'INT32', converted_type: 'DATE' }, (v) => (v instanceof Date ? Math.floor(v.getTime() / MS_PER_DAY) : int32(v)));
    case 'org.apache.kafka.connect.data.Time':
    case 'io.debezium.time.Time':
      return mk({ type: 'INT32', converted_type: 'TIME_MILLIS' }, (v) => (v instanceof Date ? ((v.getTime() % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY : int32(v)));
  }
  switch (s.type) {
    case 'int8':
      return mk({ type: 'INT32', converted_type: 'INT_8' }, (v) => ranged(v, -128, 127));
    case 'int16':
      return mk({ type: 'INT32', converted_type: 'INT_16' }, (v) => ranged(v, -32768, 32767));
    case 'int32':
      return mk({ type: 'INT32' }, int32);
    case 'int64':
      return mk({ type: 'INT64' }, (v) => BigInt(integer(v)));
    case 'float32':
      return mk({ type: 'FLOAT' }, num);
    case 'float64':
      return mk({ type: 'DOUBLE' }, num);
    case 'boolean':
      return mk({ type: 'BOOLEAN' }, (v) => {
        if (typeof v !== 'boolean') throw new Error(`expected a boolean, got ${describe(v)}`);
        return v;
      });
    case 'string':
      return mk({ type: 'BYTE_ARRAY', converted_type: 'UTF8' }, (v) => {
        if (typeof v !== 'string') throw new Error(`expected a string, got ${describe(v)}`);
        return v;
      });
    case 'bytes':
      return mk({ type: 'BYTE_ARRAY' }, (v) => {
        if (v instanceof Uint8Array) return v;
        if (typeof v === 'string') return Buffer.from(v, 'base64');
        throw new Error(`expected bytes, got ${describe(v)}`);
      });
    default:
      // struct, array, map: one column holding the JSON text (flatten first for separate columns).
      return mk({ type: 'BYTE_ARRAY', converted_type: 'UTF8' }, (v) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));
  }
}

function integer(v: unknown): number | bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new Error(`expected an integer, got ${describe(v)}`);
}

function int32(v: unknown): number {
  return ranged(v, -2147483648, 2147483647);
}

function ranged(v: unknown, min: number, max: number): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new Error(`expected an integer in [${min}, ${max}], got ${describe(v)}`);
  return n;
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`expected a number, got ${describe(v)}`);
}

function epochMillis(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`expected a timestamp (a Date or epoch milliseconds), got ${describe(v)}`);
}

/** An ISO-8601 instant with a zone (`2024-05-01T10:00:00.123456Z`, `...+02:00`) as microseconds since the epoch, keeping every digit. */
function isoMicros(v: unknown): bigint {
  const m = typeof v === 'string' ? /^(\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/.exec(v) : null;
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || !Number.isFinite(ms)) throw new Error(`expected an ISO-8601 timestamp with a zone, got ${describe(v)}`);
  return BigInt(ms) * 1000n + BigInt((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** A decimal (string "12.30", number or bigint) as its unscaled integer at `scale`. */
export function unscaled(v: unknown, scale: number): bigint {
  if (typeof v === 'bigint') return v * 10n ** BigInt(scale);
  const text = typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(scale) : '') : typeof v === 'string' ? v.trim() : '';
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`expected a decimal, got ${describe(v)}`);
  const frac = m[3] ?? '';
  if (frac.length > scale && /[^0]/.test(frac.slice(scale))) throw new Error(`the decimal ${text} has more than ${scale} fraction digits`);
  const digits = (m[2] || '0') + frac.slice(0, scale).padEnd(scale, '0');
  const n = BigInt(digits);
  return m[1] === '-' ? -n : n;
}
