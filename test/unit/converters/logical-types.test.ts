import { describe, expect, it } from 'vitest';
import {
  bytesToUnscaled, decimalText, formatDecimal, toEpochDays, toMillisOfDay, toUnscaled, unscaledToBytes,
} from '../../../runtime/converters/logical-types.ts';

describe('Decimal encoding (Java BigInteger.toByteArray)', () => {
  const cases: Array<[bigint, number[]]> = [
    [0n, [0x00]],
    [1n, [0x01]],
    [-1n, [0xff]],
    [127n, [0x7f]],
    [128n, [0x00, 0x80]],
    [-128n, [0x80]],
    [-129n, [0xff, 0x7f]],
    [156n, [0x00, 0x9c]],
    [-156n, [0xff, 0x64]],
    [32767n, [0x7f, 0xff]],
    [32768n, [0x00, 0x80, 0x00]],
    [-32768n, [0x80, 0x00]],
  ];
  for (const [n, bytes] of cases) {
    it(`${n} <-> [${bytes.map((b) => b.toString(16)).join(' ')}]`, () => {
      expect([...unscaledToBytes(n)]).toEqual(bytes);
      expect(bytesToUnscaled(Uint8Array.from(bytes))).toBe(n);
    });
  }

  it('round-trips very large values', () => {
    const n = -(10n ** 40n) + 7n;
    expect(bytesToUnscaled(unscaledToBytes(n))).toBe(n);
  });
});

describe('decimal text', () => {
  it('scales decimal strings, numbers and bigints exactly', () => {
    expect(toUnscaled('12.3', 2)).toBe(1230n);
    expect(toUnscaled('-0.05', 2)).toBe(-5n);
    expect(toUnscaled('1e3', 0)).toBe(1000n);
    expect(toUnscaled('1.5E-1', 2)).toBe(15n);
    expect(toUnscaled(0.1, 1)).toBe(1n);
    expect(toUnscaled(12n, 2)).toBe(1200n);
    expect(toUnscaled('1200', -2)).toBe(12n);
    expect(() => toUnscaled('1.234', 2)).toThrow(/scale \(2\)/);
    expect(() => toUnscaled('abc', 2)).toThrow(/not a decimal/);
    expect(() => toUnscaled(NaN, 2)).toThrow();
  });

  it('formats plain strings at the scale', () => {
    expect(formatDecimal(1230n, 2)).toBe('12.30');
    expect(formatDecimal(-5n, 3)).toBe('-0.005');
    expect(formatDecimal(0n, 2)).toBe('0.00');
    expect(formatDecimal(12n, -2)).toBe('1200');
    expect(formatDecimal(12n, 0)).toBe('12');
  });

  it('reads at the schema scale, or finer rather than dropping digits', () => {
    expect(decimalText('10.2', 3)).toBe('10.200');
    expect(decimalText('10.2345', 2)).toBe('10.2345');
    expect(decimalText('1e-7', 2)).toBe('0.0000001');
  });
});

describe('dates and times', () => {
  it('converts Dates, ISO dates and numbers to days', () => {
    expect(toEpochDays(new Date(Date.UTC(1997, 4, 19)))).toBe(10000);
    expect(toEpochDays('1997-05-19')).toBe(10000);
    expect(toEpochDays('1969-12-31')).toBe(-1);
    expect(toEpochDays(3)).toBe(3);
    expect(() => toEpochDays('1997-02-30')).toThrow(/YYYY-MM-DD/);
    expect(() => toEpochDays(new Date(1))).toThrow(/midnight/);
  });

  it('converts Times to milliseconds of the day', () => {
    expect(toMillisOfDay(new Date(3_600_000))).toBe(3_600_000);
    expect(() => toMillisOfDay(new Date(Date.UTC(2020, 0, 1)))).toThrow(/1970-01-01/);
  });
});
