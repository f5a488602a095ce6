/** MaskField$Key / MaskField$Value: replace field values with an empty value of their type, or a given replacement. */
import { defineConfig, nonEmpty } from '../api/config-spec.ts';
import type { ConnectRecord, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { keyValuePlugins } from './util/record-side.ts';
import {
  LOGICAL_DECIMAL, dataError, describeValue, fieldValue, isBytes, isPlainObject, requireMap, requireStruct, type Where,
} from './util/values.ts';

export const maskFieldConfig = defineConfig({
  fields: { type: 'list', importance: 'high', validate: nonEmpty(), doc: 'Names of fields to mask.' },
  replacement: {
    type: 'string', default: null, importance: 'low', validate: nonEmpty(),
    doc: "Custom value replacement, applied to all 'fields' values (numeric or non-empty string values only).",
  },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
});

const INTEGER_TYPES = new Set(['int8', 'int16', 'int32', 'int64']);
const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Connect's "valid null value for the field type": 0, false, empty string, empty collection, the epoch. */
function emptyValue(value: unknown, schema: Schema | undefined, field: string, where: Where): unknown {
  if (schema?.name === LOGICAL_DECIMAL && !isBytes(value)) return typeof value === 'number' ? 0 : typeof value === 'bigint' ? 0n : '0';
  if (typeof value === 'number') return 0;
  if (typeof value === 'bigint') return 0n;
  if (typeof value === 'boolean') return false;
  if (typeof value === 'string') return '';
  if (value instanceof Date) return new Date(0);
  if (isBytes(value)) return Buffer.alloc(0);
  if (Array.isArray(value)) return [];
  if (isPlainObject(value) && schema?.type !== 'struct') return {};
  throw dataError(where, `cannot mask field "${field}": it holds ${schema?.type === 'struct' ? 'a struct' : describeValue(value)}, which has no empty value.`);
}

function replacementValue(value: unknown, replacement: string, schema: Schema | undefined, field: string, where: Where): unknown {
  if (schema?.name === LOGICAL_DECIMAL && typeof value === 'string') {
    if (!DECIMAL_TEXT.test(replacement.trim())) throw dataError(where, `cannot mask Decimal field "${field}" with replacement "${replacement}": it is not a decimal number.`);
    return replacement.trim();
  }
  if (typeof value === 'string') return replacement;
  if (typeof value === 'number' || typeof value === 'bigint') {
    const n = replacement.trim() === '' ? NaN : Number(replacement);
    if (!Number.isFinite(n)) throw dataError(where, `cannot mask numeric field "${field}" with replacement "${replacement}": it is not a number.`);
    const integral = schema ? INTEGER_TYPES.has(schema.type) : typeof value === 'bigint' || Number.isInteger(value);
    if (!integral) return schema?.type === 'float32' ? Math.fround(n) : n;
    return typeof value === 'bigint' ? BigInt(Math.trunc(n)) : Math.trunc(n);
  }
  throw dataError(where, `cannot mask field "${field}" with a custom replacement: it holds ${describeValue(value)}; a replacement applies to numbers and strings only.`);
}

export const [MaskFieldKey, MaskFieldValue] = keyValuePlugins(
  'MaskField',
  'Mask fields with a valid empty value for the field type (0, false, empty string, ...) or a custom replacement.',
  maskFieldConfig,
  (raw, side, where): TransformFn => {
    const config = maskFieldConfig.parse(raw);
    const fields = new Set(config.fields);
    const replacement = config.replacement;
    const withDefault = config['replace.null.with.default'];
    const masked = (value: unknown, schema: Schema | undefined, field: string): unknown => {
      if (value === null || value === undefined) return null;
      return replacement === null ? emptyValue(value, schema, field, where) : replacementValue(value, replacement, schema, field, where);
    };
    const purpose = 'Masking fields';

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      const schema = side.schema(record);
      if (!schema) {
        const map = requireMap(value, where, purpose);
        const out = { ...map };
        for (const f of fields) out[f] = masked(map[f], undefined, f);
        return side.update(record, undefined, out);
      }
      const struct = requireStruct(value, schema, where, purpose);
      const out: Record<string, unknown> = {};
      for (const f of schema.fields ?? []) {
        const v = fieldValue(struct, f, withDefault);
        out[f.field] = fields.has(f.field) ? masked(v, f, f.field) : v;
      }
      return side.update(record, schema, out);
    };
  },
);
