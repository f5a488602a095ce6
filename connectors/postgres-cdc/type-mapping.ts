/**
 * Postgres column types -> Kafka Connect schemas and values, as Debezium's Postgres connector maps
 * them with its defaults (decimal.handling.mode=precise, time.precision.mode=adaptive,
 * binary.handling.mode=bytes, interval.handling.mode=numeric, hstore.handling.mode=json).
 * Values arrive as the server's text output with DateStyle=ISO, TimeZone=UTC,
 * IntervalStyle=iso_8601 and extra_float_digits=3 (the session settings both connections use).
 * The README's type table documents the same mapping.
 */
import type { Schema } from '../../runtime/api/index.ts';

export interface TypeInfo {
  oid: number;
  name: string;
  /** pg_type.typtype: b(ase), e(num), d(omain), c(omposite), r(ange), m(ultirange), p(seudo). */
  kind: string;
  /** Element type of an array type, else 0. */
  elem: number;
  /** Base type of a domain, else 0. */
  base: number;
  baseTypeMod: number;
  /** Labels of an enum, in order. */
  labels: string[];
}

/** What the catalog knows about types that are not built in (enums, domains, their arrays). */
export type TypeLookup = (oid: number) => TypeInfo | undefined;

export interface ColumnMapping {
  /** The schema without `optional` (the column's nullability decides that). */
  schema: Omit<Schema, 'optional'>;
  convert: (text: string) => unknown;
  /** The value Debezium puts in a NOT NULL column whose value is unknown (a key-only before image). */
  fallback: unknown;
}

export const JSON_NAME = 'io.debezium.data.Json';
export const UUID_NAME = 'io.debezium.data.Uuid';
export const ENUM_NAME = 'io.debezium.data.Enum';
export const XML_NAME = 'io.debezium.data.Xml';
export const MICRO_TIMESTAMP = 'io.debezium.time.MicroTimestamp';
export const TIMESTAMP = 'io.debezium.time.Timestamp';
export const ZONED_TIMESTAMP = 'io.debezium.time.ZonedTimestamp';
export const DATE = 'io.debezium.time.Date';
export const MICRO_TIME = 'io.debezium.time.MicroTime';
export const TIME = 'io.debezium.time.Time';
export const ZONED_TIME = 'io.debezium.time.ZonedTime';
export const MICRO_DURATION = 'io.debezium.time.MicroDuration';
export const DECIMAL = 'org.apache.kafka.connect.data.Decimal';
export const VARIABLE_SCALE_DECIMAL = 'io.debezium.data.VariableScaleDecimal';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const identity = (s: string): string => s;
const str: ColumnMapping = { schema: { type: 'string' }, convert: identity, fallback: '' };

function int(type: 'int16' | 'int32'): ColumnMapping {
  return { schema: { type }, convert: (s) => parseInt(s, 10), fallback: 0 };
}

const int64: ColumnMapping = { schema: { type: 'int64' }, convert: toInt64, fallback: 0 };

export function toInt64(s: string): number | bigint {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : BigInt(s);
}

const float = (type: 'float32' | 'float64'): ColumnMapping => ({ schema: { type }, convert: Number, fallback: 0 });

const bool: ColumnMapping = { schema: { type: 'boolean' }, convert: (s) => s === 't', fallback: false };

const bytea: ColumnMapping = {
  schema: { type: 'bytes' },
  convert: (s) => (s.startsWith('\\x') ? Buffer.from(s.slice(2), 'hex') : unescapeBytea(s)),
  fallback: Buffer.alloc(0),
};

const named = (name: string, base: ColumnMapping = str): ColumnMapping => ({ ...base, schema: { ...base.schema, name, version: 1 } });

// ---- time ---------------------------------------------------------------------------------------

const DATE_TIME = /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::(\d\d))?)?( BC)?$/;

/** Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.ffffff][+zz[:zz]][ BC]`, as a number (exact below 2^53 µs, i.e. until year 2255) or bigint. */
export function timestampMicros(s: string): number | bigint {
  // Fast path: `YYYY-MM-DD HH:MM:SS[.f{1,6}]`, optionally `+00`, years 1000-9999.
  const len = s.length;
  if (len >= 19 && s.charCodeAt(4) === 45 && s.charCodeAt(10) === 32 && s.charCodeAt(0) !== 48) {
    let end = 19;
    let frac = 0;
    if (s.charCodeAt(19) === 46) {
      end = 20;
      while (end < len && end < 26 && s.charCodeAt(end) >= 48 && s.charCodeAt(end) <= 57) frac = frac * 10 + (s.charCodeAt(end++) - 48);
      for (let i = end - 20; i < 6; i++) frac *= 10;
    }
    if (end === len || (end + 3 === len && s.endsWith('+00'))) {
      const ms = Date.UTC(digits(s, 0, 4), digits(s, 5, 7) - 1, digits(s, 8, 10), digits(s, 11, 13), digits(s, 14, 16), digits(s, 17, 19));
      const us = ms * 1000 + frac;
      if (Number.isSafeInteger(us)) return us;
    }
  }
  if (s === 'infinity') return INT64_MAX;
  if (s === '-infinity') return INT64_MIN;
  const m = DATE_TIME.exec(s);
  if (!m) throw new Error(`not a timestamp: ${s}`);
  let year = Number(m[1]);
  if (m[12]) year = 1 - year;
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), 0);
  let ms = d.getTime();
  if (m[8]) {
    const offsetMin = (Number(m[9]) * 60 + Number(m[10] ?? 0)) * (m[8] === '-' ? -1 : 1);
    ms -= offsetMin * 60_000;
    if (m[11]) ms -= Number(m[11]) * 1000 * (m[8] === '-' ? -1 : 1);
  }
  const frac = m[7] ? Number(m[7].padEnd(6, '0')) : 0;
  const micros = ms * 1000 + frac;
  return Number.isSafeInteger(micros) ? micros : BigInt(ms) * 1000n + BigInt(frac);
}

function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + (s.charCodeAt(i) - 48);
  return n;
}

function timestampMillis(s: string): number | bigint {
  const us = timestampMicros(s);
  return typeof us === 'bigint' ? us / 1000n : Math.floor(us / 1000);
}

/** timestamptz text (TimeZone=UTC) -> ISO-8601 in UTC as Debezium's ZonedTimestamp: `2024-05-01T10:00:00.5Z`. */
export function zonedTimestamp(s: string): string {
  // Fast path: `YYYY-MM-DD HH:MM:SS[.ffffff]+00` (TimeZone=UTC; Postgres already drops trailing zeros).
  if (s.length >= 22 && s.charCodeAt(10) === 32 && s.endsWith('+00') && s.charCodeAt(4) === 45 && s.charCodeAt(0) !== 48) {
    return `${s.slice(0, 10)}T${s.slice(11, s.length - 3)}Z`;
  }
  if (s === 'infinity' || s === '-infinity') return s;
  const us = timestampMicros(s);
  const n = typeof us === 'bigint' ? Number(us) : us;
  const ms = Math.floor(n / 1000);
  const frac = Math.round(n - ms * 1000);
  const iso = new Date(ms).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ
  let fraction = (iso.slice(20, 23) + String(frac).padStart(3, '0')).replace(/0+$/, '');
  if (fraction) fraction = `.${fraction}`;
  return `${iso.slice(0, 19)}${fraction}Z`;
}

export function epochDays(s: string): number {
  if (s === 'infinity') return 2147483647;
  if (s === '-infinity') return -2147483648;
  const us = timestampMicros(s);
  return Math.floor(Number(us) / 86_400_000_000);
}

const TIME_RE = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?/;

export function timeMicros(s: string): number {
  const m = TIME_RE.exec(s);
  if (!m) throw new Error(`not a time: ${s}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1_000_000 + (m[4] ? Number(m[4].padEnd(6, '0')) : 0);
}

/** timetz text -> Debezium's ZonedTime, the time in UTC: `10:15:30.5Z`. */
export function zonedTime(s: string): string {
  const m = /^(\d\d:\d\d:\d\d(?:\.\d+)?)([+-])(\d\d)(?::?(\d\d))?(?::(\d\d))?$/.exec(s);
  if (!m) throw new Error(`not a time with time zone: ${s}`);
  const sign = m[2] === '-' ? -1 : 1;
  const offsetUs = sign * ((Number(m[3]) * 60 + Number(m[4] ?? 0)) * 60 + Number(m[5] ?? 0)) * 1_000_000;
  const day = 86_400_000_000;
  const utc = (((timeMicros(m[1]) - offsetUs) % day) + day) % day;
  const secs = Math.floor(utc / 1_000_000);
  const frac = String(utc % 1_000_000).padStart(6, '0').replace(/0+$/, '');
  const hh = String(Math.floor(secs / 3600)).padStart(2, '0');
  const mm = String(Math.floor(secs / 60) % 60).padStart(2, '0');
  const ss = String(secs % 60).padStart(2, '0');
  return `${hh}:${mm}:${ss}${frac ? `.${frac}` : ''}Z`;
}

const ISO_INTERVAL = /^(-)?P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)W)?(?:(-?\d+)D)?(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?\d+(?:\.\d+)?)S)?)?$/;
const DAYS_PER_MONTH = 365.25 / 12;

/** interval (IntervalStyle=iso_8601) -> microseconds, months counted as 365.25/12 days (Debezium's MicroDuration). */
export function intervalMicros(s: string): number {
  const m = ISO_INTERVAL.exec(s);
  if (!m) throw new Error(`not an ISO-8601 interval: ${s}`);
  const n = (i: number) => (m[i] ? Number(m[i]) : 0);
  const months = n(2) * 12 + n(3);
  const days = n(4) * 7 + n(5);
  const seconds = n(6) * 3600 + n(7) * 60 + n(8);
  const us = Math.round((months * DAYS_PER_MONTH + days) * 86_400_000_000 + seconds * 1_000_000);
  return m[1] ? -us : us;
}

// ---- numeric ------------------------------------------------------------------------------------

/** Two's-complement big-endian bytes of an integer in the fewest bytes, as Java's BigInteger.toByteArray(). */
export function unscaledBytes(v: bigint): Buffer {
  let n = 1;
  while (v >= 1n << BigInt(8 * n - 1) || v < -(1n << BigInt(8 * n - 1))) n++;
  let x = v < 0n ? (1n << BigInt(8 * n)) + v : v;
  const out = Buffer.alloc(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** numeric text -> {scale, value} of Debezium's VariableScaleDecimal; NaN and infinities give null. */
export function variableScaleDecimal(s: string): { scale: number; value: Buffer } | null {
  if (s === 'NaN' || s.endsWith('Infinity')) return null;
  const dot = s.indexOf('.');
  const scale = dot < 0 ? 0 : s.length - dot - 1;
  const digits = dot < 0 ? s : s.slice(0, dot) + s.slice(dot + 1);
  return { scale, value: unscaledBytes(BigInt(digits)) };
}

function numericMapping(typeMod: number): ColumnMapping {
  if (typeMod >= 4) {
    const precision = ((typeMod - 4) >> 16) & 0xffff;
    const scale = (typeMod - 4) & 0xffff;
    return {
      schema: { type: 'bytes', name: DECIMAL, version: 1, parameters: { scale: String(scale), 'connect.decimal.precision': String(precision) } },
      convert: (t) => (t === 'NaN' || t.endsWith('Infinity') ? null : t),
      fallback: (0).toFixed(scale),
    };
  }
  return {
    schema: {
      type: 'struct',
      name: VARIABLE_SCALE_DECIMAL,
      version: 1,
      doc: 'Variable scaled decimal',
      fields: [{ field: 'scale', type: 'int32' }, { field: 'value', type: 'bytes' }],
    },
    convert: variableScaleDecimal,
    fallback: { scale: 0, value: Buffer.from([0]) },
  };
}

function money(): ColumnMapping {
  return {
    schema: { type: 'bytes', name: DECIMAL, version: 1, parameters: { scale: '2' } },
    convert: (t) => {
      const neg = t.includes('-') || t.startsWith('(');
      const digits = t.replace(/[^0-9.]/g, '');
      return (neg ? '-' : '') + digits;
    },
    fallback: '0.00',
  };
}

// ---- arrays -------------------------------------------------------------------------------------

/** Parses a one-dimensional array literal `{a,"b c",NULL}` into its element texts (null for NULL). */
export function parseArrayLiteral(s: string, delimiter = ','): Array<string | null> {
  const out: Array<string | null> = [];
  let i = s.indexOf('{');
  if (i < 0) throw new Error(`not an array: ${s}`);
  i++;
  if (s[i] === '}') return out;
  while (i < s.length) {
    let value: string | null;
    if (s[i] === '"') {
      let v = '';
      i++;
      while (s[i] !== '"') {
        if (s[i] === '\\') i++;
        v += s[i++];
      }
      i++;
      value = v;
    } else if (s[i] === '{') {
      // a nested array: keep its literal text
      let depth = 0;
      const start = i;
      do {
        if (s[i] === '{') depth++;
        else if (s[i] === '}') depth--;
        else if (s[i] === '"') { i++; while (s[i] !== '"') { if (s[i] === '\\') i++; i++; } }
        i++;
      } while (depth > 0);
      value = s.slice(start, i);
    } else {
      const start = i;
      while (s[i] !== delimiter && s[i] !== '}') i++;
      const raw = s.slice(start, i);
      value = raw === 'NULL' ? null : raw;
    }
    out.push(value);
    if (s[i] === delimiter) i++;
    else if (s[i] === '}') break;
  }
  return out;
}

function arrayOf(element: ColumnMapping): ColumnMapping {
  return {
    schema: { type: 'array', items: { ...element.schema, optional: true } as Schema },
    convert: (t) => parseArrayLiteral(t).map((e) => (e === null ? null : element.convert(e))),
    fallback: [],
  };
}

// ---- the mapping ------------------------------------------------------------------------------

const BUILTIN: Record<number, (typeMod: number) => ColumnMapping> = {
  16: () => bool,
  17: () => bytea,
  18: () => str, // "char"
  19: () => str, // name
  20: () => int64,
  21: () => int('int16'),
  23: () => int('int32'),
  24: () => str, // regproc
  25: () => str,
  26: () => int64, // oid
  114: () => named(JSON_NAME),
  142: () => named(XML_NAME),
  600: () => str, // point
  650: () => str, // cidr
  700: () => float('float32'),
  701: () => float('float64'),
  790: money,
  829: () => str, // macaddr
  869: () => str, // inet
  1042: () => str, // bpchar
  1043: () => str, // varchar
  1082: () => ({ schema: { type: 'int32', name: DATE, version: 1 }, convert: epochDays, fallback: 0 }),
  1083: (mod) => (mod >= 0 && mod <= 3
    ? { schema: { type: 'int32', name: TIME, version: 1 }, convert: (t) => Math.floor(timeMicros(t) / 1000), fallback: 0 }
    : { schema: { type: 'int64', name: MICRO_TIME, version: 1 }, convert: timeMicros, fallback: 0 }),
  1114: (mod) => (mod >= 0 && mod <= 3
    ? { schema: { type: 'int64', name: TIMESTAMP, version: 1 }, convert: timestampMillis, fallback: 0 }
    : { schema: { type: 'int64', name: MICRO_TIMESTAMP, version: 1 }, convert: timestampMicros, fallback: 0 }),
  1184: () => ({ ...named(ZONED_TIMESTAMP), convert: zonedTimestamp, fallback: '1970-01-01T00:00:00Z' }),
  1186: () => ({ schema: { type: 'int64', name: MICRO_DURATION, version: 1 }, convert: intervalMicros, fallback: 0 }),
  1266: () => ({ ...named(ZONED_TIME), convert: zonedTime, fallback: '00:00:00Z' }),
  1560: (mod) => (mod === 1 ? bool : str), // bit(1) is a boolean; longer bit strings stay text ('0101')
  1562: () => str, // varbit
  1700: numericMapping,
  2950: () => named(UUID_NAME),
  3614: () => str, // tsvector
  3802: () => named(JSON_NAME),
};

/** Built-in array types -> their element type. */
const BUILTIN_ARRAYS: Record<number, number> = {
  1000: 16, 1001: 17, 1002: 18, 1003: 19, 1005: 21, 1007: 23, 1009: 25, 1014: 1042, 1015: 1043, 1016: 20,
  1021: 700, 1022: 701, 1028: 26, 1115: 1114, 1182: 1082, 1183: 1083, 1185: 1184, 1187: 1186, 1231: 1700,
  1270: 1266, 199: 114, 143: 142, 2951: 2950, 3807: 3802, 1040: 829, 1041: 869, 651: 650,
};

/** The mapping of one column type; unknown types become strings (their text output). */
export function mapType(oid: number, typeMod: number, lookup: TypeLookup): ColumnMapping {
  const builtin = BUILTIN[oid];
  if (builtin) return builtin(typeMod);
  const elem = BUILTIN_ARRAYS[oid];
  if (elem !== undefined) return arrayOf(mapType(elem, typeMod, lookup));
  const info = lookup(oid);
  if (!info) return str;
  if (info.kind === 'e') {
    return { schema: { type: 'string', name: ENUM_NAME, version: 1, parameters: { allowed: info.labels.join(',') } }, convert: identity, fallback: info.labels[0] ?? '' };
  }
  if (info.kind === 'd' && info.base) return mapType(info.base, info.baseTypeMod, lookup);
  if (info.elem) return arrayOf(mapType(info.elem, typeMod, lookup));
  if (info.name === 'hstore') return named(JSON_NAME, { ...str, convert: hstoreToJson, fallback: '{}' });
  return str;
}

/** hstore text `"a"=>"1", "b"=>NULL` -> JSON text `{"a":"1","b":null}` (hstore.handling.mode=json). */
export function hstoreToJson(s: string): string {
  const out: Record<string, string | null> = {};
  const re = /"((?:[^"\\]|\\.)*)"\s*=>\s*(NULL|"((?:[^"\\]|\\.)*)")/g;
  for (const m of s.matchAll(re)) out[m[1].replace(/\\(.)/g, '$1')] = m[2] === 'NULL' ? null : m[3].replace(/\\(.)/g, '$1');
  return JSON.stringify(out);
}

function unescapeBytea(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      if (s[i + 1] === '\\') { out.push(0x5c); i++; } else { out.push(parseInt(s.slice(i + 1, i + 4), 8)); i += 3; }
    } else {
      out.push(s.charCodeAt(i));
    }
  }
  return Buffer.from(out);
}

/** Types whose oids the catalog must describe (anything not built in). */
export function needsLookup(oid: number): boolean {
  return BUILTIN[oid] === undefined && BUILTIN_ARRAYS[oid] === undefined;
}
