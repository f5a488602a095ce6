import { describe, expect, it } from 'vitest';
import { DataError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { MaskFieldKey, MaskFieldValue } from '../../../runtime/transforms/mask-field.ts';
import { sinkRecord, transform } from './helpers.ts';

describe('MaskField$Value', () => {
  it('is Connect\'s MaskField$Value', () => {
    expect(MaskFieldValue.className).toBe('org.apache.kafka.connect.transforms.MaskField$Value');
  });

  it('schemaless: masks each type with its empty value; a listed field that is absent becomes null, as in Connect', () => {
    const when = new Date(Date.UTC(2024, 0, 1));
    const record = sinkRecord({
      value: { n: 12.5, big: 9007199254740993n, b: true, s: 'secret', d: when, bytes: Buffer.from('x'), list: [1], map: { a: 1 }, keep: 'k', nothing: null },
    });
    const fields = 'n,big,b,s,d,bytes,list,map,nothing,absent';
    expect(transform(MaskFieldValue, { fields })(record)).toStrictEqual({
      ...record,
      value: { n: 0, big: 0n, b: false, s: '', d: new Date(0), bytes: Buffer.alloc(0), list: [], map: {}, keep: 'k', nothing: null, absent: null },
    });
  });

  it('schemaless: a replacement applies to strings and numbers', () => {
    const record = sinkRecord({ value: { s: 'secret', i: 7, f: 1.5 } });
    expect(transform(MaskFieldValue, { fields: 's,i,f', replacement: '12.75' })(record)?.value).toStrictEqual({ s: '12.75', i: 12, f: 12.75 });
  });

  it('with a schema: masks by field, keeps the schema, and converts the replacement to the field type', () => {
    const valueSchema: Schema = {
      type: 'struct',
      fields: [
        { field: 'ssn', type: 'string' }, { field: 'age', type: 'int8' }, { field: 'score', type: 'float32' },
        { field: 'id', type: 'int64' }, { field: 'opt', type: 'string', optional: true, default: 'dflt' },
      ],
    };
    const record = sinkRecord({ value: { ssn: '123-45', age: 42, score: 1, id: 5, opt: null }, valueSchema });
    expect(transform(MaskFieldValue, { fields: 'ssn,age,score,opt' })(record)).toStrictEqual({
      ...record,
      value: { ssn: '', age: 0, score: 0, id: 5, opt: '' },
    });
    expect(transform(MaskFieldValue, { fields: 'age,score', replacement: '0.1' })(record)?.value).toStrictEqual({
      ssn: '123-45', age: 0, score: Math.fround(0.1), id: 5, opt: 'dflt',
    });
    expect(transform(MaskFieldValue, { fields: 'opt', 'replace.null.with.default': 'false' })(record)?.value).toStrictEqual({
      ssn: '123-45', age: 42, score: 1, id: 5, opt: null,
    });
  });

  it('with a schema: masks a Decimal (a decimal string) to "0" or a decimal replacement', () => {
    const decimal = { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '2' } } as const;
    const valueSchema: Schema = { type: 'struct', fields: [{ field: 'price', ...decimal }] };
    const record = sinkRecord({ value: { price: '12.30' }, valueSchema });
    expect(transform(MaskFieldValue, { fields: 'price' })(record)).toStrictEqual({ ...record, value: { price: '0' } });
    expect(transform(MaskFieldValue, { fields: 'price', replacement: '1.00' })(record)?.value).toStrictEqual({ price: '1.00' });
    expect(() => transform(MaskFieldValue, { fields: 'price', replacement: 'n/a' })(record)).toThrow(
      'MaskField$Value: cannot mask Decimal field "price" with replacement "n/a": it is not a decimal number.',
    );
  });

  it('throws a DataError when a field cannot be masked', () => {
    const structSchema: Schema = { type: 'struct', fields: [{ field: 'inner', type: 'struct', fields: [{ field: 'x', type: 'int32' }] }] };
    expect(() => transform(MaskFieldValue, { fields: 'inner' })(sinkRecord({ value: { inner: { x: 1 } }, valueSchema: structSchema }))).toThrow(
      'MaskField$Value: cannot mask field "inner": it holds a struct, which has no empty value.',
    );
    expect(() => transform(MaskFieldValue, { fields: 'b', replacement: 'x' })(sinkRecord({ value: { b: true } }))).toThrow(
      'MaskField$Value: cannot mask field "b" with a custom replacement: it holds a boolean; a replacement applies to numbers and strings only.',
    );
    expect(() => transform(MaskFieldValue, { fields: 'n', replacement: 'abc' })(sinkRecord({ value: { n: 1 } }))).toThrow(
      'MaskField$Value: cannot mask numeric field "n" with replacement "abc": it is not a number.',
    );
  });

  it('throws a DataError on a tombstone, as Connect does (guard it with RecordIsTombstone)', () => {
    expect(() => transform(MaskFieldValue, { fields: 'a' })(sinkRecord({ value: null }))).toThrow(DataError);
  });

  it('refuses an empty fields list and an empty replacement, naming the key', () => {
    expect(() => MaskFieldValue.create({ fields: '' })).toThrow('Invalid configuration: fields: Missing required configuration "fields"');
    expect(() => MaskFieldValue.create({ fields: 'a', replacement: '' })).toThrow(
      'Invalid configuration: replacement: Invalid value "" for configuration replacement: Must not be empty.',
    );
  });
});

describe('MaskField$Key', () => {
  it('masks key fields, schemaless and with a schema', () => {
    const record = sinkRecord({ key: { email: 'a@b.c', id: 1 }, value: 'v' });
    expect(transform(MaskFieldKey, { fields: 'email' })(record)).toStrictEqual({ ...record, key: { email: '', id: 1 } });
    const keySchema: Schema = { type: 'struct', fields: [{ field: 'email', type: 'string' }] };
    const withSchema = sinkRecord({ key: { email: 'a@b.c' }, keySchema, value: 'v' });
    expect(transform(MaskFieldKey, { fields: 'email', replacement: '***' })(withSchema)).toStrictEqual({ ...withSchema, key: { email: '***' } });
  });
});
