import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { CastKey, CastValue, javaDoubleToString, javaFloatToString } from '../../../runtime/transforms/cast.ts';
import { sinkRecord, transform } from './helpers.ts';

const TIMESTAMP = 'org.apache.kafka.connect.data.Timestamp';

describe('Cast$Value schemaless', () => {
  it('is Connect\'s Cast$Value', () => {
    expect(CastValue.className).toBe('org.apache.kafka.connect.transforms.Cast$Value');
    expect(CastValue.config.names).toEqual(['spec', 'replace.null.with.default']);
  });

  it('casts fields of a map with Java\'s conversions', () => {
    const record = sinkRecord({
      value: { a: '42', b: 300, c: -1.9, d: 'TRUE', e: 0, f: 1.5, g: true, h: Buffer.from('hi'), i: ' 2.5 ', j: 'yes', keep: 'x' },
    });
    const spec = 'a:int32,b:int8,c:int16,d:boolean,e:boolean,f:string,g:int64,h:string,i:float32,j:boolean,missing:int32';
    expect(transform(CastValue, { spec })(record)).toStrictEqual({
      ...record,
      value: { a: 42, b: 44, c: -1, d: true, e: false, f: '1.5', g: 1, h: 'aGk=', i: 2.5, j: false, keep: 'x', missing: null },
    });
  });

  it('casts the whole value', () => {
    expect(transform(CastValue, { spec: 'int64' })(sinkRecord({ value: '9223372036854775807' }))?.value).toBe(9223372036854775807n);
    expect(transform(CastValue, { spec: 'int64' })(sinkRecord({ value: '-12' }))?.value).toBe(-12);
    expect(transform(CastValue, { spec: 'string' })(sinkRecord({ value: 12 }))?.value).toBe('12');
    expect(transform(CastValue, { spec: 'float64' })(sinkRecord({ value: 'NaN' }))?.value).toBeNaN();
    // A fractional number is a Java double: (int) saturates. A whole number is a Java long: it wraps.
    expect(transform(CastValue, { spec: 'int32' })(sinkRecord({ value: 9.9e9 + 0.5 }))?.value).toBe(2147483647);
    expect(transform(CastValue, { spec: 'int32' })(sinkRecord({ value: 9.9e9 }))?.value).toBe(1310065408);
    expect(transform(CastValue, { spec: 'int32' })(sinkRecord({ value: 2 ** 32 + 5 }))?.value).toBe(5);
  });

  it('passes a tombstone through', () => {
    const record = sinkRecord({ value: null });
    expect(transform(CastValue, { spec: 'a:int8' })(record)).toBe(record);
  });

  it('throws a DataError naming the field and what was wrong', () => {
    const cast = (spec: string, value: unknown) => () => transform(CastValue, { spec })(sinkRecord({ value }));
    expect(cast('a:int32', { a: 'abc' })).toThrow(DataError);
    expect(cast('a:int32', { a: 'abc' })).toThrow('Cast$Value: cannot cast field "a" ("abc") to int32: not a whole number.');
    expect(cast('a:int8', { a: '300' })).toThrow('Cast$Value: cannot cast field "a" ("300") to int8: out of range for int8.');
    expect(cast('a:float64', { a: '1,5' })).toThrow('Cast$Value: cannot cast field "a" ("1,5") to float64: not a number.');
    expect(cast('a:int32', { a: Buffer.from('x') })).toThrow('Cast$Value: cannot cast field "a" (bytes) to int32: bytes can only be cast to string.');
    expect(cast('a:string', { a: { nested: 1 } })).toThrow(
      'Cast$Value: cannot cast field "a" (an object) to string: Cast does not support casting from map; supported types are int8, int16, int32, int64, float32, float64, boolean, string, bytes.',
    );
    expect(cast('int32', [1])).toThrow('Cast$Value: cannot cast the record value (an array) to int32: Cast does not support casting from array');
    expect(cast('a:int32', 'text')).toThrow('Cast$Value: Casting fields needs the record value to be an object (a map) when it has no schema, but it is a string.');
  });
});

describe('Cast$Value with a schema', () => {
  it('casts struct fields and updates their schemas (optional and default carried over, default cast)', () => {
    const valueSchema: Schema = {
      type: 'struct', name: 'v', doc: 'd',
      fields: [
        { field: 'a', type: 'int32' },
        { field: 'b', type: 'float64', doc: 'lost, as in Connect' },
        { field: 'c', type: 'int64', optional: true, default: 5 },
        { field: 'f', type: 'float32' },
        { field: 'keep', type: 'string' },
      ],
    };
    const record = sinkRecord({ value: { a: 7, b: 2, c: null, f: Math.fround(0.1), keep: 'k' }, valueSchema });
    expect(transform(CastValue, { spec: 'a:string,b:string,c:string,f:string' })(record)).toStrictEqual({
      ...record,
      valueSchema: {
        type: 'struct', name: 'v', doc: 'd',
        fields: [
          { field: 'a', type: 'string' },
          { field: 'b', type: 'string' },
          { field: 'c', type: 'string', optional: true, default: '5' },
          { field: 'f', type: 'string' },
          { field: 'keep', type: 'string' },
        ],
      },
      value: { a: '7', b: '2.0', c: '5', f: '0.1', keep: 'k' },
    });
    expect(transform(CastValue, { spec: 'c:string', 'replace.null.with.default': 'false' })(record)?.value)
      .toStrictEqual({ a: 7, b: 2, c: null, f: Math.fround(0.1), keep: 'k' });
  });

  it('casts logical timestamps to their number encoding or to an ISO string', () => {
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'at', type: 'int64', name: TIMESTAMP, version: 1 }] };
    const at = new Date(Date.UTC(2024, 0, 15, 10, 30));
    const record = sinkRecord({ value: { at }, valueSchema });
    expect(transform(CastValue, { spec: 'at:int64' })(record)?.value).toStrictEqual({ at: at.getTime() });
    expect(transform(CastValue, { spec: 'at:string' })(record)?.value).toStrictEqual({ at: '2024-01-15T10:30:00.000Z' });
  });

  it('casts the whole value and its schema; a logical type loses its name', () => {
    const record = sinkRecord({ value: 70000, valueSchema: { type: 'int64', optional: true, name: 'my.Id', default: 1 } });
    expect(transform(CastValue, { spec: 'int16' })(record)).toStrictEqual({
      ...record,
      value: 4464,
      valueSchema: { type: 'int16', name: 'my.Id', optional: true, default: 1 },
    });
    const ts = sinkRecord({ value: new Date(86_400_000), valueSchema: { type: 'int64', name: TIMESTAMP, version: 1 } });
    expect(transform(CastValue, { spec: 'string' })(ts)).toStrictEqual({ ...ts, value: '1970-01-02', valueSchema: { type: 'string' } });
  });

  it('casts a Decimal (a decimal string) as Connect casts a BigDecimal', () => {
    const decimal = { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '2' } } as const;
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'a', ...decimal }, { field: 'b', ...decimal }, { field: 'c', ...decimal }, { field: 'd', ...decimal }] };
    const record = sinkRecord({ value: { a: '-12.75', b: '12.75', c: '0.50', d: '99999999999999999999.00' }, valueSchema });
    expect(transform(CastValue, { spec: 'a:int32,b:float64,c:boolean,d:int64' })(record)).toStrictEqual({
      ...record,
      value: { a: -12, b: 12.75, c: false, d: 7766279631452241919n },
      valueSchema: {
        type: 'struct',
        fields: [{ field: 'a', type: 'int32' }, { field: 'b', type: 'float64' }, { field: 'c', type: 'boolean' }, { field: 'd', type: 'int64' }],
      },
    });
    expect(transform(CastValue, { spec: 'a:string' })(record)?.value).toStrictEqual({ a: '-12.75', b: '12.75', c: '0.50', d: '99999999999999999999.00' });
    expect(() => transform(CastValue, { spec: 'a:int32' })(sinkRecord({ value: { a: 'x' }, valueSchema }))).toThrow(
      'Cast$Value: cannot cast field "a" ("x") to int32: not a decimal number.',
    );
  });

  it('throws a DataError when the schema type cannot be cast', () => {
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'tags', type: 'array', items: { type: 'string' } }] };
    expect(() => transform(CastValue, { spec: 'tags:string' })(sinkRecord({ value: { tags: ['a'] }, valueSchema }))).toThrow(
      'Cast$Value: cannot cast field "tags" (an array) to string: Cast does not support casting from array',
    );
  });
});

describe('Cast$Key', () => {
  it('casts the key, schemaless and with a schema', () => {
    const record = sinkRecord({ key: '17', value: 'v' });
    expect(transform(CastKey, { spec: 'int32' })(record)).toStrictEqual({ ...record, key: 17 });
    const withSchema = sinkRecord({ key: { id: 17 }, keySchema: { type: 'struct', fields: [{ field: 'id', type: 'int64' }] }, value: 'v' });
    expect(transform(CastKey, { spec: 'id:string' })(withSchema)).toStrictEqual({
      ...withSchema, key: { id: '17' }, keySchema: { type: 'struct', fields: [{ field: 'id', type: 'string' }] },
    });
  });
});

describe('Cast config', () => {
  const fieldsOf = (config: Record<string, string>) => {
    try {
      CastValue.create(config);
    } catch (e) {
      return (e as ConfigError).fields;
    }
    return [];
  };

  it('names spec in every error', () => {
    expect(fieldsOf({ spec: 'a:bytes' })).toEqual([{
      name: 'spec',
      message: 'Invalid value "a:bytes" for configuration spec: Cast does not support casting to bytes; supported types are int8, int16, int32, int64, float32, float64, boolean, string.',
    }]);
    expect(fieldsOf({ spec: 'a:decimal' })[0].message).toContain('Invalid type found in casting spec: decimal.');
    expect(fieldsOf({ spec: 'int32,a:string' })[0].message).toContain('A cast of the entire value (a spec with a bare type) may only specify a single cast.');
    expect(fieldsOf({ spec: 'a:b:c' })[0].message).toContain('Invalid cast mapping: a:b:c.');
    expect(fieldsOf({})[0].name).toBe('spec');
  });
});

describe('Java number formatting', () => {
  it.each([
    [1, '1.0'], [1.5, '1.5'], [0, '0.0'], [-0, '-0.0'], [1e7, '1.0E7'], [1.234e-5, '1.234E-5'], [0.001, '0.001'],
    [123456.789, '123456.789'], [NaN, 'NaN'], [-Infinity, '-Infinity'], [1e21, '1.0E21'],
  ])('Double.toString(%s) = %s', (d, s) => {
    expect(javaDoubleToString(d)).toBe(s);
  });

  it('Float.toString prints the shortest float32 digits', () => {
    expect(javaFloatToString(Math.fround(0.1))).toBe('0.1');
    expect(javaFloatToString(Math.fround(3.14159))).toBe('3.14159');
    expect(javaFloatToString(Math.fround(1e10))).toBe('1.0E10');
  });
});
