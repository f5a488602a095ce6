/**
 * Connect data -> JSON text, as Kafka Connect's JsonConverter writes it.
 *
 * With a schema, each Schema object is compiled once into a writer (a tree of small closures) and
 * its envelope JSON is built once; both are cached by the schema object's identity, so a source
 * that reuses its schema objects pays for them once. Schemas are treated as immutable after their
 * first use. Without a schema, plain data goes through the native JSON.stringify; values it
 * cannot write faithfully (bigints, bytes, Maps, Sets, NaN) take a slower exact path.
 */
import type { FieldSchema, Schema } from '../api/index.ts';
import type { ByteWriter } from './byte-writer.ts';
import {
  DATE, DECIMAL, TIME, TIMESTAMP,
  decimalScale, describeValue, formatDecimal, toEpochDays, toEpochMillis, toMillisOfDay, toUnscaled, unscaledToBytes, bytesToUnscaled,
} from './logical-types.ts';

export type DecimalFormat = 'BASE64' | 'NUMERIC';

export interface JsonWriteOptions {
  decimalFormat: DecimalFormat;
  /** Write a null as the schema's default, when it has one (Connect's `replace.null.with.default`). */
  replaceNullWithDefault: boolean;
}

type Write = (value: unknown) => string;
/** Writes a value for a schema as UTF-8 JSON into a ByteWriter: the same bytes as its Write's string. */
type Into = (w: ByteWriter, value: unknown) => void;

interface Compiled {
  /** Writes any value for this schema, null included. */
  write: Write;
  /** This schema's JSON (Connect's schema format), built on first use. */
  json?: string;
  /** `{"schema":<json>,"payload":` as UTF-8, built on first use. */
  head?: Buffer;
  /** The byte writer, compiled on first use. */
  into?: Into;
}

/** A conversion failure somewhere inside a value; `path` names where (outermost first). */
export class JsonWriteError extends Error {
  readonly path: string[] = [];

  constructor(message: string) {
    super(message);
    this.name = 'JsonWriteError';
  }

  /** `address.zip: ...`, or the message alone at the top. */
  describe(): string {
    return this.path.length === 0 ? this.message : `at ${this.path.join('.')}: ${this.message}`;
  }
}

function fail(message: string): never {
  throw new JsonWriteError(message);
}

function expected(what: string, value: unknown): never {
  throw new JsonWriteError(`expected ${what}, got ${describeValue(value)}`);
}

function under(e: unknown, segment: string): unknown {
  if (e instanceof JsonWriteError) e.path.unshift(segment);
  return e;
}

const INT8_MIN = -128, INT8_MAX = 127, INT16_MIN = -32768, INT16_MAX = 32767;
const INT32_MIN = -2147483648, INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN_NUMBER = -(2 ** 63), INT64_LIMIT_NUMBER = 2 ** 63;

function intWriter(type: string, min: number, max: number): Write {
  return (v) => {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= min && v <= max) return String(v);
    } else if (typeof v === 'bigint') {
      if (v >= BigInt(min) && v <= BigInt(max)) return v.toString();
    }
    return expected(`${type} (an integer from ${min} to ${max})`, v);
  };
}

function writeInt64(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= INT64_MIN_NUMBER && v < INT64_LIMIT_NUMBER) return String(v);
  } else if (typeof v === 'bigint') {
    if (v >= INT64_MIN && v <= INT64_MAX) return v.toString();
  }
  return expected('int64 (an integer number or bigint)', v);
}

/** Jackson writes NaN and the infinities as strings; so does Connect, so do we. */
function writeFloat(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : `"${v}"`;
  if (typeof v === 'bigint') return String(Number(v));
  return expected('a number', v);
}

function writeBoolean(v: unknown): string {
  if (v === true) return 'true';
  if (v === false) return 'false';
  return expected('a boolean', v);
}

/** Characters JSON.stringify escapes: controls, quote, backslash, and surrogates (lone ones are escaped). */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** JSON.stringify for a string, about three times faster when nothing needs escaping (the usual case). */
function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

function writeString(v: unknown): string {
  if (typeof v === 'string') return quote(v);
  return expected('a string', v);
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function writeBytes(v: unknown): string {
  if (v instanceof Uint8Array) return `"${asBuffer(v).toString('base64')}"`;
  if (v instanceof ArrayBuffer) return `"${Buffer.from(v).toString('base64')}"`;
  return expected('bytes (a Buffer or Uint8Array)', v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map) && !(v instanceof Date);
}

/** A compiled JSON writer per schema object, for one converter's options. */
export class JsonEncoder {
  private readonly options: JsonWriteOptions;
  private readonly compiled = new WeakMap<Schema, Compiled>();

  constructor(options: JsonWriteOptions) {
    this.options = options;
  }

  /** The payload JSON of `value` under `schema`. Throws JsonWriteError. */
  payload(schema: Schema, value: unknown): string {
    return this.get(schema).write(value);
  }

  /**
   * The payload JSON of `value` under `schema`, written as UTF-8 into `w`: the bytes of
   * `payload(schema, value)`, without building them as strings first. Throws JsonWriteError (having
   * written part of the value: the caller aborts the record).
   */
  payloadInto(schema: Schema, value: unknown, w: ByteWriter): void {
    this.into(schema)(w, value);
  }

  /** The schema as Connect writes it in an envelope. Throws JsonWriteError for an invalid schema. */
  schemaJson(schema: Schema): string {
    const c = this.get(schema);
    if (c.json === undefined) c.json = this.buildSchemaJson(schema);
    return c.json;
  }

  /** The bytes of an envelope before its payload: `{"schema":<schemaJson>,"payload":`. Throws JsonWriteError for an invalid schema. */
  envelopeHead(schema: Schema): Buffer {
    const c = this.get(schema);
    if (c.head === undefined) c.head = Buffer.from(`{"schema":${this.schemaJson(schema)},"payload":`, 'utf8');
    return c.head;
  }

  private get(schema: Schema): Compiled {
    let c = this.compiled.get(schema);
    if (c === undefined) {
      c = { write: this.compileNullable(schema) };
      this.compiled.set(schema, c);
    }
    return c;
  }

  private compileNullable(schema: Schema): Write {
    const base = this.compileBase(schema);
    const optional = schema.optional === true;
    const defaultValue = schema.default;
    const useDefault = defaultValue !== undefined && defaultValue !== null && this.options.replaceNullWithDefault;
    let defaultJson: string | undefined;
    return (v) => {
      if (v !== null && v !== undefined) return base(v);
      if (useDefault) return (defaultJson ??= base(defaultValue));
      if (optional) return 'null';
      return fail('null value for a required field that has no default value');
    };
  }

  private compileBase(schema: Schema): Write {
    if (typeof schema !== 'object' || schema === null) fail(`invalid schema: expected a schema object, got ${describeValue(schema)}`);
    const logical = this.compileLogical(schema);
    if (logical) return logical;
    switch (schema.type) {
      case 'int8': return intWriter('int8', INT8_MIN, INT8_MAX);
      case 'int16': return intWriter('int16', INT16_MIN, INT16_MAX);
      case 'int32': return intWriter('int32', INT32_MIN, INT32_MAX);
      case 'int64': return writeInt64;
      case 'float32':
      case 'float64': return writeFloat;
      case 'boolean': return writeBoolean;
      case 'string': return writeString;
      case 'bytes': return writeBytes;
      case 'array': return this.compileArray(schema);
      case 'map': return this.compileMap(schema);
      case 'struct': return this.compileStruct(schema);
      default: return fail(`invalid schema: unknown type ${JSON.stringify((schema as { type: unknown }).type)}`);
    }
  }

  private compileLogical(schema: Schema): Write | undefined {
    switch (schema.name) {
      case DECIMAL: {
        if (schema.type !== 'bytes') return undefined;
        let scale: number;
        try {
          scale = decimalScale(schema);
        } catch (e) {
          return fail((e as Error).message);
        }
        const numeric = this.options.decimalFormat === 'NUMERIC';
        return (v) => {
          let unscaled: bigint;
          if (v instanceof Uint8Array) {
            // Already the encoded unscaled bytes.
            if (!numeric) return writeBytes(v);
            unscaled = bytesToUnscaled(v);
          } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') {
            try {
              unscaled = toUnscaled(v, scale);
            } catch (e) {
              return fail(`invalid Decimal: ${(e as Error).message}`);
            }
          } else {
            return expected('a Decimal (a decimal string, number or bigint)', v);
          }
          return numeric ? formatDecimal(unscaled, scale) : `"${unscaledToBytes(unscaled).toString('base64')}"`;
        };
      }
      case DATE:
        return schema.type === 'int32' ? logical(toEpochDays, intWriter('int32', INT32_MIN, INT32_MAX)) : undefined;
      case TIME:
        return schema.type === 'int32' ? logical(toMillisOfDay, intWriter('int32', 0, 86_399_999)) : undefined;
      case TIMESTAMP:
        return schema.type === 'int64' ? logical(toEpochMillis, writeInt64) : undefined;
      default:
        return undefined;
    }
  }

  private compileArray(schema: Schema): Write {
    if (!schema.items) fail('invalid schema: an array schema needs "items"');
    const item = this.get(schema.items).write;
    return (v) => {
      if (!Array.isArray(v)) return expected('an array', v);
      if (v.length === 0) return '[]';
      let out = '[';
      for (let i = 0; i < v.length; i++) {
        try {
          out += (i === 0 ? '' : ',') + item(v[i]);
        } catch (e) {
          throw under(e, `[${i}]`);
        }
      }
      return out + ']';
    };
  }

  private compileMap(schema: Schema): Write {
    if (!schema.keys || !schema.values) fail('invalid schema: a map schema needs "keys" and "values"');
    const keyWrite = this.get(schema.keys).write;
    const valueWrite = this.get(schema.values).write;
    if (schema.keys.type === 'string') {
      // String keys: a JSON object, as Connect writes it.
      const keyText = (k: unknown) => {
        const t = keyWrite(k);
        return t === 'null' ? '"null"' : t;
      };
      return (v) => {
        let out = '{';
        let first = true;
        if (v instanceof Map) {
          for (const [k, x] of v) {
            const kt = keyText(k);
            try {
              out += (first ? '' : ',') + kt + ':' + valueWrite(x);
            } catch (e) {
              throw under(e, `[${kt}]`);
            }
            first = false;
          }
        } else if (isPlainObject(v)) {
          for (const k in v) {
            if (!Object.hasOwn(v, k)) continue;
            try {
              out += (first ? '' : ',') + quote(k) + ':' + valueWrite(v[k]);
            } catch (e) {
              throw under(e, `[${JSON.stringify(k)}]`);
            }
            first = false;
          }
        } else {
          return expected('a map (a Map or a plain object)', v);
        }
        return out + '}';
      };
    }
    // Other keys: an array of [key, value] pairs, as Connect writes it.
    return (v) => {
      if (!(v instanceof Map)) return expected(`a Map (maps with ${schema.keys!.type} keys must be Map objects)`, v);
      let out = '[';
      let first = true;
      let i = 0;
      for (const [k, x] of v) {
        try {
          out += (first ? '[' : ',[') + keyWrite(k) + ',' + valueWrite(x) + ']';
        } catch (e) {
          throw under(e, `[entry ${i}]`);
        }
        first = false;
        i++;
      }
      return out + ']';
    };
  }

  private compileStruct(schema: Schema): Write {
    const fields: FieldSchema[] = schema.fields ?? [];
    if (!Array.isArray(fields)) fail('invalid schema: a struct schema\'s "fields" must be an array');
    const n = fields.length;
    const names: string[] = [];
    const heads: string[] = [];
    const writers: Write[] = [];
    // Field names that a plain object inherits ("constructor", "toString"): read only own properties.
    const ownOnly: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const f = fields[i];
      if (typeof f?.field !== 'string') fail(`invalid schema: struct field ${i} has no "field" name`);
      names.push(f.field);
      heads.push((i === 0 ? '{' : ',') + JSON.stringify(f.field) + ':');
      writers.push(this.get(f).write);
      ownOnly.push(f.field in Object.prototype);
    }
    if (n === 0) {
      return (v) => (isPlainObject(v) ? '{}' : expected('a struct (a plain object)', v));
    }
    return (v) => {
      if (!isPlainObject(v)) return expected('a struct (a plain object)', v);
      let out = '';
      for (let i = 0; i < n; i++) {
        const name = names[i];
        const x = ownOnly[i] && !Object.hasOwn(v, name) ? undefined : v[name];
        try {
          out += heads[i] + writers[i](x);
        } catch (e) {
          throw under(e, name);
        }
      }
      return out + '}';
    };
  }

  // ---- Byte writers ----------------------------------------------------------------------------
  //
  // The common shapes (structs, arrays, strings, integers, finite floats, booleans, bytes, Decimals
  // given as plain decimal strings) are written byte by byte. Everything else, and every value
  // that is not what its schema expects, goes through the schema's string writer (`write`), whose
  // text or JsonWriteError is then the answer: the string writers stay the one definition of what
  // is written and of what is refused, and the byte writers only a faster route to the same bytes.

  private into(schema: Schema): Into {
    const c = this.get(schema);
    if (c.into === undefined) c.into = this.compileIntoNullable(schema, c.write);
    return c.into;
  }

  private compileIntoNullable(schema: Schema, write: Write): Into {
    const base = this.compileIntoBase(schema, write);
    const plainNull = schema.optional === true && !(schema.default !== undefined && schema.default !== null && this.options.replaceNullWithDefault);
    return (w, v) => {
      if (v !== null && v !== undefined) base(w, v);
      else if (plainNull) w.bytes(NULL_BYTES);
      else w.text(write(v));
    };
  }

  private compileIntoBase(schema: Schema, write: Write): Into {
    const fallback: Into = (w, v) => w.text(write(v));
    switch (schema.name) {
      case DECIMAL:
        if (schema.type === 'bytes') return this.compileIntoDecimal(schema, fallback);
        break;
      case DATE:
      case TIME:
      case TIMESTAMP:
        return fallback;
    }
    switch (schema.type) {
      case 'int8': return intInto(INT8_MIN, INT8_MAX, fallback);
      case 'int16': return intInto(INT16_MIN, INT16_MAX, fallback);
      case 'int32': return intInto(INT32_MIN, INT32_MAX, fallback);
      case 'int64': return (w, v) => (typeof v === 'number' && Number.isSafeInteger(v) ? w.int(v) : fallback(w, v));
      case 'float32':
      case 'float64':
        return (w, v) => {
          if (typeof v !== 'number' || !Number.isFinite(v)) fallback(w, v);
          else if (Number.isSafeInteger(v)) w.int(v);
          else w.text(String(v));
        };
      case 'boolean':
        return (w, v) => (v === true ? w.bytes(TRUE_BYTES) : v === false ? w.bytes(FALSE_BYTES) : fallback(w, v));
      case 'string': return (w, v) => (typeof v === 'string' ? w.quoted(v) : fallback(w, v));
      case 'bytes': return (w, v) => (v instanceof Uint8Array ? w.base64(v) : fallback(w, v));
      case 'array': return this.compileIntoArray(schema, fallback);
      case 'struct': return this.compileIntoStruct(schema, fallback);
      default: return fallback;
    }
  }

  private compileIntoDecimal(schema: Schema, fallback: Into): Into {
    if (this.options.decimalFormat === 'NUMERIC') return fallback;
    const scale = decimalScale(schema);
    return (w, v) => {
      if (typeof v !== 'string' || !decimalInto(w, v, scale)) fallback(w, v);
    };
  }

  private compileIntoArray(schema: Schema, fallback: Into): Into {
    const item = this.into(schema.items!);
    return (w, v) => {
      if (!Array.isArray(v)) return fallback(w, v);
      w.byte(0x5b);
      for (let i = 0; i < v.length; i++) {
        if (i > 0) w.byte(0x2c);
        try {
          item(w, v[i]);
        } catch (e) {
          throw under(e, `[${i}]`);
        }
      }
      w.byte(0x5d);
    };
  }

  private compileIntoStruct(schema: Schema, fallback: Into): Into {
    const fields: FieldSchema[] = schema.fields ?? [];
    const n = fields.length;
    if (n === 0) return fallback;
    const names: string[] = [];
    const heads: Buffer[] = [];
    const intos: Into[] = [];
    const ownOnly: boolean[] = [];
    for (let i = 0; i < n; i++) {
      const f = fields[i];
      names.push(f.field);
      heads.push(Buffer.from((i === 0 ? '{' : ',') + JSON.stringify(f.field) + ':', 'utf8'));
      intos.push(this.into(f));
      ownOnly.push(f.field in Object.prototype);
    }
    return (w, v) => {
      if (!isPlainObject(v)) return fallback(w, v);
      for (let i = 0; i < n; i++) {
        const name = names[i];
        const x = ownOnly[i] && !Object.hasOwn(v, name) ? undefined : v[name];
        w.bytes(heads[i]);
        try {
          intos[i](w, x);
        } catch (e) {
          throw under(e, name);
        }
      }
      w.byte(0x7d);
    };
  }

  /** Connect's key order: type, items | keys, values | fields, optional, name, version, doc, parameters, default. */
  private buildSchemaJson(schema: Schema): string {
    let out = `{"type":${JSON.stringify(JSON_TYPE_NAMES[schema.type] ?? schema.type)}`;
    switch (schema.type) {
      case 'array':
        if (!schema.items) fail('invalid schema: an array schema needs "items"');
        out += `,"items":${this.schemaJson(schema.items)}`;
        break;
      case 'map':
        if (!schema.keys || !schema.values) fail('invalid schema: a map schema needs "keys" and "values"');
        out += `,"keys":${this.schemaJson(schema.keys)},"values":${this.schemaJson(schema.values)}`;
        break;
      case 'struct': {
        const parts: string[] = [];
        for (const f of schema.fields ?? []) {
          const own = this.schemaJson(f);
          parts.push(`${own.slice(0, -1)},"field":${JSON.stringify(f.field)}}`);
        }
        out += `,"fields":[${parts.join(',')}]`;
        break;
      }
    }
    out += `,"optional":${schema.optional === true}`;
    if (schema.name != null) out += `,"name":${JSON.stringify(schema.name)}`;
    if (schema.version != null) out += `,"version":${JSON.stringify(schema.version)}`;
    if (schema.doc != null) out += `,"doc":${JSON.stringify(schema.doc)}`;
    if (schema.parameters != null) {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(schema.parameters)) params[k] = String(v);
      out += `,"parameters":${JSON.stringify(params)}`;
    }
    if (schema.default != null) {
      let d: string;
      try {
        d = this.get(schema).write(schema.default);
      } catch (e) {
        throw under(e, '(default)');
      }
      out += `,"default":${d}`;
    }
    return out + '}';
  }
}

/** Connect's schema JSON calls float32 and float64 "float" and "double". */
const JSON_TYPE_NAMES: Partial<Record<string, string>> = { float32: 'float', float64: 'double' };

const NULL_BYTES = Buffer.from('null', 'latin1');
const TRUE_BYTES = Buffer.from('true', 'latin1');
const FALSE_BYTES = Buffer.from('false', 'latin1');

function intInto(min: number, max: number, fallback: Into): Into {
  return (w, v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? w.int(v) : fallback(w, v));
}

/** Scratch for the unscaled bytes of a decimal written by decimalInto (at most 7 bytes). */
const UNSCALED = new Uint8Array(8);

/**
 * A Decimal given as a plain decimal string (`-?digits(.digits)?`, at most the schema's scale of
 * fraction digits, at most 15 digits once scaled, so exact in a double), written as the base64 of
 * its unscaled two's-complement bytes, exactly as toUnscaled + unscaledToBytes + base64 do with
 * bigints. False (nothing written) for anything else, which the exact path then writes or refuses.
 */
function decimalInto(w: ByteWriter, s: string, scale: number): boolean {
  const n = s.length;
  let i = 0;
  let negative = false;
  if (n > 0 && s.charCodeAt(0) === 0x2d) {
    negative = true;
    i = 1;
  }
  let x = 0;
  let digits = 0;
  let intDigits = 0;
  let frac = -1;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      x = x * 10 + (c - 0x30);
      digits++;
      if (frac >= 0) frac++;
      else intDigits++;
    } else if (c === 0x2e && frac < 0) {
      frac = 0;
    } else {
      return false;
    }
  }
  if (intDigits === 0 || frac === 0) return false;
  const fracDigits = frac < 0 ? 0 : frac;
  if (scale < 0 || fracDigits > scale || digits + scale - fracDigits > 15) return false;
  for (let k = fracDigits; k < scale; k++) x *= 10;
  // Java's BigInteger.toByteArray(): the fewest bytes holding the value and its sign bit; a
  // negative value's bytes are those of (-x - 1) inverted.
  let m = negative && x !== 0 ? x - 1 : x;
  let length = 1;
  for (let limit = 128; m >= limit; limit *= 256) length++;
  for (let j = length - 1; j >= 0; j--) {
    const b = m % 256;
    UNSCALED[j] = negative && x !== 0 ? 255 - b : b;
    m = (m - b) / 256;
  }
  w.base64(UNSCALED, length);
  return true;
}

function logical(toEncoded: (v: unknown) => number | bigint, encode: Write): Write {
  return (v) => {
    let encoded: number | bigint;
    try {
      encoded = toEncoded(v);
    } catch (e) {
      return fail((e as Error).message);
    }
    return encode(encoded);
  };
}

// ---- Without a schema ------------------------------------------------------------------------

const MAX_FAST_DEPTH = 64;

/** Whether native JSON.stringify would write this value unfaithfully (or too deep to tell cheaply). */
function needsExactPath(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'bigint': return true;
    case 'number': return !Number.isFinite(v);
    case 'object': {
      if (v === null) return false;
      if (depth > MAX_FAST_DEPTH) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (needsExactPath(v[i], depth + 1)) return true;
        return false;
      }
      if (v instanceof Uint8Array || v instanceof Map || v instanceof Set || v instanceof ArrayBuffer) return true;
      for (const k in v) if (needsExactPath((v as Record<string, unknown>)[k], depth + 1)) return true;
      return false;
    }
    default: return false;
  }
}

/**
 * Schemaless JSON, as Connect writes schemaless data: bytes as base64 strings, maps with string keys
 * as objects and other maps as arrays of pairs, bigints as exact digits, Dates as ISO strings
 * (their toJSON). Throws JsonWriteError for cycles and values JSON cannot hold.
 */
export function writeSchemaless(value: unknown): string {
  if (!needsExactPath(value, 0)) {
    let out: string | undefined;
    try {
      out = JSON.stringify(value);
    } catch (e) {
      return fail(`cannot write the value as JSON: ${(e as Error).message}`);
    }
    return out ?? fail(`cannot write ${describeValue(value)} as JSON`);
  }
  return writeExact(value, '', []) ?? fail(`cannot write ${describeValue(value)} as JSON`);
}

function writeExact(v: unknown, key: string, stack: object[]): string | undefined {
  switch (typeof v) {
    case 'string': return quote(v);
    case 'number': return Number.isFinite(v) ? String(v) : `"${v}"`;
    case 'bigint': return v.toString();
    case 'boolean': return v ? 'true' : 'false';
    case 'object': break;
    default: return undefined;
  }
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `"${asBuffer(v).toString('base64')}"`;
  if (v instanceof ArrayBuffer) return `"${Buffer.from(v).toString('base64')}"`;
  if (stack.includes(v)) fail('cannot write a value that contains itself (a circular reference) as JSON');
  stack.push(v);
  try {
    if (Array.isArray(v) || v instanceof Set) {
      const parts: string[] = [];
      let i = 0;
      for (const x of v) {
        try {
          parts.push(writeExact(x, String(i), stack) ?? 'null');
        } catch (e) {
          throw under(e, `[${i}]`);
        }
        i++;
      }
      return `[${parts.join(',')}]`;
    }
    if (v instanceof Map) {
      let allStrings = true;
      for (const k of v.keys()) if (typeof k !== 'string') allStrings = false;
      const parts: string[] = [];
      for (const [k, x] of v) {
        const w = writeExact(x, String(k), stack);
        if (allStrings) {
          if (w !== undefined) parts.push(`${JSON.stringify(k)}:${w}`);
        } else {
          parts.push(`[${writeExact(k, '', stack) ?? 'null'},${w ?? 'null'}]`);
        }
      }
      return allStrings ? `{${parts.join(',')}}` : `[${parts.join(',')}]`;
    }
    const withToJson = v as { toJSON?: (key: string) => unknown };
    if (typeof withToJson.toJSON === 'function') return writeExact(withToJson.toJSON(key), key, stack);
    const parts: string[] = [];
    for (const k in v) {
      if (!Object.hasOwn(v, k)) continue;
      let w: string | undefined;
      try {
        w = writeExact((v as Record<string, unknown>)[k], k, stack);
      } catch (e) {
        throw under(e, k);
      }
      if (w !== undefined) parts.push(`${JSON.stringify(k)}:${w}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.pop();
  }
}
