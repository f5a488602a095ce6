/** HoistField$Key / HoistField$Value: wrap the key or value in a struct/map with one field. */
import { defineConfig } from '../api/config-spec.ts';
import type { ConnectRecord } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { keyValuePlugins } from './util/record-side.ts';
import { asField, schemaCache } from './util/values.ts';

export const hoistFieldConfig = defineConfig({
  field: { type: 'string', importance: 'medium', doc: 'Field name for the single field that will be created in the resulting struct or map.' },
});

export const [HoistFieldKey, HoistFieldValue] = keyValuePlugins(
  'HoistField',
  'Wrap data using the specified field name in a struct (with a schema) or a map (without).',
  hoistFieldConfig,
  (raw, side): TransformFn => {
    const field = hoistFieldConfig.parse(raw).field;
    const updatedSchema = schemaCache();
    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      const schema = side.schema(record);
      if (!schema) return side.update(record, undefined, { [field]: value });
      const newSchema = updatedSchema(schema, () => ({ type: 'struct', fields: [asField(field, schema)] }));
      return side.update(record, newSchema, { [field]: value });
    };
  },
);
