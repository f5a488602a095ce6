/** InsertField$Key / InsertField$Value: add fields from the record's metadata or a static value. */
import { defineConfig } from '../api/config-spec.ts';
import { ConfigError } from '../api/errors.ts';
import type { ConnectRecord, FieldSchema, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { keyValuePlugins } from './util/record-side.ts';
import {
  TIMESTAMP_SCHEMA, asField, dataError, fieldValue, requireMap, requireStruct, schemaBasics, schemaCache, structSchema,
} from './util/values.ts';

const OPTIONALITY = 'Suffix with ! to make this a required field, or ? to keep it optional (the default).';
const REPLACE_NULL_DOC = 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).';

export const insertFieldConfig = defineConfig({
  'topic.field': { type: 'string', default: null, importance: 'medium', doc: `Field name for the Kafka topic. ${OPTIONALITY}` },
  'partition.field': { type: 'string', default: null, importance: 'medium', doc: `Field name for the Kafka partition. ${OPTIONALITY}` },
  'offset.field': {
    type: 'string', default: null, importance: 'medium',
    doc: `Field name for the Kafka offset; only applies to sink connectors. ${OPTIONALITY}`,
  },
  'timestamp.field': { type: 'string', default: null, importance: 'medium', doc: `Field name for the record timestamp. ${OPTIONALITY}` },
  'static.field': { type: 'string', default: null, importance: 'medium', doc: `Field name for a static data field. ${OPTIONALITY}` },
  'static.value': { type: 'string', default: null, importance: 'medium', doc: 'Static field value, if static.field is set.' },
  'replace.null.with.default': { type: 'boolean', default: true, importance: 'medium', doc: REPLACE_NULL_DOC },
});

interface Insertion {
  name: string;
  optional: boolean;
}

function insertion(spec: string | null): Insertion | null {
  if (spec === null || spec === '') return null;
  if (spec.endsWith('?')) return { name: spec.slice(0, -1), optional: true };
  if (spec.endsWith('!')) return { name: spec.slice(0, -1), optional: false };
  return { name: spec, optional: true };
}

export const [InsertFieldKey, InsertFieldValue] = keyValuePlugins(
  'InsertField',
  'Insert fields from the record metadata (topic, partition, offset, timestamp) or a configured static value.',
  insertFieldConfig,
  (raw, side, where): TransformFn => {
    const config = insertFieldConfig.parse(raw);
    const topic = insertion(config['topic.field']);
    const partition = insertion(config['partition.field']);
    const offset = insertion(config['offset.field']);
    const timestamp = insertion(config['timestamp.field']);
    const staticField = insertion(config['static.field']);
    const staticValue = config['static.value'];
    const withDefault = config['replace.null.with.default'];
    if (!topic && !partition && !offset && !timestamp && !staticField) {
      throw ConfigError.fromFields([{
        name: 'topic.field',
        message: 'No field insertion configured: set at least one of topic.field, partition.field, offset.field, timestamp.field or static.field.',
      }]);
    }
    if (staticField && staticValue === null) {
      throw ConfigError.fromFields([{ name: 'static.value', message: `No value specified for static field: ${staticField.name}. Set static.value.` }]);
    }
    const purpose = 'Inserting fields';

    const sinkOffset = (record: ConnectRecord): number => {
      const kafkaOffset = (record as { kafkaOffset?: unknown }).kafkaOffset;
      if (typeof kafkaOffset !== 'number') {
        throw dataError(where, `offset.field "${offset?.name}" needs a sink record (one read from Kafka, with a kafkaOffset); this record has none. offset.field only applies to sink connectors.`);
      }
      return kafkaOffset;
    };

    const updatedSchema = schemaCache();
    const buildSchema = (schema: Schema): Schema => {
      const fields: FieldSchema[] = [...(schema.fields ?? [])];
      const add = (ins: Insertion | null, type: Schema) => {
        if (ins) fields.push(asField(ins.name, ins.optional ? { ...type, optional: true } : type));
      };
      add(topic, { type: 'string' });
      add(partition, { type: 'int32' });
      add(offset, { type: 'int64' });
      add(timestamp, TIMESTAMP_SCHEMA);
      add(staticField, { type: 'string' });
      return structSchema(schemaBasics(schema), fields, where);
    };

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      if (value === null) return record;
      const schema = side.schema(record);
      if (!schema) {
        const out = { ...requireMap(value, where, purpose) };
        if (topic) out[topic.name] = record.topic;
        if (partition && record.kafkaPartition !== undefined) out[partition.name] = record.kafkaPartition;
        if (offset) out[offset.name] = sinkOffset(record);
        if (timestamp && record.timestamp !== undefined) out[timestamp.name] = record.timestamp;
        if (staticField) out[staticField.name] = staticValue;
        return side.update(record, undefined, out);
      }
      const struct = requireStruct(value, schema, where, purpose);
      const newSchema = updatedSchema(schema, () => buildSchema(schema));
      const out: Record<string, unknown> = {};
      for (const f of schema.fields ?? []) out[f.field] = fieldValue(struct, f, withDefault);
      if (topic) out[topic.name] = record.topic;
      if (partition) out[partition.name] = record.kafkaPartition ?? null;
      if (offset) out[offset.name] = sinkOffset(record);
      if (timestamp) out[timestamp.name] = record.timestamp === undefined ? null : new Date(record.timestamp);
      if (staticField) out[staticField.name] = staticValue;
      return side.update(record, newSchema, out);
    };
  },
);
