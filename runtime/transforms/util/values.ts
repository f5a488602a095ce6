/**
 * How transforms see record data, mirroring Kafka Connect's data API in plain JavaScript:
 * - a schemaless map is a plain object; a struct (schema type `struct`) is a plain object whose
 *   keys are the schema's fields;
 * - int64 values are numbers, or bigints beyond Number.MAX_SAFE_INTEGER; bytes are Buffers (any
 *   Uint8Array is accepted);
 * - Connect's logical Date, Time and Timestamp values are JavaScript Dates (as java.util.Date in
 *   Connect). Transforms also accept their wire encoding (days, milliseconds of the day,
 *   epoch milliseconds) as numbers. A Decimal is a decimal string ("12.30"), as the JsonConverter
 *   gives it (runtime/converters/logical-types.ts); numbers and bigints are accepted too.
 */
import { DataError } from '../../api/errors.ts';
import type { FieldSchema, Schema } from '../../api/records.ts';

export const LOGICAL_TIMESTAMP = 'org.apache.kafka.connect.data.Timestamp';
export const LOGICAL_DATE = 'org.apache.kafka.connect.data.Date';
export const LOGICAL_TIME = 'org.apache.kafka.connect.data.Time';
export const LOGICAL_DECIMAL = 'org.apache.kafka.connect.data.Decimal';
export const MS_PER_DAY = 86_400_000;

export const TIMESTAMP_SCHEMA: Schema = { type: 'int64', name: LOGICAL_TIMESTAMP, version: 1 };
export const DATE_SCHEMA: Schema = { type: 'int32', name: LOGICAL_DATE, version: 1 };
export const TIME_SCHEMA: Schema = { type: 'int32', name: LOGICAL_TIME, version: 1 };

export type MapValue = Record<string, unknown>;

export function isPlainObject(value: unknown): value is MapValue {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** For error messages: "a string", "an array", "null", ... */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isBytes(value)) return 'bytes';
  if (value instanceof Date) return 'a Date';
  if (isPlainObject(value)) return 'an object';
  if (typeof value === 'object') return `an object of class ${value.constructor?.name ?? 'unknown'}`;
  return `a ${typeof value}`;
}

/** A transform's name and which part of the record it works on, for error messages. */
export interface Where {
  /** e.g. `InsertField$Value`. */
  transform: string;
  /** `key` or `value`. */
  part: string;
}

export function dataError(where: Where, message: string): DataError {
  return new DataError(`${where.transform}: ${message}`);
}

/** The schemaless case: the operating value must be a map (Connect's requireMap). */
export function requireMap(value: unknown, where: Where, purpose: string): MapValue {
  if (!isPlainObject(value)) {
    throw dataError(where, `${purpose} needs the record ${where.part} to be an object (a map) when it has no schema, but it is ${describeValue(value)}.`);
  }
  return value;
}

/** The schema case: the operating schema must be a struct and the value an object (Connect's requireStruct). */
export function requireStruct(value: unknown, schema: Schema, where: Where, purpose: string): MapValue {
  if (schema.type !== 'struct') {
    throw dataError(where, `${purpose} needs the record ${where.part} to be a struct, but its schema is of type ${schema.type}.`);
  }
  if (!isPlainObject(value)) {
    throw dataError(where, `${purpose} needs the record ${where.part} to be a struct (an object), but it is ${describeValue(value)}.`);
  }
  return value;
}

/** A struct field's value; null when absent. With `withDefault`, a null value reads as the field's default (Connect's Struct.get). */
export function fieldValue(struct: MapValue, field: FieldSchema, withDefault = true): unknown {
  const v = struct[field.field];
  if (v === undefined || v === null) {
    if (withDefault && field.default !== undefined && field.default !== null) return field.default;
    return null;
  }
  return v;
}

export function findField(schema: Schema, name: string): FieldSchema | undefined {
  return schema.fields?.find((f) => f.field === name);
}

/** A field's schema on its own (without its `field` name). */
export function schemaOfField(field: FieldSchema): Schema {
  const { field: _name, ...schema } = field;
  return schema;
}

export function asField(name: string, schema: Schema): FieldSchema {
  const { field: _old, ...rest } = schema as FieldSchema;
  return { ...rest, field: name };
}

/** What Connect's SchemaUtil.copySchemaBasics carries over: name, doc and parameters. */
export function schemaBasics(schema: Schema): Partial<Schema> {
  const out: Partial<Schema> = {};
  if (schema.name !== undefined) out.name = schema.name;
  if (schema.doc !== undefined) out.doc = schema.doc;
  if (schema.parameters !== undefined) out.parameters = { ...schema.parameters };
  return out;
}

/** A struct schema with these fields; throws a DataError on a repeated field name (Connect's SchemaBuilder check). */
export function structSchema(basics: Partial<Schema>, fields: FieldSchema[], where: Where): Schema {
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.field)) throw dataError(where, `the resulting ${where.part} schema would have two fields named "${f.field}".`);
    seen.add(f.field);
  }
  return { type: 'struct', ...basics, fields };
}

/** Caches what is derived from a schema, keyed by the schema object (Connect keeps an LRU cache per transform). */
export function schemaCache<T = Schema>(): (schema: Schema, build: () => T) => T {
  const cache = new WeakMap<Schema, T>();
  return (schema, build) => {
    let out = cache.get(schema);
    if (out === undefined) {
      out = build();
      cache.set(schema, out);
    }
    return out;
  };
}

/** An int64 result: a number when it is exact, a bigint otherwise. */
export function int64(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

export function isLogicalTemporal(schema: Schema | undefined): boolean {
  const name = schema?.name;
  return name === LOGICAL_DATE || name === LOGICAL_TIME || name === LOGICAL_TIMESTAMP;
}

/**
 * Epoch milliseconds of a logical Date/Time/Timestamp value given as a Date or in its wire
 * encoding (days for Date, milliseconds of the day for Time, epoch milliseconds for Timestamp).
 * Returns undefined for anything else.
 */
export function logicalToMillis(value: unknown, logicalName: string | undefined): number | undefined {
  if (value instanceof Date) return value.getTime();
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
  return logicalName === LOGICAL_DATE ? n * MS_PER_DAY : n;
}

/** Connect's wire encoding of a logical temporal value (Date.fromLogical, Time.fromLogical, Timestamp.fromLogical). */
export function encodeLogical(value: unknown, logicalName: string): unknown {
  if (!(value instanceof Date)) return value;
  const ms = value.getTime();
  if (logicalName === LOGICAL_DATE) return Math.floor(ms / MS_PER_DAY);
  if (logicalName === LOGICAL_TIME) return ((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY;
  return ms;
}
