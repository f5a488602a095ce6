import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../../runtime/api/errors.ts';
import type { Schema } from '../../../runtime/api/records.ts';
import { TimestampConverterKey, TimestampConverterValue } from '../../../runtime/transforms/timestamp-converter.ts';
import { sinkRecord, transform } from './helpers.ts';

const MS = Date.UTC(2024, 0, 15, 10, 30, 5, 123);
const TIMESTAMP = { type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp', version: 1 } as const;
const DATE = { type: 'int32', name: 'org.apache.kafka.connect.data.Date', version: 1 } as const;
const TIME = { type: 'int32', name: 'org.apache.kafka.connect.data.Time', version: 1 } as const;

const convert = (config: Record<string, string>, value: unknown) => transform(TimestampConverterValue, config)(sinkRecord({ value }))?.value;

describe('TimestampConverter$Value schemaless, whole value', () => {
  it('is Connect\'s TimestampConverter$Value', () => {
    expect(TimestampConverterValue.className).toBe('org.apache.kafka.connect.transforms.TimestampConverter$Value');
    expect(TimestampConverterValue.config.names).toEqual(['field', 'target.type', 'format', 'unix.precision', 'replace.null.with.default']);
  });

  it('converts between unix, string, Timestamp, Date and Time', () => {
    const fmt = "yyyy-MM-dd'T'HH:mm:ss.SSSX";
    expect(convert({ 'target.type': 'string', format: fmt }, MS)).toBe('2024-01-15T10:30:05.123Z');
    expect(convert({ 'target.type': 'unix', format: fmt }, '2024-01-15T11:30:05.123+01')).toBe(MS);
    expect(convert({ 'target.type': 'Timestamp', format: fmt }, '2024-01-15T10:30:05.123Z')).toStrictEqual(new Date(MS));
    expect(convert({ 'target.type': 'unix' }, new Date(MS))).toBe(MS);
    expect(convert({ 'target.type': 'Date' }, MS)).toStrictEqual(new Date(Date.UTC(2024, 0, 15)));
    expect(convert({ 'target.type': 'Time' }, MS)).toStrictEqual(new Date(Date.UTC(1970, 0, 1, 10, 30, 5, 123)));
    expect(convert({ 'target.type': 'Timestamp' }, null)).toBeNull();
  });

  it('reads and writes unix time in the configured precision', () => {
    expect(convert({ 'target.type': 'Timestamp', 'unix.precision': 'seconds' }, 1705314605)).toStrictEqual(new Date(1705314605000));
    expect(convert({ 'target.type': 'Timestamp', 'unix.precision': 'microseconds' }, 1705314605123456)).toStrictEqual(new Date(MS));
    expect(convert({ 'target.type': 'Timestamp', 'unix.precision': 'nanoseconds' }, 1705314605123456789n)).toStrictEqual(new Date(MS));
    expect(convert({ 'target.type': 'unix', 'unix.precision': 'seconds' }, new Date(MS))).toBe(1705314605);
    expect(convert({ 'target.type': 'unix', 'unix.precision': 'microseconds' }, new Date(MS))).toBe(1705314605123000);
    expect(convert({ 'target.type': 'unix', 'unix.precision': 'nanoseconds' }, new Date(MS))).toBe(1705314605123000000n);
  });
});

describe('TimestampConverter$Value schemaless, one field', () => {
  it('converts the field and keeps the others', () => {
    const record = sinkRecord({ value: { at: MS, id: 1 } });
    expect(transform(TimestampConverterValue, { field: 'at', 'target.type': 'string', format: 'yyyy-MM-dd' })(record)).toStrictEqual({
      ...record,
      value: { at: '2024-01-15', id: 1 },
    });
    expect(convert({ field: 'at', 'target.type': 'unix' }, { id: 1 })).toStrictEqual({ id: 1, at: null });
  });

  it('throws a DataError for values it cannot read as timestamps', () => {
    expect(() => convert({ field: 'at', 'target.type': 'unix', format: 'yyyy-MM-dd' }, { at: '15/01/2024' })).toThrow(
      'TimestampConverter$Value: could not parse timestamp in field "at": value (15/01/2024) does not match pattern (yyyy-MM-dd).',
    );
    expect(() => convert({ field: 'at', 'target.type': 'unix' }, { at: '2024-01-15' })).toThrow(
      'TimestampConverter$Value: field "at" is a string timestamp, but no format is configured to parse it; set format.',
    );
    expect(() => convert({ field: 'at', 'target.type': 'unix' }, { at: true })).toThrow(
      'TimestampConverter$Value: field "at" is a boolean, which TimestampConverter does not support as a timestamp.',
    );
    expect(() => convert({ field: 'at', 'target.type': 'unix' }, 'not a map')).toThrow(DataError);
  });
});

describe('TimestampConverter$Value with a schema', () => {
  const valueSchema: Schema = {
    type: 'struct', name: 'v', optional: true,
    fields: [{ field: 'at', type: 'int64' }, { field: 'day', ...DATE, optional: true }, { field: 'id', type: 'int32' }],
  };

  it('converts a field and its schema', () => {
    const record = sinkRecord({ value: { at: MS, day: new Date(Date.UTC(2024, 0, 15)), id: 1 }, valueSchema });
    expect(transform(TimestampConverterValue, { field: 'at', 'target.type': 'Timestamp' })(record)).toStrictEqual({
      ...record,
      valueSchema: {
        type: 'struct', name: 'v', optional: true,
        fields: [{ field: 'at', ...TIMESTAMP }, { field: 'day', ...DATE, optional: true }, { field: 'id', type: 'int32' }],
      },
      value: { at: new Date(MS), day: new Date(Date.UTC(2024, 0, 15)), id: 1 },
    });
    expect(transform(TimestampConverterValue, { field: 'day', 'target.type': 'string', format: 'dd.MM.yyyy' })(record)).toStrictEqual({
      ...record,
      valueSchema: {
        type: 'struct', name: 'v', optional: true,
        fields: [{ field: 'at', type: 'int64' }, { field: 'day', type: 'string', optional: true }, { field: 'id', type: 'int32' }],
      },
      value: { at: MS, day: '15.01.2024', id: 1 },
    });
  });

  it('accepts a logical value in its wire encoding (days for Date)', () => {
    const record = sinkRecord({ value: { at: MS, day: 19737, id: 1 }, valueSchema });
    expect(transform(TimestampConverterValue, { field: 'day', 'target.type': 'unix' })(record)?.value).toStrictEqual({ at: MS, day: 1705276800000, id: 1 });
  });

  it('keeps a null struct null, with the updated schema', () => {
    const record = sinkRecord({ value: null, valueSchema });
    expect(transform(TimestampConverterValue, { field: 'at', 'target.type': 'Date' })(record)?.valueSchema?.fields?.[0]).toStrictEqual({ field: 'at', ...DATE });
    expect(transform(TimestampConverterValue, { field: 'at', 'target.type': 'Date' })(record)?.value).toBeNull();
  });

  it('converts a whole value and replaces its schema', () => {
    const record = sinkRecord({ value: new Date(MS), valueSchema: { ...TIMESTAMP, optional: true } });
    expect(transform(TimestampConverterValue, { 'target.type': 'Time' })(record)).toStrictEqual({
      ...record,
      value: new Date(Date.UTC(1970, 0, 1, 10, 30, 5, 123)),
      valueSchema: { ...TIME, optional: true },
    });
    const text = sinkRecord({ value: '2024-01-15', valueSchema: { type: 'string' } });
    expect(transform(TimestampConverterValue, { 'target.type': 'unix', format: 'yyyy-MM-dd' })(text)).toStrictEqual({
      ...text, value: Date.UTC(2024, 0, 15), valueSchema: { type: 'int64' },
    });
  });

  it('throws a DataError when the schema is not a timestamp type', () => {
    const record = sinkRecord({ value: { at: true }, valueSchema: { type: 'struct', fields: [{ field: 'at', type: 'boolean' }] } });
    expect(() => transform(TimestampConverterValue, { field: 'at', 'target.type': 'unix' })(record)).toThrow(
      'TimestampConverter$Value: the schema of field "at" (type boolean) is not a known timestamp type: expected a string, an int64, or a Date, Time or Timestamp.',
    );
  });
});

describe('TimestampConverter$Key', () => {
  it('converts the key', () => {
    const record = sinkRecord({ key: MS, keySchema: { type: 'int64' }, value: 'v' });
    expect(transform(TimestampConverterKey, { 'target.type': 'string', format: 'yyyy' })(record)).toStrictEqual({
      ...record, key: '2024', keySchema: { type: 'string' },
    });
    const schemaless = sinkRecord({ key: { at: MS }, value: 'v' });
    expect(transform(TimestampConverterKey, { field: 'at', 'target.type': 'Date' })(schemaless)).toStrictEqual({
      ...schemaless, key: { at: new Date(Date.UTC(2024, 0, 15)) },
    });
  });
});

describe('TimestampConverter config', () => {
  const fieldsOf = (config: Record<string, string>) => {
    try {
      TimestampConverterValue.create(config);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).fields;
    }
    return [];
  };

  it('names the bad key', () => {
    expect(fieldsOf({ 'target.type': 'string' })).toEqual([{
      name: 'format', message: "TimestampConverter needs format to be set when target.type is string, e.g. yyyy-MM-dd'T'HH:mm:ss.SSSX.",
    }]);
    expect(fieldsOf({ 'target.type': 'unix', format: 'yyyy-MM-ddTHH' })[0]).toEqual({
      name: 'format',
      message: "Not a SimpleDateFormat-compatible pattern: Illegal pattern character 'T' in date pattern \"yyyy-MM-ddTHH\"; quote literal text, e.g. 'T'.",
    });
    expect(fieldsOf({ 'target.type': 'timestamp' })).toEqual([{
      name: 'target.type', message: 'Invalid value "timestamp" for configuration target.type: Must be one of string, unix, Date, Time, Timestamp.',
    }]);
    expect(fieldsOf({ 'target.type': 'unix', 'unix.precision': 'hours' })[0].name).toBe('unix.precision');
    expect(fieldsOf({})[0].name).toBe('target.type');
  });
});
