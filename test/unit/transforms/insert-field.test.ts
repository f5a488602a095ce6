import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { InsertFieldKey, InsertFieldValue } from '../../../runtime/transforms/insert-field.ts';
import { sinkRecord, sourceRecord, transform } from './helpers.ts';

const TS = Date.UTC(2024, 0, 15, 10, 30);
const ALL = {
  'topic.field': 'topic!', 'partition.field': 'partition', 'offset.field': 'offset?', 'timestamp.field': 'ts',
  'static.field': 'instance', 'static.value': 'db-1',
};

describe('InsertField$Value', () => {
  it('has Connect\'s class name and alias', () => {
    expect(InsertFieldValue.className).toBe('org.apache.kafka.connect.transforms.InsertField$Value');
    expect(InsertFieldValue.aliases).toEqual(['InsertField$Value']);
    expect(InsertFieldValue.config.names).toEqual([
      'topic.field', 'partition.field', 'offset.field', 'timestamp.field', 'static.field', 'static.value', 'replace.null.with.default',
    ]);
  });

  it('schemaless: inserts topic, partition, offset, timestamp and the static value into a map', () => {
    const record = sinkRecord({ key: 'k', value: { id: 1 }, headers: [{ key: 'h', value: 'v' }] });
    expect(transform(InsertFieldValue, ALL)(record)).toStrictEqual({
      ...record,
      value: { id: 1, topic: 'orders', partition: 3, offset: 1234, ts: TS, instance: 'db-1' },
    });
  });

  it('schemaless: leaves out partition and timestamp when the record has none', () => {
    const record = sourceRecord({ value: { id: 1 } });
    expect(transform(InsertFieldValue, { 'partition.field': 'p', 'timestamp.field': 't', 'topic.field': 'topic' })(record)).toStrictEqual({
      ...record,
      value: { id: 1, topic: 'orders' },
    });
  });

  it('with a schema: adds typed fields (! required, ? or nothing optional) and keeps the schema name, doc and parameters', () => {
    const valueSchema: Schema = {
      type: 'struct', name: 'orders.Value', version: 3, doc: 'An order', parameters: { a: 'b' },
      fields: [{ field: 'id', type: 'int64' }, { field: 'note', type: 'string', optional: true }],
    };
    const record = sinkRecord({ value: { id: 7, note: null }, valueSchema });
    expect(transform(InsertFieldValue, ALL)(record)).toStrictEqual({
      ...record,
      valueSchema: {
        type: 'struct', name: 'orders.Value', doc: 'An order', parameters: { a: 'b' },
        fields: [
          { field: 'id', type: 'int64' },
          { field: 'note', type: 'string', optional: true },
          { field: 'topic', type: 'string' },
          { field: 'partition', type: 'int32', optional: true },
          { field: 'offset', type: 'int64', optional: true },
          { field: 'ts', type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp', version: 1, optional: true },
          { field: 'instance', type: 'string', optional: true },
        ],
      },
      value: { id: 7, note: null, topic: 'orders', partition: 3, offset: 1234, ts: new Date(TS), instance: 'db-1' },
    });
  });

  it('with a schema: reads a null field with a default as the default unless replace.null.with.default=false', () => {
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'status', type: 'string', optional: true, default: 'new' }] };
    const record = sinkRecord({ value: { status: null }, valueSchema });
    expect(transform(InsertFieldValue, { 'topic.field': 't' })(record)?.value).toStrictEqual({ status: 'new', t: 'orders' });
    expect(transform(InsertFieldValue, { 'topic.field': 't', 'replace.null.with.default': 'false' })(record)?.value)
      .toStrictEqual({ status: null, t: 'orders' });
  });

  it('passes a tombstone through unchanged', () => {
    const record = sinkRecord({ value: null });
    expect(transform(InsertFieldValue, ALL)(record)).toBe(record);
  });

  it('throws a DataError for a value that is not a map', () => {
    expect(() => transform(InsertFieldValue, ALL)(sinkRecord({ value: 'text' }))).toThrow(DataError);
    expect(() => transform(InsertFieldValue, ALL)(sinkRecord({ value: [1] }))).toThrow(
      'InsertField$Value: Inserting fields needs the record value to be an object (a map) when it has no schema, but it is an array.',
    );
  });

  it('throws a DataError when the schema is not a struct', () => {
    expect(() => transform(InsertFieldValue, ALL)(sinkRecord({ value: 5, valueSchema: { type: 'int32' } }))).toThrow(
      'InsertField$Value: Inserting fields needs the record value to be a struct, but its schema is of type int32.',
    );
  });

  it('throws a DataError for offset.field on a source record', () => {
    expect(() => transform(InsertFieldValue, { 'offset.field': 'o' })(sourceRecord({ value: {} }))).toThrow(
      'InsertField$Value: offset.field "o" needs a sink record (one read from Kafka, with a kafkaOffset); this record has none.',
    );
  });

  it('throws a DataError when an inserted field already exists in the schema', () => {
    const record = sinkRecord({ value: { topic: 'x' }, valueSchema: { type: 'struct', fields: [{ field: 'topic', type: 'string' }] } });
    expect(() => transform(InsertFieldValue, { 'topic.field': 'topic' })(record)).toThrow(
      'InsertField$Value: the resulting value schema would have two fields named "topic".',
    );
  });

  it('refuses a config with nothing to insert, naming topic.field', () => {
    const err = (() => {
      try {
        InsertFieldValue.create({});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).fields).toEqual([{
      name: 'topic.field',
      message: 'No field insertion configured: set at least one of topic.field, partition.field, offset.field, timestamp.field or static.field.',
    }]);
  });

  it('refuses static.field without static.value, naming static.value', () => {
    expect(() => InsertFieldValue.create({ 'static.field': 'x' })).toThrow(
      'Invalid configuration: static.value: No value specified for static field: x. Set static.value.',
    );
  });
});

describe('InsertField$Key', () => {
  it('schemaless: inserts into the key and leaves the value alone', () => {
    const record = sinkRecord({ key: { id: 1 }, value: 'v' });
    expect(transform(InsertFieldKey, { 'topic.field': 'topic', 'static.field': 's', 'static.value': 'x' })(record)).toStrictEqual({
      ...record,
      key: { id: 1, topic: 'orders', s: 'x' },
    });
  });

  it('with a schema: updates keySchema', () => {
    const record = sinkRecord({ key: { id: 1 }, keySchema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }] }, value: 'v' });
    expect(transform(InsertFieldKey, { 'partition.field': 'p!' })(record)).toStrictEqual({
      ...record,
      key: { id: 1, p: 3 },
      keySchema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }, { field: 'p', type: 'int32' }] },
    });
  });

  it('passes a null key through', () => {
    const record = sinkRecord({ value: 'v' });
    expect(transform(InsertFieldKey, { 'topic.field': 't' })(record)).toBe(record);
  });
});
