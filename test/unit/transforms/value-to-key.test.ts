import { describe, expect, it } from 'vitest';
import type { Schema } from '../../../runtime/api/records.ts';
import { ValueToKey } from '../../../runtime/transforms/value-to-key.ts';
import { sinkRecord, transform } from './helpers.ts';

describe('ValueToKey', () => {
  it('is Connect\'s ValueToKey', () => {
    expect(ValueToKey.className).toBe('org.apache.kafka.connect.transforms.ValueToKey');
    expect(ValueToKey.aliases).toEqual(['ValueToKey']);
  });

  it('schemaless: the key becomes a map of the listed value fields (absent ones null) and any key schema is dropped', () => {
    const record = sinkRecord({ key: 'old', keySchema: { type: 'string' }, value: { id: 1, tenant: 't', other: 2 } });
    const { keySchema: _dropped, ...rest } = record;
    expect(transform(ValueToKey, { fields: 'tenant,id,missing' })(record)).toStrictEqual({
      ...rest,
      key: { tenant: 't', id: 1, missing: null },
    });
  });

  it('with a schema: builds a key struct schema from the value schema fields', () => {
    const valueSchema: Schema = {
      type: 'struct', name: 'v',
      fields: [{ field: 'id', type: 'int64' }, { field: 'tenant', type: 'string', optional: true, default: 'main' }, { field: 'x', type: 'string' }],
    };
    const record = sinkRecord({ value: { id: 1, tenant: null, x: 'y' }, valueSchema });
    expect(transform(ValueToKey, { fields: 'tenant,id' })(record)).toStrictEqual({
      ...record,
      key: { tenant: 'main', id: 1 },
      keySchema: { type: 'struct', fields: [{ field: 'tenant', type: 'string', optional: true, default: 'main' }, { field: 'id', type: 'int64' }] },
    });
    expect(transform(ValueToKey, { fields: 'tenant', 'replace.null.with.default': 'false' })(record)?.key).toStrictEqual({ tenant: null });
  });

  it('throws a DataError for a field missing from the value schema, and for a non-map value', () => {
    const record = sinkRecord({ value: { id: 1 }, valueSchema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }] } });
    expect(() => transform(ValueToKey, { fields: 'nope' })(record)).toThrow('ValueToKey: field "nope" (from fields) does not exist in the value schema.');
    expect(() => transform(ValueToKey, { fields: 'id' })(sinkRecord({ value: null }))).toThrow(
      'ValueToKey: Copying fields from value to key needs the record value to be an object (a map) when it has no schema, but it is null.',
    );
  });

  it('requires fields', () => {
    expect(() => ValueToKey.create({})).toThrow('Invalid configuration: fields: Missing required configuration "fields"');
  });
});
