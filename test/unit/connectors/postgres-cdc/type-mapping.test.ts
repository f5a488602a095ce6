import { describe, expect, it } from 'vitest';
import {
  hstoreToJson, intervalMicros, mapType, parseArrayLiteral, timestampMicros, unscaledBytes, variableScaleDecimal, zonedTime, zonedTimestamp,
} from '../../../../connectors/postgres-cdc/type-mapping.ts';

const none = () => undefined;

describe('Postgres type mapping (Debezium defaults)', () => {
  it('timestamps: MicroTimestamp micros, ZonedTimestamp in UTC, BC and infinity', () => {
    expect(timestampMicros('1970-01-01 00:00:01.5')).toBe(1_500_000);
    expect(timestampMicros('2024-05-01 10:00:00.123456')).toBe(Date.UTC(2024, 4, 1, 10) * 1000 + 123456);
    expect(timestampMicros('infinity')).toBe(9223372036854775807n);
    expect(zonedTimestamp('2024-05-01 12:00:00.5+02')).toBe('2024-05-01T10:00:00.5Z');
    expect(zonedTimestamp('2024-05-01 10:00:00+00')).toBe('2024-05-01T10:00:00Z');
    expect(zonedTimestamp('2024-05-01 10:00:00.000001+00')).toBe('2024-05-01T10:00:00.000001Z');
    expect(zonedTime('10:15:30.25+02')).toBe('08:15:30.25Z');
    const bc = new Date(0);
    bc.setUTCFullYear(-43, 2, 15); // 44 BC is year -43 (there is no year 0)
    expect(timestampMicros('0044-03-15 00:00:00 BC')).toBe(BigInt(bc.getTime()) * 1000n); // beyond 2^53 micros: exact as a bigint
  });

  it('intervals as micros with 365.25/12-day months', () => {
    expect(intervalMicros('P1DT2H')).toBe(26 * 3600 * 1e6);
    expect(intervalMicros('P1M')).toBe(Math.round((365.25 / 12) * 86400 * 1e6));
    expect(intervalMicros('PT-1.5S')).toBe(-1_500_000);
  });

  it('numeric: Decimal with scale and precision, VariableScaleDecimal without', () => {
    const fixed = mapType(1700, ((12 << 16) | 3) + 4, none);
    expect(fixed.schema.parameters).toEqual({ scale: '3', 'connect.decimal.precision': '12' });
    expect(fixed.convert('12.500')).toBe('12.500');
    expect(variableScaleDecimal('-3.14159')).toEqual({ scale: 5, value: unscaledBytes(-314159n) });
    expect(unscaledBytes(128n)).toEqual(Buffer.from([0x00, 0x80]));
    expect(unscaledBytes(-128n)).toEqual(Buffer.from([0x80]));
    expect(unscaledBytes(-129n)).toEqual(Buffer.from([0xff, 0x7f]));
    expect(unscaledBytes(0n)).toEqual(Buffer.from([0]));
  });

  it('arrays, enums, domains, hstore', () => {
    expect(parseArrayLiteral('{1,NULL,3}')).toEqual(['1', null, '3']);
    expect(parseArrayLiteral('{"a \\"b\\"",c}')).toEqual(['a "b"', 'c']);
    expect(parseArrayLiteral('{}')).toEqual([]);
    expect(mapType(1007, -1, none).convert('{1,2}')).toEqual([1, 2]);
    const lookup = (oid: number) => (oid === 90000
      ? { oid, name: 'mood', kind: 'e', elem: 0, base: 0, baseTypeMod: -1, labels: ['a', 'b'] }
      : oid === 90001 ? { oid, name: 'posint', kind: 'd', elem: 0, base: 23, baseTypeMod: -1, labels: [] } : undefined);
    expect(mapType(90000, -1, lookup).schema).toMatchObject({ name: 'io.debezium.data.Enum', parameters: { allowed: 'a,b' } });
    expect(mapType(90001, -1, lookup).schema.type).toBe('int32');
    expect(JSON.parse(hstoreToJson('"a"=>"1", "b"=>NULL'))).toEqual({ a: '1', b: null });
  });

  it('int8 beyond 2^53 stays exact as a bigint; bytea hex', () => {
    expect(mapType(20, -1, none).convert('9007199254740993')).toBe(9007199254740993n);
    expect(mapType(17, -1, none).convert('\\x00ff')).toEqual(Buffer.from([0, 255]));
  });
});
