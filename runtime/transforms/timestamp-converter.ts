/**
 * TimestampConverter$Key / TimestampConverter$Value: convert a timestamp field (or the whole key
 * or value) between a formatted string, Unix epoch time, and Connect's Date, Time and Timestamp.
 * Formatting and parsing are in UTC.
 */
import { defineConfig, oneOf } from '../api/config-spec.ts';
import { ConfigError } from '../api/errors.ts';
import type { ConnectRecord, FieldSchema, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { compileDateFormat, type DateFormat } from './util/date-format.ts';
import { keyValuePlugins } from './util/record-side.ts';
import {
  DATE_SCHEMA, LOGICAL_DATE, LOGICAL_TIME, LOGICAL_TIMESTAMP, MS_PER_DAY, TIMESTAMP_SCHEMA, TIME_SCHEMA, asField, dataError,
  describeValue, fieldValue, int64, isPlainObject, logicalToMillis, requireMap, requireStruct, schemaBasics, schemaCache, type Where,
} from './util/values.ts';

const TYPES = ['string', 'unix', 'Date', 'Time', 'Timestamp'] as const;
type TimestampType = (typeof TYPES)[number];
const PRECISIONS = ['nanoseconds', 'microseconds', 'milliseconds', 'seconds'] as const;
type Precision = (typeof PRECISIONS)[number];

export const timestampConverterConfig = defineConfig({
  field: { type: 'string', default: '', importance: 'high', doc: 'The field containing the timestamp, or empty if the entire value is a timestamp.' },
  'target.type': {
    type: 'string', importance: 'high', validate: oneOf(TYPES),
    doc: 'The desired timestamp representation: string, unix, Date, Time, or Timestamp.',
  },
  format: {
    type: 'string', default: '', importance: 'medium',
    doc: 'A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when target.type=string '
      + 'or to parse the input if the input is a string.',
  },
  'unix.precision': {
    type: 'string', default: 'milliseconds', importance: 'low', validate: oneOf(PRECISIONS),
    doc: 'The Unix precision: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when '
      + 'target.type=unix or to parse the input if it is a Unix time. Sub-millisecond precision is lost in conversions.',
  },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
});

const UNIX_FACTOR: Record<Precision, { toMillis: (v: bigint) => bigint; fromMillis: (ms: bigint) => bigint }> = {
  seconds: { toMillis: (v) => v * 1000n, fromMillis: (ms) => ms / 1000n },
  milliseconds: { toMillis: (v) => v, fromMillis: (ms) => ms },
  microseconds: { toMillis: (v) => v / 1000n, fromMillis: (ms) => ms * 1000n },
  nanoseconds: { toMillis: (v) => v / 1_000_000n, fromMillis: (ms) => ms * 1_000_000n },
};

function typeSchema(type: TimestampType, optional: boolean | undefined): Schema {
  const base: Schema = type === 'string' ? { type: 'string' }
    : type === 'unix' ? { type: 'int64' }
      : type === 'Date' ? DATE_SCHEMA
        : type === 'Time' ? TIME_SCHEMA
          : TIMESTAMP_SCHEMA;
  return optional ? { ...base, optional: true } : { ...base };
}

/** The timestamp type a schema declares (Connect's timestampTypeFromSchema). */
function typeFromSchema(schema: Schema): TimestampType | undefined {
  if (schema.name === LOGICAL_TIMESTAMP) return 'Timestamp';
  if (schema.name === LOGICAL_DATE) return 'Date';
  if (schema.name === LOGICAL_TIME) return 'Time';
  if (schema.type === 'string') return 'string';
  if (schema.type === 'int64') return 'unix';
  return undefined;
}

/** The timestamp type of a schemaless value (Connect's inferTimestampType). */
function inferType(value: unknown): TimestampType | undefined {
  if (value instanceof Date) return 'Timestamp';
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value))) return 'unix';
  if (typeof value === 'string') return 'string';
  return undefined;
}

export const [TimestampConverterKey, TimestampConverterValue] = keyValuePlugins(
  'TimestampConverter',
  'Convert timestamps between different formats such as Unix epoch, strings, and Connect Date/Time/Timestamp types.',
  timestampConverterConfig,
  (raw, side, where): TransformFn => {
    const config = timestampConverterConfig.parse(raw);
    const field = config.field;
    const target = config['target.type'] as TimestampType;
    const precision = UNIX_FACTOR[config['unix.precision'] as Precision];
    const withDefault = config['replace.null.with.default'];
    if (target === 'string' && config.format.trim() === '') {
      throw ConfigError.fromFields([{ name: 'format', message: 'TimestampConverter needs format to be set when target.type is string, e.g. yyyy-MM-dd\'T\'HH:mm:ss.SSSX.' }]);
    }
    let format: DateFormat | undefined;
    if (config.format.trim() !== '') {
      try {
        format = compileDateFormat(config.format);
      } catch (e) {
        throw ConfigError.fromFields([{ name: 'format', message: `Not a SimpleDateFormat-compatible pattern: ${(e as Error).message}` }]);
      }
    }
    const subject = field === '' ? `the record ${side.part}` : `field "${field}"`;

    const toMillis = (value: unknown, type: TimestampType, w: Where): number => {
      switch (type) {
        case 'string': {
          if (typeof value !== 'string') throw dataError(w, `expected ${subject} to be a string timestamp, but it is ${describeValue(value)}.`);
          if (!format) throw dataError(w, `${subject} is a string timestamp, but no format is configured to parse it; set format.`);
          try {
            return format.parse(value);
          } catch {
            throw dataError(w, `could not parse timestamp in ${subject}: value (${value}) does not match pattern (${format.pattern}).`);
          }
        }
        case 'unix': {
          if (typeof value === 'bigint') return Number(precision.toMillis(value));
          if (typeof value === 'number' && Number.isInteger(value)) return Number(precision.toMillis(BigInt(value)));
          throw dataError(w, `expected ${subject} to be a Unix timestamp (a whole number), but it is ${describeValue(value)}.`);
        }
        default: {
          const name = type === 'Date' ? LOGICAL_DATE : type === 'Time' ? LOGICAL_TIME : LOGICAL_TIMESTAMP;
          const ms = logicalToMillis(value, name);
          if (ms === undefined) throw dataError(w, `expected ${subject} to be a ${type} (a Date), but it is ${describeValue(value)}.`);
          return ms;
        }
      }
    };

    const fromMillis = (ms: number): unknown => {
      switch (target) {
        case 'string':
          return format!.format(ms);
        case 'unix':
          return int64(precision.fromMillis(BigInt(ms)));
        case 'Date':
          return new Date(Math.floor(ms / MS_PER_DAY) * MS_PER_DAY);
        case 'Time':
          return new Date(((ms % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY);
        case 'Timestamp':
          return new Date(ms);
      }
    };

    const convert = (value: unknown, type: TimestampType | undefined): unknown => {
      if (value === null || value === undefined) return null;
      const from = type ?? inferType(value);
      if (!from) throw dataError(where, `${subject} is ${describeValue(value)}, which TimestampConverter does not support as a timestamp.`);
      return fromMillis(toMillis(value, from, where));
    };

    const schemaType = (schema: Schema): TimestampType => {
      const t = typeFromSchema(schema);
      if (!t) {
        throw dataError(where, `the schema of ${subject} (type ${schema.type}${schema.name ? `, name ${schema.name}` : ''}) is not a known timestamp type: expected a string, an int64, or a Date, Time or Timestamp.`);
      }
      return t;
    };

    const updatedSchema = schemaCache();
    const buildSchema = (schema: Schema): Schema => {
      const fields = (schema.fields ?? []).map((f): FieldSchema => (f.field === field ? asField(f.field, typeSchema(target, f.optional)) : f));
      const out: Schema = { type: 'struct', ...schemaBasics(schema), fields };
      if (schema.optional) out.optional = true;
      if (isPlainObject(schema.default)) out.default = convertStruct(schema.default, schema);
      return out;
    };
    const convertStruct = (struct: Record<string, unknown>, schema: Schema): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const f of schema.fields ?? []) {
        const v = fieldValue(struct, f, withDefault);
        out[f.field] = f.field === field ? convert(v, schemaType(f)) : v;
      }
      return out;
    };

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      const schema = side.schema(record);
      if (!schema) {
        if (value === null || field === '') return side.update(record, undefined, convert(value, undefined));
        const map = requireMap(value, where, 'Converting timestamps');
        return side.update(record, undefined, { ...map, [field]: convert(map[field], undefined) });
      }
      if (field === '') return side.update(record, typeSchema(target, schema.optional), convert(value, schemaType(schema)));
      const newSchema = updatedSchema(schema, () => buildSchema(schema));
      if (value === null) return side.update(record, newSchema, null);
      const struct = requireStruct(value, schema, where, 'Converting timestamps');
      return side.update(record, newSchema, convertStruct(struct, schema));
    };
  },
);
