import { describe, expect, it } from 'vitest';
import { DataError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { ReplaceFieldKey, ReplaceFieldValue } from '../../../runtime/transforms/replace-field.ts';
import { sinkRecord, transform } from './helpers.ts';

describe('ReplaceField$Value', () => {
  it('is Connect\'s ReplaceField$Value', () => {
    expect(ReplaceFieldValue.className).toBe('org.apache.kafka.connect.transforms.ReplaceField$Value');
    expect(ReplaceFieldValue.aliases).toEqual(['ReplaceField$Value']);
  });

  it('schemaless: include, exclude (which wins) and renames', () => {
    const record = sinkRecord({ value: { a: 1, b: 2, c: 3, d: 4 } });
    expect(transform(ReplaceFieldValue, { include: 'a,b,c', exclude: 'c', renames: 'a:alpha,b:beta' })(record)).toStrictEqual({
      ...record,
      value: { alpha: 1, beta: 2 },
    });
    expect(transform(ReplaceFieldValue, { exclude: 'b' })(record)?.value).toStrictEqual({ a: 1, c: 3, d: 4 });
  });

  it('schemaless: honours the deprecated whitelist and blacklist when include/exclude are not set', () => {
    const record = sinkRecord({ value: { a: 1, b: 2, c: 3 } });
    expect(transform(ReplaceFieldValue, { whitelist: 'a,b', blacklist: 'b' })(record)?.value).toStrictEqual({ a: 1 });
    expect(transform(ReplaceFieldValue, { include: 'c', whitelist: 'a' })(record)?.value).toStrictEqual({ c: 3 });
  });

  it('with a schema: filters and renames fields in the schema and value', () => {
    const valueSchema: Schema = {
      type: 'struct', name: 'v', version: 1,
      fields: [{ field: 'a', type: 'int32' }, { field: 'b', type: 'string', optional: true, default: 'B' }, { field: 'c', type: 'boolean' }],
    };
    const record = sinkRecord({ value: { a: 1, b: null, c: true }, valueSchema });
    expect(transform(ReplaceFieldValue, { exclude: 'c', renames: 'a:x,b:y' })(record)).toStrictEqual({
      ...record,
      value: { x: 1, y: 'B' },
      valueSchema: { type: 'struct', name: 'v', fields: [{ field: 'x', type: 'int32' }, { field: 'y', type: 'string', optional: true, default: 'B' }] },
    });
    expect(transform(ReplaceFieldValue, { exclude: 'c', 'replace.null.with.default': 'false' })(record)?.value).toStrictEqual({ a: 1, b: null });
  });

  it('with a schema: a rename to a name that does not exist elsewhere does not disturb other fields', () => {
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'a', type: 'int32' }, { field: 'c', type: 'int32' }] };
    const record = sinkRecord({ value: { a: 1, c: 3 }, valueSchema });
    expect(transform(ReplaceFieldValue, { renames: 'x:c,a:b' })(record)?.value).toStrictEqual({ b: 1, c: 3 });
  });

  it('throws a DataError when renaming would duplicate a field of the schema', () => {
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'a', type: 'int32' }, { field: 'b', type: 'int32' }] };
    expect(() => transform(ReplaceFieldValue, { renames: 'a:b' })(sinkRecord({ value: { a: 1, b: 2 }, valueSchema }))).toThrow(
      'ReplaceField$Value: the resulting value schema would have two fields named "b".',
    );
  });

  it('passes a tombstone through; throws a DataError for a value that is not a map', () => {
    const tombstone = sinkRecord({ value: null });
    expect(transform(ReplaceFieldValue, { exclude: 'a' })(tombstone)).toBe(tombstone);
    expect(() => transform(ReplaceFieldValue, { exclude: 'a' })(sinkRecord({ value: 42 }))).toThrow(DataError);
  });

  it('refuses a malformed rename, naming renames', () => {
    expect(() => ReplaceFieldValue.create({ renames: 'a:b,c' })).toThrow(
      'Invalid configuration: renames: Invalid value "a:b,c" for configuration renames: Invalid rename mapping: c. Use old:new pairs, e.g. foo:bar,abc:xyz.',
    );
  });
});

describe('ReplaceField$Key', () => {
  it('schemaless and with a schema', () => {
    const record = sinkRecord({ key: { id: 1, tenant: 't' }, value: { id: 1 } });
    expect(transform(ReplaceFieldKey, { exclude: 'tenant' })(record)).toStrictEqual({ ...record, key: { id: 1 } });
    const withSchema = sinkRecord({
      key: { id: 1, tenant: 't' }, keySchema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }, { field: 'tenant', type: 'string' }] }, value: 'v',
    });
    expect(transform(ReplaceFieldKey, { include: 'id', renames: 'id:key_id' })(withSchema)).toStrictEqual({
      ...withSchema,
      key: { key_id: 1 },
      keySchema: { type: 'struct', fields: [{ field: 'key_id', type: 'int32' }] },
    });
  });
});
