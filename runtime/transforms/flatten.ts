/**
 * Flatten$Key / Flatten$Value: flatten nested structs (with a schema) or maps (without) into one
 * level, joining field names with the delimiter. Arrays and their contents are not modified.
 */
import { defineConfig } from '../api/config-spec.ts';
import type { ConnectRecord, FieldSchema, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { keyValuePlugins } from './util/record-side.ts';
import { dataError, fieldValue, isPlainObject, requireMap, requireStruct, schemaBasics, schemaCache, structSchema } from './util/values.ts';

export const flattenConfig = defineConfig({
  delimiter: {
    type: 'string', default: '.', importance: 'medium',
    doc: 'Delimiter to insert between field names from the input record when generating field names for the output record.',
  },
});

const LEAF_TYPES = new Set(['int8', 'int16', 'int32', 'int64', 'float32', 'float64', 'boolean', 'string', 'bytes', 'array']);

export const [FlattenKey, FlattenValue] = keyValuePlugins(
  'Flatten',
  'Flatten a nested data structure, naming each field by joining the field names at each level with a delimiter.',
  flattenConfig,
  (raw, side, where): TransformFn => {
    const delimiter = flattenConfig.parse(raw).delimiter;
    const join = (prefix: string, name: string) => (prefix === '' ? name : `${prefix}${delimiter}${name}`);
    const purpose = 'Flattening';

    const flattenMap = (map: Record<string, unknown>, prefix: string, out: Record<string, unknown>): void => {
      for (const [key, v] of Object.entries(map)) {
        const name = join(prefix, key);
        if (isPlainObject(v)) flattenMap(v, name, out);
        else out[name] = v ?? null;
      }
    };

    const unsupported = (schema: Schema, name: string) =>
      dataError(where, `Flatten does not support fields of type ${schema.type} in records with schemas (field ${name}).`);

    const flattenSchema = (schema: Schema, prefix: string, optional: boolean, parentDefault: unknown, out: FieldSchema[]): void => {
      for (const f of schema.fields ?? []) {
        const name = join(prefix, f.field);
        const fieldOptional = optional || f.optional === true;
        let defaultValue: unknown = f.default ?? null;
        if (defaultValue === null && isPlainObject(parentDefault)) defaultValue = parentDefault[f.field] ?? null;
        if (f.type === 'struct') {
          flattenSchema(f, name, fieldOptional, defaultValue, out);
        } else if (LEAF_TYPES.has(f.type)) {
          const flat: FieldSchema = { field: name, type: f.type, ...schemaBasics(f) };
          if (f.type === 'array' && f.items) flat.items = f.items;
          if (fieldOptional) flat.optional = true;
          if (defaultValue !== null) flat.default = defaultValue;
          out.push(flat);
        } else {
          throw unsupported(f, name);
        }
      }
    };

    const flattenStruct = (struct: Record<string, unknown> | null, schema: Schema, prefix: string, out: Record<string, unknown>): void => {
      for (const f of schema.fields ?? []) {
        const name = join(prefix, f.field);
        const v = struct === null ? null : fieldValue(struct, f);
        if (f.type === 'struct') {
          if (v !== null && !isPlainObject(v)) throw dataError(where, `field ${name} should be a struct (an object) but is ${typeof v}.`);
          flattenStruct(v, f, name, out);
        } else {
          out[name] = v;
        }
      }
    };

    const updatedSchema = schemaCache();
    const buildSchema = (schema: Schema): Schema => {
      if (schema.type !== 'struct') throw dataError(where, `${purpose} needs the record ${where.part} to be a struct, but its schema is of type ${schema.type}.`);
      const fields: FieldSchema[] = [];
      flattenSchema(schema, '', schema.optional === true, schema.default, fields);
      return structSchema(schemaBasics(schema), fields, where);
    };

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      if (value === null) return record;
      const schema = side.schema(record);
      if (!schema) {
        const out: Record<string, unknown> = {};
        flattenMap(requireMap(value, where, purpose), '', out);
        return side.update(record, undefined, out);
      }
      const newSchema = updatedSchema(schema, () => buildSchema(schema));
      const struct = requireStruct(value, schema, where, purpose);
      const out: Record<string, unknown> = {};
      flattenStruct(struct, schema, '', out);
      return side.update(record, newSchema, out);
    };
  },
);
