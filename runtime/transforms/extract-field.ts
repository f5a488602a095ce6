/** ExtractField$Key / ExtractField$Value: replace the key or value with one of its fields. */
import { defineConfig } from '../api/config-spec.ts';
import { ConfigError } from '../api/errors.ts';
import type { ConnectRecord, FieldSchema, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { FIELD_SYNTAX_VERSION, fieldSyntaxVersionKey, parseFieldPath } from './util/field-path.ts';
import { keyValuePlugins } from './util/record-side.ts';
import { dataError, describeValue, fieldValue, findField, isPlainObject, requireMap, requireStruct, schemaOfField } from './util/values.ts';

export const extractFieldConfig = defineConfig({
  field: { type: 'string', importance: 'medium', doc: 'Field name to extract.' },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
  [FIELD_SYNTAX_VERSION]: fieldSyntaxVersionKey,
});

export const [ExtractFieldKey, ExtractFieldValue] = keyValuePlugins(
  'ExtractField',
  'Extract the specified field from a struct (with a schema) or a map (without); null values pass through.',
  extractFieldConfig,
  (raw, side, where): TransformFn => {
    const config = extractFieldConfig.parse(raw);
    const path = config.field;
    let steps: string[];
    try {
      steps = parseFieldPath(path, config[FIELD_SYNTAX_VERSION]);
    } catch (e) {
      throw ConfigError.fromFields([{ name: 'field', message: (e as Error).message }]);
    }
    const withDefault = config['replace.null.with.default'];
    const purpose = 'Extracting a field';
    const nested = (v: unknown, step: string): v is Record<string, unknown> | null => {
      if (v === null || isPlainObject(v)) return true;
      throw dataError(where, `cannot extract "${path}": the field "${step}" on the way is ${describeValue(v)}, not a struct or map.`);
    };

    const fieldOf = (schema: Schema): FieldSchema | undefined => {
      let current: Schema = schema;
      for (const step of steps.slice(0, -1)) {
        const f = current.type === 'struct' ? findField(current, step) : undefined;
        if (!f) return undefined;
        current = f;
      }
      return current.type === 'struct' ? findField(current, steps[steps.length - 1]) : undefined;
    };

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      const schema = side.schema(record);
      if (!schema) {
        if (value === null) return side.update(record, undefined, null);
        let current: Record<string, unknown> | null = requireMap(value, where, purpose);
        for (const step of steps.slice(0, -1)) {
          const next: unknown = current[step] ?? null;
          if (!nested(next, step) || next === null) return side.update(record, undefined, null);
          current = next;
        }
        return side.update(record, undefined, current[steps[steps.length - 1]] ?? null);
      }
      const field = fieldOf(schema);
      if (!field) throw dataError(where, `Unknown field: ${path} (not in the record ${side.part} schema).`);
      if (value === null) return side.update(record, schemaOfField(field), null);
      let current = requireStruct(value, schema, where, purpose);
      let currentSchema: Schema = schema;
      for (const step of steps.slice(0, -1)) {
        const f = findField(currentSchema, step) as FieldSchema;
        const next = fieldValue(current, f);
        if (!nested(next, step) || next === null) return side.update(record, schemaOfField(field), null);
        current = next;
        currentSchema = f;
      }
      return side.update(record, schemaOfField(field), fieldValue(current, field, withDefault));
    };
  },
);
