import { describe, expect, it } from 'vitest';
import type { Schema } from '../../../runtime/api/records.ts';
import { FlattenKey, FlattenValue } from '../../../runtime/transforms/flatten.ts';
import { sinkRecord, transform } from './helpers.ts';

describe('Flatten$Value', () => {
  it('is Connect\'s Flatten$Value with delimiter "."', () => {
    expect(FlattenValue.className).toBe('org.apache.kafka.connect.transforms.Flatten$Value');
    expect(FlattenValue.config.describe()[0]).toMatchObject({ name: 'delimiter', default_value: '.' });
  });

  it('schemaless: flattens nested maps, leaving arrays and other values as they are', () => {
    const record = sinkRecord({ value: { id: 1, customer: { name: 'a', address: { city: 'b' }, empty: {} }, tags: [{ x: 1 }], none: null } });
    expect(transform(FlattenValue)(record)).toStrictEqual({
      ...record,
      value: { id: 1, 'customer.name': 'a', 'customer.address.city': 'b', tags: [{ x: 1 }], none: null },
    });
    expect(transform(FlattenValue, { delimiter: '_' })(record)?.value).toStrictEqual({
      id: 1, customer_name: 'a', customer_address_city: 'b', tags: [{ x: 1 }], none: null,
    });
  });

  it('with a schema: flattens structs; a field under an optional struct becomes optional, and parent defaults carry down', () => {
    const valueSchema: Schema = {
      type: 'struct', name: 'v',
      fields: [
        { field: 'id', type: 'int64' },
        {
          field: 'customer', type: 'struct', optional: true, default: { name: 'anon' },
          fields: [{ field: 'name', type: 'string' }, { field: 'tags', type: 'array', items: { type: 'string' } }],
        },
        { field: 'at', type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp', version: 1 },
      ],
    };
    const at = new Date(0);
    const record = sinkRecord({ value: { id: 1, customer: { name: 'c', tags: ['x'] }, at }, valueSchema });
    const expectedSchema: Schema = {
      type: 'struct', name: 'v',
      fields: [
        { field: 'id', type: 'int64' },
        { field: 'customer.name', type: 'string', optional: true, default: 'anon' },
        { field: 'customer.tags', type: 'array', items: { type: 'string' }, optional: true },
        { field: 'at', type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp' },
      ],
    };
    expect(transform(FlattenValue)(record)).toStrictEqual({
      ...record, valueSchema: expectedSchema, value: { id: 1, 'customer.name': 'c', 'customer.tags': ['x'], at },
    });
    // A null struct reads as its default, as Connect's Struct.get does.
    const noCustomer = sinkRecord({ value: { id: 2, customer: null, at }, valueSchema });
    expect(transform(FlattenValue)(noCustomer)?.value).toStrictEqual({ id: 2, 'customer.name': 'anon', 'customer.tags': null, at });
    const { default: _d, ...noDefault } = valueSchema.fields![1];
    const plain = sinkRecord({ value: { id: 3, customer: null, at }, valueSchema: { ...valueSchema, fields: [valueSchema.fields![0], noDefault, valueSchema.fields![2]] } });
    expect(transform(FlattenValue)(plain)?.value).toStrictEqual({ id: 3, 'customer.name': null, 'customer.tags': null, at });
  });

  it('passes a tombstone through; throws a DataError for map fields with a schema and for non-map values', () => {
    const tombstone = sinkRecord({ value: null });
    expect(transform(FlattenValue)(tombstone)).toBe(tombstone);
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'm', type: 'map', keys: { type: 'string' }, values: { type: 'string' } }] };
    expect(() => transform(FlattenValue)(sinkRecord({ value: { m: {} }, valueSchema }))).toThrow(
      'Flatten$Value: Flatten does not support fields of type map in records with schemas (field m).',
    );
    expect(() => transform(FlattenValue)(sinkRecord({ value: 'x' }))).toThrow(
      'Flatten$Value: Flattening needs the record value to be an object (a map) when it has no schema, but it is a string.',
    );
  });
});

describe('Flatten$Key', () => {
  it('flattens the key', () => {
    const record = sinkRecord({ key: { pk: { a: 1, b: 2 } }, value: 'v' });
    expect(transform(FlattenKey, { delimiter: '__' })(record)).toStrictEqual({ ...record, key: { pk__a: 1, pk__b: 2 } });
    const keySchema: Schema = { type: 'struct', fields: [{ field: 'pk', type: 'struct', fields: [{ field: 'a', type: 'int32' }] }] };
    const withSchema = sinkRecord({ key: { pk: { a: 1 } }, keySchema, value: 'v' });
    expect(transform(FlattenKey)(withSchema)).toStrictEqual({
      ...withSchema, key: { 'pk.a': 1 }, keySchema: { type: 'struct', fields: [{ field: 'pk.a', type: 'int32' }] },
    });
  });
});
