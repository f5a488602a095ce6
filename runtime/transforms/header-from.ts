/** HeaderFrom$Key / HeaderFrom$Value: copy or move fields of the key or value into headers. */
import { defineConfig, nonEmpty, oneOf } from '../api/config-spec.ts';
import { ConfigError } from '../api/errors.ts';
import type { ConnectRecord, FieldSchema, Header, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { keyValuePlugins } from './util/record-side.ts';
import { dataError, fieldValue, findField, requireMap, requireStruct, schemaBasics, schemaCache, structSchema } from './util/values.ts';

export const headerFromConfig = defineConfig({
  fields: {
    type: 'list', importance: 'high', validate: nonEmpty(),
    doc: 'Field names in the record whose values are to be copied or moved to headers.',
  },
  headers: {
    type: 'list', importance: 'high', validate: nonEmpty(),
    doc: 'Header names, in the same order as the field names listed in the fields configuration property.',
  },
  operation: {
    type: 'string', importance: 'high', validate: oneOf(['move', 'copy']),
    doc: 'Either move if the fields are to be moved to the headers (removed from the key/value), or copy if the fields are to be copied to the headers (retained in the key/value).',
  },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
});

export const [HeaderFromKey, HeaderFromValue] = keyValuePlugins(
  'HeaderFrom',
  'Moves or copies fields in the key/value of a record into that record\'s headers.',
  headerFromConfig,
  (raw, side, where): TransformFn => {
    const config = headerFromConfig.parse(raw);
    const { fields, headers } = config;
    if (fields.length !== headers.length) {
      throw ConfigError.fromFields([{
        name: 'headers',
        message: `'headers' config must have the same number of elements as 'fields' config (${headers.length} headers for ${fields.length} fields).`,
      }]);
    }
    const move = config.operation === 'move';
    const withDefault = config['replace.null.with.default'];
    const purpose = move ? 'Moving fields to headers' : 'Copying fields to headers';
    const moved = new Set(fields);
    const movedSchema = schemaCache();

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      const schema = side.schema(record);
      const added: Header[] = [];
      if (!schema) {
        const map = requireMap(value, where, purpose);
        const out = { ...map };
        fields.forEach((f, i) => {
          added.push({ key: headers[i], value: map[f] ?? null });
          if (move) delete out[f];
        });
        return { ...side.update(record, undefined, out), headers: [...(record.headers ?? []), ...added] };
      }
      const struct = requireStruct(value, schema, where, purpose);
      fields.forEach((name, i) => {
        const f = findField(schema, name);
        if (!f) throw dataError(where, `field "${name}" (from fields) is not in the record ${where.part} schema.`);
        added.push({ key: headers[i], value: fieldValue(struct, f, withDefault) });
      });
      let newSchema: Schema = schema;
      let newValue: Record<string, unknown> = struct;
      if (move) {
        newSchema = movedSchema(schema, () => structSchema(schemaBasics(schema), (schema.fields ?? []).filter((f: FieldSchema) => !moved.has(f.field)), where));
        newValue = {};
        for (const f of newSchema.fields ?? []) newValue[f.field] = fieldValue(struct, f, withDefault);
      }
      return { ...side.update(record, newSchema, newValue), headers: [...(record.headers ?? []), ...added] };
    };
  },
);
