import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { DropHeaders } from '../../../runtime/transforms/drop-headers.ts';
import { HeaderFromKey, HeaderFromValue } from '../../../runtime/transforms/header-from.ts';
import { InsertHeader, parseLiteral } from '../../../runtime/transforms/insert-header.ts';
import { sinkRecord, sourceRecord, transform } from './helpers.ts';

describe('InsertHeader', () => {
  it('is Connect\'s InsertHeader', () => {
    expect(InsertHeader.className).toBe('org.apache.kafka.connect.transforms.InsertHeader');
    expect(InsertHeader.config.names).toEqual(['header', 'value.literal']);
  });

  it('appends a header after the existing ones', () => {
    const record = sourceRecord({ value: 1, headers: [{ key: 'a', value: 'x' }] });
    expect(transform(InsertHeader, { header: 'source', 'value.literal': 'tributary' })(record)).toStrictEqual({
      ...record, headers: [{ key: 'a', value: 'x' }, { key: 'source', value: 'tributary' }],
    });
    const bare = sourceRecord({ value: 1 });
    expect(transform(InsertHeader, { header: 'n', 'value.literal': '42' })(bare)).toStrictEqual({ ...bare, headers: [{ key: 'n', value: 42 }] });
  });

  it('reads the literal as Connect\'s Values.parseString does', () => {
    expect(parseLiteral('true')).toBe(true);
    expect(parseLiteral('null')).toBeNull();
    expect(parseLiteral('-3.5')).toBe(-3.5);
    expect(parseLiteral('12345678901234567890')).toBe(12345678901234567890n);
    expect(parseLiteral('[1,2]')).toEqual([1, 2]);
    expect(parseLiteral('{"a":1}')).toEqual({ a: 1 });
    expect(parseLiteral('[not json')).toBe('[not json');
    expect(parseLiteral('')).toBe('');
    expect(parseLiteral('hello world')).toBe('hello world');
  });

  it('requires header and value.literal', () => {
    expect(() => InsertHeader.create({ header: 'h' })).toThrow('Invalid configuration: value.literal: Missing required configuration "value.literal"');
  });
});

describe('DropHeaders', () => {
  it('removes every header with a listed name, keeping the order of the rest', () => {
    expect(DropHeaders.className).toBe('org.apache.kafka.connect.transforms.DropHeaders');
    const record = sinkRecord({ value: 1, headers: [{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { key: 'a', value: 3 }, { key: 'c', value: 4 }] });
    expect(transform(DropHeaders, { headers: 'a,c' })(record)).toStrictEqual({ ...record, headers: [{ key: 'b', value: 2 }] });
    const bare = sinkRecord({ value: 1 });
    expect(transform(DropHeaders, { headers: 'a' })(bare)).toStrictEqual({ ...bare, headers: [] });
  });

  it('requires a non-empty headers list', () => {
    expect(() => DropHeaders.create({ headers: ' , ' })).toThrow('Invalid configuration: headers: Invalid value " , " for configuration headers: Must not be empty.');
  });
});

describe('HeaderFrom', () => {
  it('is Connect\'s HeaderFrom$Key / $Value', () => {
    expect(HeaderFromValue.className).toBe('org.apache.kafka.connect.transforms.HeaderFrom$Value');
    expect(HeaderFromKey.className).toBe('org.apache.kafka.connect.transforms.HeaderFrom$Key');
  });

  it('schemaless: copies or moves fields into headers', () => {
    const record = sinkRecord({ value: { id: 1, tenant: 't', trace: 'abc' }, headers: [{ key: 'x', value: 0 }] });
    expect(transform(HeaderFromValue, { fields: 'tenant,trace', headers: 'tenant-id,trace-id', operation: 'copy' })(record)).toStrictEqual({
      ...record,
      headers: [{ key: 'x', value: 0 }, { key: 'tenant-id', value: 't' }, { key: 'trace-id', value: 'abc' }],
    });
    expect(transform(HeaderFromValue, { fields: 'tenant,missing', headers: 'tenant-id,m', operation: 'move' })(record)).toStrictEqual({
      ...record,
      value: { id: 1, trace: 'abc' },
      headers: [{ key: 'x', value: 0 }, { key: 'tenant-id', value: 't' }, { key: 'm', value: null }],
    });
  });

  it('with a schema: move drops the fields from the schema and value; copy leaves both', () => {
    const valueSchema: Schema = {
      type: 'struct', name: 'v', fields: [{ field: 'id', type: 'int32' }, { field: 'tenant', type: 'string', optional: true, default: 'main' }],
    };
    const record = sinkRecord({ value: { id: 1, tenant: null }, valueSchema });
    expect(transform(HeaderFromValue, { fields: 'tenant', headers: 'tenant', operation: 'move' })(record)).toStrictEqual({
      ...record,
      value: { id: 1 },
      valueSchema: { type: 'struct', name: 'v', fields: [{ field: 'id', type: 'int32' }] },
      headers: [{ key: 'tenant', value: 'main' }],
    });
    expect(transform(HeaderFromValue, { fields: 'tenant', headers: 'tenant', operation: 'copy', 'replace.null.with.default': 'false' })(record))
      .toStrictEqual({ ...record, headers: [{ key: 'tenant', value: null }] });
    expect(() => transform(HeaderFromValue, { fields: 'nope', headers: 'h', operation: 'copy' })(record)).toThrow(
      'HeaderFrom$Value: field "nope" (from fields) is not in the record value schema.',
    );
  });

  it('Key: takes fields from the key', () => {
    const record = sinkRecord({ key: { id: 7, region: 'eu' }, value: 'v' });
    expect(transform(HeaderFromKey, { fields: 'region', headers: 'region', operation: 'move' })(record)).toStrictEqual({
      ...record, key: { id: 7 }, headers: [{ key: 'region', value: 'eu' }],
    });
  });

  it('throws a DataError for a value that is not a map', () => {
    expect(() => transform(HeaderFromValue, { fields: 'a', headers: 'a', operation: 'copy' })(sinkRecord({ value: null }))).toThrow(
      'HeaderFrom$Value: Copying fields to headers needs the record value to be an object (a map) when it has no schema, but it is null.',
    );
  });

  it('names the bad key in config errors', () => {
    const fields = (config: Record<string, string>) => {
      try {
        HeaderFromValue.create(config);
      } catch (e) {
        return (e as ConfigError).fields;
      }
      return [];
    };
    expect(fields({ fields: 'a,b', headers: 'a', operation: 'copy' })).toEqual([{
      name: 'headers', message: "'headers' config must have the same number of elements as 'fields' config (1 headers for 2 fields).",
    }]);
    expect(fields({ fields: 'a', headers: 'a', operation: 'cut' })).toEqual([{
      name: 'operation', message: 'Invalid value "cut" for configuration operation: Must be one of move, copy.',
    }]);
  });
});
