/**
 * Cast$Key / Cast$Value: cast fields, or the whole key/value, to another primitive type.
 *
 * Conversions follow Java's, as Connect's Cast does: numbers narrow with two's-complement
 * wrap-around (300 -> int8 44) and floats truncate toward zero; strings parse strictly
 * ("abc" or "300" -> int8 is a DataError); booleans are 1/0; a number is true when its integer
 * part is not 0; a string is true only when it is "true" (any case); bytes cast only to string
 * (base64); floats print as Java does (1.0, 1.0E7).
 */
import { custom, defineConfig } from '../api/config-spec.ts';
import type { ConnectRecord, FieldSchema, Schema, SchemaType } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { compileDateFormat } from './util/date-format.ts';
import { keyValuePlugins } from './util/record-side.ts';
import {
  LOGICAL_DECIMAL, MS_PER_DAY, dataError, describeValue, encodeLogical, fieldValue, int64, isBytes, isLogicalTemporal, isPlainObject,
  logicalToMillis, requireMap, requireStruct, schemaBasics, schemaCache, type Where,
} from './util/values.ts';

const OUTPUT_TYPES = ['int8', 'int16', 'int32', 'int64', 'float32', 'float64', 'boolean', 'string'] as const;
type CastType = (typeof OUTPUT_TYPES)[number];
const INPUT_TYPES: ReadonlySet<string> = new Set([...OUTPUT_TYPES, 'bytes']);
const SCHEMA_TYPES: ReadonlySet<string> = new Set([...INPUT_TYPES, 'array', 'map', 'struct']);

interface CastSpec {
  whole?: CastType;
  fields: Map<string, CastType>;
}

/** Throws an Error naming the bad entry. */
function parseSpec(mappings: string[]): CastSpec {
  const spec: CastSpec = { fields: new Map() };
  const typeOf = (text: string): CastType => {
    const t = text.trim().toLowerCase();
    if ((OUTPUT_TYPES as readonly string[]).includes(t)) return t as CastType;
    if (SCHEMA_TYPES.has(t)) throw new Error(`Cast does not support casting to ${t}; supported types are ${OUTPUT_TYPES.join(', ')}.`);
    throw new Error(`Invalid type found in casting spec: ${text.trim()}. Supported types are ${OUTPUT_TYPES.join(', ')}.`);
  };
  for (const mapping of mappings) {
    const parts = mapping.split(':');
    if (parts.length > 2) throw new Error(`Invalid cast mapping: ${mapping}. Use field:type, e.g. a:int32.`);
    if (parts.length === 1) spec.whole = typeOf(parts[0]);
    else spec.fields.set(parts[0].trim(), typeOf(parts[1]));
  }
  if (spec.whole && mappings.length > 1) {
    throw new Error('A cast of the entire value (a spec with a bare type) may only specify a single cast.');
  }
  return spec;
}

export const castConfig = defineConfig({
  spec: {
    type: 'list', importance: 'high',
    doc: 'List of fields and the type to cast them to, of the form field1:type,field2:type, to cast fields of maps or structs; '
      + 'or a single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean and string. '
      + 'Binary fields can only be cast to string.',
    validate: custom<string[]>((v) => {
      if (v.length === 0) return 'Must specify at least one field to cast.';
      try {
        parseSpec(v);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    }, 'list of colon-delimited pairs, e.g. foo:int32,abc:string, or a single type'),
  },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
});

class CastFailure extends Error {}

function inferType(value: unknown): SchemaType | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (typeof value === 'bigint') return 'int64';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  if (isBytes(value)) return 'bytes';
  if (Array.isArray(value)) return 'array';
  if (isPlainObject(value)) return 'map';
  return undefined;
}

const INT_BITS = { int8: 8, int16: 16, int32: 32 } as const;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function parseJavaInteger(s: string, min: bigint, max: bigint, type: string): bigint {
  if (!/^[+-]?\d+$/.test(s)) throw new CastFailure(`not a whole number`);
  const n = BigInt(s);
  if (n < min || n > max) throw new CastFailure(`out of range for ${type}`);
  return n;
}

function parseJavaFloat(s: string): number {
  const t = s.trim();
  const m = /^([+-]?)(NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?$/.exec(t);
  if (!m) throw new CastFailure('not a number');
  if (m[2] === 'NaN') return NaN;
  return Number(m[1] + m[2]);
}

/** Java's (long) of a double: truncation, NaN to 0, saturation at the int64 range. */
function doubleToLong(d: number): bigint {
  if (Number.isNaN(d)) return 0n;
  if (d >= 9.223372036854776e18) return INT64_MAX;
  if (d <= -9.223372036854776e18) return INT64_MIN;
  return BigInt(Math.trunc(d));
}

function toInteger(value: unknown, fromFloat: boolean, bits: 8 | 16 | 32 | 64, type: string): bigint {
  let wide: bigint;
  if (typeof value === 'number') {
    if (fromFloat && bits < 64) {
      const asInt32 = Number.isNaN(value) ? 0 : Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(value)));
      wide = BigInt(asInt32);
    } else {
      wide = fromFloat ? doubleToLong(value) : BigInt(value);
    }
  } else if (typeof value === 'bigint') {
    wide = value;
  } else if (typeof value === 'boolean') {
    wide = value ? 1n : 0n;
  } else if (typeof value === 'string') {
    const half = 2n ** BigInt(bits - 1);
    return parseJavaInteger(value, -half, half - 1n, type);
  } else {
    throw new CastFailure(`${describeValue(value)} cannot be cast to ${type}`);
  }
  return BigInt.asIntN(bits, wide);
}

function toDouble(value: unknown, type: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string') return parseJavaFloat(value);
  throw new CastFailure(`${describeValue(value)} cannot be cast to ${type}`);
}

function toBoolean(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) !== 0 : !Number.isNaN(value);
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.toLowerCase() === 'true';
  throw new CastFailure(`${describeValue(value)} cannot be cast to boolean`);
}

/** Java's Double.toString. */
export function javaDoubleToString(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Infinity) return 'Infinity';
  if (d === -Infinity) return '-Infinity';
  if (d === 0) return Object.is(d, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(d);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(d);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mantissa, exponent] = d.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${exponent.replace('+', '')}`;
}

/** Java's Float.toString: the shortest digits that read back as the same float32. */
export function javaFloatToString(f: number): string {
  if (!Number.isFinite(f) || f === 0) return javaDoubleToString(f);
  for (let p = 1; p <= 9; p++) {
    const shortest = Number(f.toPrecision(p));
    if (Math.fround(shortest) === f) return javaDoubleToString(shortest);
  }
  return javaDoubleToString(f);
}

const TIME_FORMAT = compileDateFormat("HH:mm:ss.SSS'Z'");
const DATE_FORMAT = compileDateFormat('yyyy-MM-dd');
const TIMESTAMP_FORMAT = compileDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'");

/** Connect's Values.dateFormatFor: a time, a date or a timestamp, depending on the value. */
function formatDate(ms: number): string {
  if (ms < MS_PER_DAY) return TIME_FORMAT.format(ms);
  if (ms % MS_PER_DAY === 0) return DATE_FORMAT.format(ms);
  return TIMESTAMP_FORMAT.format(ms);
}

function toText(value: unknown, from: SchemaType, schema: Schema | undefined): string {
  if (value instanceof Date) return formatDate(value.getTime());
  if (isLogicalTemporal(schema)) {
    const ms = logicalToMillis(value, schema?.name);
    if (ms !== undefined) return formatDate(ms);
  }
  if (isBytes(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (typeof value === 'number') {
    if (from === 'float32') return javaFloatToString(value);
    if (from === 'float64') return javaDoubleToString(value);
  }
  return String(value);
}

/**
 * A Decimal (held as a decimal string, or a number or bigint) cast as Connect casts a BigDecimal:
 * integers take the integer part (wrapping to the width), floats the nearest value.
 */
function castDecimal(value: unknown, target: CastType): unknown {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') {
    throw new CastFailure(`${describeValue(value)} is not a Decimal value`);
  }
  const text = String(value).trim();
  if (target === 'string') return text;
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new CastFailure('not a decimal number');
  if (target === 'float32') return Math.fround(n);
  if (target === 'float64') return n;
  const m = /^([+-]?)(\d*)(?:\.\d*)?$/.exec(text);
  const integral = m ? BigInt(`${m[1]}${m[2] || '0'}`) : doubleToLong(n);
  if (target === 'boolean') return integral !== 0n;
  if (target === 'int64') return int64(BigInt.asIntN(64, integral));
  return Number(BigInt.asIntN(INT_BITS[target], integral));
}

function castValue(value: unknown, schema: Schema | undefined, target: CastType): unknown {
  if (value === null || value === undefined) return null;
  const from = schema ? schema.type : inferType(value);
  if (from === undefined) throw new CastFailure(`${describeValue(value)} is not a value Cast supports`);
  if (!INPUT_TYPES.has(from)) {
    throw new CastFailure(`Cast does not support casting from ${from}; supported types are ${[...INPUT_TYPES].join(', ')}`);
  }
  if (schema?.name === LOGICAL_DECIMAL && !isBytes(value)) return castDecimal(value, target);
  if (from === 'bytes' && target !== 'string' && isBytes(value)) throw new CastFailure('bytes can only be cast to string');
  const v = schema?.name && isLogicalTemporal(schema) && target !== 'string' ? encodeLogical(value, schema.name) : value;
  const fromFloat = from === 'float32' || from === 'float64';
  switch (target) {
    case 'int8':
    case 'int16':
    case 'int32':
      return Number(toInteger(v, fromFloat, INT_BITS[target], target));
    case 'int64':
      return int64(toInteger(v, fromFloat, 64, target));
    case 'float32':
      return Math.fround(toDouble(v, target));
    case 'float64':
      return toDouble(v, target);
    case 'boolean':
      return toBoolean(v);
    case 'string':
      return toText(v, from, schema);
  }
}

export const [CastKey, CastValue] = keyValuePlugins(
  'Cast',
  'Cast fields or the entire key or value to a specific type, e.g. to force an integer field to a smaller width.',
  castConfig,
  (raw, side, where): TransformFn => {
    const config = castConfig.parse(raw);
    const spec = parseSpec(config.spec);
    const withDefault = config['replace.null.with.default'];
    const purpose = 'Casting fields';

    const cast = (value: unknown, schema: Schema | undefined, target: CastType, field: string | undefined, w: Where): unknown => {
      try {
        return castValue(value, schema, target);
      } catch (e) {
        if (!(e instanceof CastFailure)) throw e;
        const subject = field === undefined ? `the record ${w.part}` : `field "${field}"`;
        throw dataError(w, `cannot cast ${subject} (${describeOrShow(value)}) to ${target}: ${e.message}.`);
      }
    };

    const updatedSchema = schemaCache();
    const buildSchema = (schema: Schema): Schema => {
      let out: Schema;
      if (spec.whole) {
        const basics = schemaBasics(schema);
        if (isLogicalTemporal(schema) || schema.name === LOGICAL_DECIMAL) {
          delete basics.name;
          delete basics.parameters;
        }
        out = { type: spec.whole, ...basics };
      } else {
        const fields = (schema.fields ?? []).map((f): FieldSchema => {
          const target = spec.fields.get(f.field);
          if (!target) return f;
          const castField: FieldSchema = { field: f.field, type: target };
          if (f.optional) castField.optional = true;
          if (f.default !== undefined && f.default !== null) castField.default = cast(f.default, f, target, f.field, where);
          return castField;
        });
        out = { type: 'struct', ...schemaBasics(schema), fields };
      }
      if (schema.optional) out.optional = true;
      if (schema.default !== undefined && schema.default !== null && spec.whole) out.default = cast(schema.default, schema, spec.whole, undefined, where);
      return out;
    };

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      if (value === null) return record;
      const schema = side.schema(record);
      if (!schema) {
        if (spec.whole) return side.update(record, undefined, cast(value, undefined, spec.whole, undefined, where));
        const map = requireMap(value, where, purpose);
        const out = { ...map };
        for (const [field, target] of spec.fields) out[field] = cast(map[field], undefined, target, field, where);
        return side.update(record, undefined, out);
      }
      const newSchema = updatedSchema(schema, () => buildSchema(schema));
      if (spec.whole) return side.update(record, newSchema, cast(value, schema, spec.whole, undefined, where));
      const struct = requireStruct(value, schema, where, purpose);
      const out: Record<string, unknown> = {};
      for (const f of schema.fields ?? []) {
        const v = fieldValue(struct, f, withDefault);
        const target = spec.fields.get(f.field);
        out[f.field] = target ? cast(v, f, target, f.field, where) : v;
      }
      return side.update(record, newSchema, out);
    };
  },
);

function describeOrShow(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return describeValue(value);
}
