import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { ExtractFieldKey, ExtractFieldValue } from '../../../runtime/transforms/extract-field.ts';
import { sinkRecord, transform } from './helpers.ts';

const nestedSchema: Schema = {
  type: 'struct',
  fields: [
    { field: 'id', type: 'int64' },
    { field: 'after', type: 'struct', optional: true, fields: [{ field: 'name', type: 'string', optional: true, default: 'anon' }] },
    { field: 'a.b', type: 'string' },
  ],
};

describe('ExtractField$Value', () => {
  it('is Connect\'s ExtractField$Value with field.syntax.version', () => {
    expect(ExtractFieldValue.className).toBe('org.apache.kafka.connect.transforms.ExtractField$Value');
    expect(ExtractFieldValue.config.names).toEqual(['field', 'replace.null.with.default', 'field.syntax.version']);
  });

  it('schemaless: extracts a field; a missing field or null value gives null', () => {
    const record = sinkRecord({ value: { id: 5, name: 'x' } });
    expect(transform(ExtractFieldValue, { field: 'id' })(record)).toStrictEqual({ ...record, value: 5 });
    expect(transform(ExtractFieldValue, { field: 'nope' })(record)).toStrictEqual({ ...record, value: null });
    const tombstone = sinkRecord({ value: null });
    expect(transform(ExtractFieldValue, { field: 'id' })(tombstone)).toStrictEqual(tombstone);
  });

  it('with a schema: the value and schema become the field\'s', () => {
    const record = sinkRecord({ value: { id: 5, after: null, 'a.b': 'dotted' }, valueSchema: nestedSchema });
    expect(transform(ExtractFieldValue, { field: 'id' })(record)).toStrictEqual({ ...record, value: 5, valueSchema: { type: 'int64' } });
    expect(transform(ExtractFieldValue, { field: 'a.b' })(record)).toStrictEqual({ ...record, value: 'dotted', valueSchema: { type: 'string' } });
    const tombstone = sinkRecord({ value: null, valueSchema: nestedSchema });
    expect(transform(ExtractFieldValue, { field: 'id' })(tombstone)).toStrictEqual({ ...tombstone, valueSchema: { type: 'int64' } });
  });

  it('V2: walks nested fields with dots, and backticks keep a dotted name whole', () => {
    const record = sinkRecord({ value: { id: 5, after: { name: null }, 'a.b': 'dotted' }, valueSchema: nestedSchema });
    const v2 = { 'field.syntax.version': 'V2' };
    expect(transform(ExtractFieldValue, { field: 'after.name', ...v2 })(record)).toStrictEqual({
      ...record, value: 'anon', valueSchema: { type: 'string', optional: true, default: 'anon' },
    });
    expect(transform(ExtractFieldValue, { field: 'after.name', 'replace.null.with.default': 'false', ...v2 })(record)?.value).toBeNull();
    expect(transform(ExtractFieldValue, { field: '`a.b`', ...v2 })(record)?.value).toBe('dotted');
    const noAfter = sinkRecord({ value: { id: 5, after: null, 'a.b': 'x' }, valueSchema: nestedSchema });
    expect(transform(ExtractFieldValue, { field: 'after.name', ...v2 })(noAfter)?.value).toBeNull();

    const schemaless = sinkRecord({ value: { after: { name: 'n' }, flat: 1 } });
    expect(transform(ExtractFieldValue, { field: 'after.name', ...v2 })(schemaless)?.value).toBe('n');
    expect(transform(ExtractFieldValue, { field: 'missing.name', ...v2 })(schemaless)?.value).toBeNull();
    expect(() => transform(ExtractFieldValue, { field: 'flat.x', ...v2 })(schemaless)).toThrow(
      'ExtractField$Value: cannot extract "flat.x": the field "flat" on the way is a number, not a struct or map.',
    );
  });

  it('throws a DataError for a field not in the schema and for a non-map value', () => {
    const record = sinkRecord({ value: { id: 5 }, valueSchema: nestedSchema });
    expect(() => transform(ExtractFieldValue, { field: 'nope' })(record)).toThrow('ExtractField$Value: Unknown field: nope (not in the record value schema).');
    expect(() => transform(ExtractFieldValue, { field: 'id' })(sinkRecord({ value: 'text' }))).toThrow(
      'ExtractField$Value: Extracting a field needs the record value to be an object (a map) when it has no schema, but it is a string.',
    );
  });

  it('refuses an unclosed backtick and an unknown syntax version, naming the key', () => {
    expect(() => ExtractFieldValue.create({ field: '`a.b', 'field.syntax.version': 'V2' })).toThrow(ConfigError);
    expect(() => ExtractFieldValue.create({ field: '`a.b', 'field.syntax.version': 'V2' })).toThrow('Invalid configuration: field: Incomplete backtick pair');
    expect(() => ExtractFieldValue.create({ field: 'a', 'field.syntax.version': 'V3' })).toThrow(
      'Invalid configuration: field.syntax.version: Invalid value "V3" for configuration field.syntax.version: Must be one of V1, V2.',
    );
  });
});

describe('ExtractField$Key', () => {
  it('extracts from the key, schemaless and with a schema', () => {
    const record = sinkRecord({ key: { id: 9 }, value: 'v' });
    expect(transform(ExtractFieldKey, { field: 'id' })(record)).toStrictEqual({ ...record, key: 9 });
    const withSchema = sinkRecord({ key: { id: 9 }, keySchema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }] }, value: 'v' });
    expect(transform(ExtractFieldKey, { field: 'id' })(withSchema)).toStrictEqual({ ...withSchema, key: 9, keySchema: { type: 'int32' } });
  });
});
