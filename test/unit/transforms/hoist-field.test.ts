import { describe, expect, it } from 'vitest';
import { HoistFieldKey, HoistFieldValue } from '../../../runtime/transforms/hoist-field.ts';
import { sinkRecord, transform } from './helpers.ts';

describe('HoistField', () => {
  it('is Connect\'s HoistField$Key / $Value', () => {
    expect(HoistFieldKey.className).toBe('org.apache.kafka.connect.transforms.HoistField$Key');
    expect(HoistFieldValue.className).toBe('org.apache.kafka.connect.transforms.HoistField$Value');
  });

  it('schemaless: wraps the value (even null) in a map', () => {
    const record = sinkRecord({ value: 42 });
    expect(transform(HoistFieldValue, { field: 'n' })(record)).toStrictEqual({ ...record, value: { n: 42 } });
    expect(transform(HoistFieldValue, { field: 'n' })(sinkRecord({ value: null }))?.value).toStrictEqual({ n: null });
  });

  it('with a schema: wraps value and schema in a one-field struct', () => {
    const record = sinkRecord({ value: 'abc', valueSchema: { type: 'string', optional: true } });
    expect(transform(HoistFieldValue, { field: 'line' })(record)).toStrictEqual({
      ...record,
      value: { line: 'abc' },
      valueSchema: { type: 'struct', fields: [{ field: 'line', type: 'string', optional: true }] },
    });
  });

  it('Key: wraps the key', () => {
    const record = sinkRecord({ key: 7, keySchema: { type: 'int32' }, value: 'v' });
    expect(transform(HoistFieldKey, { field: 'id' })(record)).toStrictEqual({
      ...record,
      key: { id: 7 },
      keySchema: { type: 'struct', fields: [{ field: 'id', type: 'int32' }] },
    });
    const schemaless = sinkRecord({ key: 'k', value: 'v' });
    expect(transform(HoistFieldKey, { field: 'id' })(schemaless)).toStrictEqual({ ...schemaless, key: { id: 'k' } });
  });

  it('requires field', () => {
    expect(() => HoistFieldValue.create({})).toThrow('Invalid configuration: field: Missing required configuration "field"');
  });
});
