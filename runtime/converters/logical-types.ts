/**
 * Kafka Connect's logical types and their in-memory values in Tributary:
 *
 * | logical type                              | schema type | encoded as                          | value in records                         |
 * |-------------------------------------------|-------------|-------------------------------------|------------------------------------------|
 * | `org.apache.kafka.connect.data.Decimal`   | bytes       | two's-complement big-endian unscaled | a decimal string at the schema's scale ("12.30") |
 * | `org.apache.kafka.connect.data.Date`      | int32       | days since the epoch                 | a Date at midnight UTC                   |
 * | `org.apache.kafka.connect.data.Time`      | int32       | milliseconds since midnight          | a Date on 1970-01-01 UTC                 |
 * | `org.apache.kafka.connect.data.Timestamp` | int64       | milliseconds since the epoch         | a Date                                   |
 *
 * Decimals are strings because JavaScript has no exact decimal type; strings keep every digit.
 * Writers also accept numbers and bigints for decimals, and epoch numbers for the time types.
 */
import { DataError } from '../api/index.ts';
import type { Schema } from '../api/index.ts';

export const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
export const DATE = 'org.apache.kafka.connect.data.Date';
export const TIME = 'org.apache.kafka.connect.data.Time';
export const TIMESTAMP = 'org.apache.kafka.connect.data.Timestamp';
export const DECIMAL_SCALE = 'scale';

export const MS_PER_DAY = 86_400_000;

/** Schemas as Kafka Connect's `Decimal.schema(scale)`, `Date.SCHEMA`, `Time.SCHEMA`, `Timestamp.SCHEMA` build them. */
export function decimalSchema(scale: number, options: { optional?: boolean } = {}): Schema {
  return { type: 'bytes', optional: options.optional ?? false, name: DECIMAL, version: 1, parameters: { [DECIMAL_SCALE]: String(scale) } };
}
export function dateSchema(options: { optional?: boolean } = {}): Schema {
  return { type: 'int32', optional: options.optional ?? false, name: DATE, version: 1 };
}
export function timeSchema(options: { optional?: boolean } = {}): Schema {
  return { type: 'int32', optional: options.optional ?? false, name: TIME, version: 1 };
}
export function timestampSchema(options: { optional?: boolean } = {}): Schema {
  return { type: 'int64', optional: options.optional ?? false, name: TIMESTAMP, version: 1 };
}

/** The `scale` parameter of a Decimal schema; a DataError when it is missing or not an integer. */
export function decimalScale(schema: Schema): number {
  const raw = schema.parameters?.[DECIMAL_SCALE];
  const scale = raw === undefined ? NaN : Number(raw);
  if (!Number.isInteger(scale)) {
    throw new DataError(`Invalid Decimal schema: the "${DECIMAL_SCALE}" parameter is ${raw === undefined ? 'missing' : `not an integer (${JSON.stringify(raw)})`}.`);
  }
  return scale;
}

// ---- Decimal values --------------------------------------------------------------------------

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * The unscaled integer of a decimal at `scale`: "12.3" at scale 2 is 1230n. Throws (a plain
 * Error with the reason) when the value is not a decimal number or has more fraction digits than
 * the scale allows, unless those digits are zeros: precision is never silently lost.
 */
export function toUnscaled(value: string | number | bigint, scale: number): bigint {
  if (typeof value === 'bigint') return scale >= 0 ? value * 10n ** BigInt(scale) : exactDivide(value, 10n ** BigInt(-scale), String(value), scale);
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${value} is not a decimal number`);
  const text = typeof value === 'number' ? String(value) : value.trim();
  const m = DECIMAL_TEXT.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error('not a decimal number');
  const [, sign, intDigits, fracDigits = '', exp] = m;
  let digits = BigInt(intDigits + fracDigits || '0');
  if (sign === '-') digits = -digits;
  // value = digits * 10^-(fracDigits.length - exp); we want value * 10^scale.
  const shift = scale - fracDigits.length + (exp === undefined ? 0 : Number(exp));
  if (shift >= 0) return digits * 10n ** BigInt(shift);
  return exactDivide(digits, 10n ** BigInt(-shift), text, scale);
}

function exactDivide(digits: bigint, divisor: bigint, text: string, scale: number): bigint {
  if (digits % divisor !== 0n) throw new Error(`${text} has more digits after the decimal point than the schema's scale (${scale}) allows`);
  return digits / divisor;
}

/** The plain decimal string of `unscaled * 10^-scale`: (1230n, 2) is "12.30"; (-5n, 3) is "-0.005"; (12n, -2) is "1200". */
export function formatDecimal(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (unscaled * 10n ** BigInt(-scale)).toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const cut = digits.length - scale;
  return `${negative ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

/** Java's `BigInteger.toByteArray()`: the shortest big-endian two's-complement bytes. */
export function unscaledToBytes(unscaled: bigint): Buffer {
  if (unscaled >= -128n && unscaled <= 127n) return Buffer.of(Number(unscaled) & 0xff);
  // Bits needed including the sign bit, rounded up to whole bytes.
  const magnitude = unscaled < 0n ? -unscaled - 1n : unscaled;
  const length = Math.floor(magnitude.toString(2).length / 8) + 1;
  let v = BigInt.asUintN(length * 8, unscaled);
  const out = Buffer.allocUnsafe(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Java's `new BigInteger(bytes)`: big-endian two's complement. */
export function bytesToUnscaled(bytes: Uint8Array): bigint {
  if (bytes.length === 0) throw new Error('a Decimal needs at least one byte');
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes[0] & 0x80 ? v - (1n << BigInt(bytes.length * 8)) : v;
}

// ---- Dates and times -------------------------------------------------------------------------

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since the epoch of a Date at midnight UTC, a `YYYY-MM-DD` string or a day number. */
export function toEpochDays(value: unknown): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw new Error('the Date is invalid');
    if (ms % MS_PER_DAY !== 0) throw new Error('a Date logical value must be midnight UTC, with no time of day');
    return ms / MS_PER_DAY;
  }
  if (typeof value === 'string') {
    const m = ISO_DATE.exec(value);
    const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
    if (!m || new Date(ms).toISOString().slice(0, 10) !== value) throw new Error('a Date logical value given as a string must be YYYY-MM-DD');
    return ms / MS_PER_DAY;
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new Error(`a Date logical value must be a Date, a YYYY-MM-DD string or a number of days, not ${describeValue(value)}`);
}

/** Milliseconds since midnight of a Date on 1970-01-01 UTC or a millisecond number. */
export function toMillisOfDay(value: unknown): number {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!(ms >= 0 && ms < MS_PER_DAY)) throw new Error('a Time logical value must be a Date on 1970-01-01 UTC (time of day only)');
    return ms;
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new Error(`a Time logical value must be a Date or a number of milliseconds, not ${describeValue(value)}`);
}

/** Milliseconds since the epoch of a Date, a number or a bigint. */
export function toEpochMillis(value: unknown): number | bigint {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw new Error('the Date is invalid');
    return ms;
  }
  if ((typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint') return value;
  throw new Error(`a Timestamp logical value must be a Date or a number of milliseconds, not ${describeValue(value)}`);
}

/** What a value is, for error messages; never the value itself (it may be personal data or a secret). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Date) return 'a Date';
  if (value instanceof Map) return 'a Map';
  switch (typeof value) {
    case 'string': return 'a string';
    case 'number': return Number.isInteger(value) ? 'an integer' : Number.isFinite(value) ? 'a fractional number' : String(value);
    case 'bigint': return 'a bigint';
    case 'boolean': return 'a boolean';
    case 'object': return value.constructor && value.constructor !== Object ? `a ${value.constructor.name}` : 'an object';
    default: return `a ${typeof value}`;
  }
}

/**
 * A decimal number's text (possibly with an exponent) as a plain decimal string at `scale`, or at
 * its own finer scale when it has more fraction digits: reading never drops digits.
 */
export function decimalText(text: string, scale: number): string {
  const m = DECIMAL_TEXT.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error('not a decimal number');
  const natural = (m[3] ?? '').length - (m[4] === undefined ? 0 : Number(m[4]));
  const s = Math.max(scale, natural);
  return formatDecimal(toUnscaled(text, s), s);
}
