/** ValueToKey: replace the record key with a struct/map of some of the value's fields. */
import { defineConfig, nonEmpty } from '../api/config-spec.ts';
import type { ConnectRecord, FieldSchema, Schema } from '../api/records.ts';
import type { TransformFn, TransformPlugin } from '../api/transform.ts';
import { TRANSFORMS_PACKAGE } from './util/record-side.ts';
import { dataError, fieldValue, findField, requireMap, requireStruct, schemaCache, structSchema, type Where } from './util/values.ts';

export const valueToKeyConfig = defineConfig({
  fields: { type: 'list', importance: 'high', validate: nonEmpty(), doc: 'Field names on the record value to extract as the record key.' },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
});

function create(raw: Record<string, string>): TransformFn {
  const config = valueToKeyConfig.parse(raw);
  const fields = config.fields;
  const withDefault = config['replace.null.with.default'];
  const where: Where = { transform: 'ValueToKey', part: 'value' };
  const purpose = 'Copying fields from value to key';
  const keySchemas = schemaCache<{ schema: Schema; sources: FieldSchema[] }>();
  const build = (valueSchema: Schema) => {
    const sources = fields.map((name) => {
      const f = findField(valueSchema, name);
      if (!f) throw dataError(where, `field "${name}" (from fields) does not exist in the value schema.`);
      return f;
    });
    return { schema: structSchema({}, sources, where), sources };
  };

  return <R extends ConnectRecord>(record: R): R => {
    const valueSchema = record.valueSchema;
    if (!valueSchema) {
      const value = requireMap(record.value, where, purpose);
      const key: Record<string, unknown> = {};
      for (const f of fields) key[f] = value[f] ?? null;
      const out: R = { ...record, key };
      delete out.keySchema;
      return out;
    }
    const struct = requireStruct(record.value, valueSchema, where, purpose);
    const { schema, sources } = keySchemas(valueSchema, () => build(valueSchema));
    const key: Record<string, unknown> = {};
    for (const f of sources) key[f.field] = fieldValue(struct, f, withDefault);
    return { ...record, key, keySchema: schema };
  };
}

export const ValueToKey: TransformPlugin = {
  className: `${TRANSFORMS_PACKAGE}.ValueToKey`,
  aliases: ['ValueToKey'],
  description: 'Replace the record key with a new key formed from a subset of fields in the record value.',
  config: valueToKeyConfig,
  create,
};
