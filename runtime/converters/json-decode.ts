/**
 * JSON text -> Connect data, as Kafka Connect's JsonConverter reads it.
 *
 * Parsing is the native JSON.parse. Precision is recovered only where it is lost: when a parsed
 * value holds an integer beyond 2^53, or a reader needs a number's exact digits (an int64 beyond
 * 2^53, a Decimal written as a JSON number), the text is parsed again with a reviver that sees each
 * number's source (Node 22's JSON.parse source text access): integers beyond 2^53 become bigints,
 * and long fractions keep their digits. Schemas read from envelopes are cached by their JSON text
 * (`schemas.cache.size`), so repeated schemas yield the same frozen Schema object, and compiled
 * readers are cached by it.
 */
import type { FieldSchema, Schema, SchemaType } from '../api/index.ts';
import {
  DATE, DECIMAL, MS_PER_DAY, TIME, TIMESTAMP,
  bytesToUnscaled, decimalScale, decimalText, describeValue, formatDecimal,
} from './logical-types.ts';

/** A number whose digits a double cannot hold; `value` is the nearest double. */
export class JsonNumberText {
  readonly text: string;
  readonly value: number;

  constructor(text: string, value: number) {
    this.text = text;
    this.value = value;
  }
}

/** A conversion failure somewhere inside a payload; `path` names where (outermost first). */
export class JsonReadError extends Error {
  readonly path: string[] = [];

  constructor(message: string) {
    super(message);
    this.name = 'JsonReadError';
  }

  describe(): string {
    return this.path.length === 0 ? this.message : `at ${this.path.join('.')}: ${this.message}`;
  }
}

function fail(message: string): never {
  throw new JsonReadError(message);
}

function expected(what: string, node: unknown): never {
  throw new JsonReadError(`expected ${what}, found ${describeNode(node)}`);
}

function under(e: unknown, segment: string): unknown {
  if (e instanceof JsonReadError) e.path.unshift(segment);
  return e;
}

function describeNode(node: unknown): string {
  if (node instanceof JsonNumberText) return 'a number';
  if (node !== null && typeof node === 'object' && !Array.isArray(node)) return 'an object';
  return describeValue(node);
}

// ---- Parsing ---------------------------------------------------------------------------------

const MANY_DIGITS = /\d(?:\.?\d){15}/;

type Reviver = (this: unknown, key: string, value: unknown, context: { source?: string }) => unknown;

function preciseReviver(_key: string, value: unknown, context: { source?: string }): unknown {
  if (typeof value !== 'number' || context?.source === undefined) return value;
  const src = context.source;
  if (!/[.eE]/.test(src)) return Number.isSafeInteger(value) ? value : BigInt(src);
  return MANY_DIGITS.test(src) ? new JsonNumberText(src, value) : value;
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** JSON.parse; throws its SyntaxError. */
export function parseJson(text: string): unknown {
  return JSON.parse(withoutBom(text));
}

/**
 * JSON.parse keeping every digit: integers beyond 2^53 become bigints, numbers with 16 or more
 * digits and a fraction or exponent become JsonNumberText. Throws its SyntaxError.
 */
export function parseJsonPrecise(text: string): unknown {
  const parse = JSON.parse as (text: string, reviver: Reviver) => unknown;
  return parse(withoutBom(text), preciseReviver);
}

/** Whether a parsed value holds an integer JSON.parse could not hold exactly (beyond 2^53). */
export function hasUnsafeInteger(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && !Number.isSafeInteger(v);
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (hasUnsafeInteger(v[i])) return true;
    return false;
  }
  for (const k in v) if (hasUnsafeInteger((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** Thrown by a reader that needs the exact digits of a number; the caller parses again with parseJsonPrecise. */
export class NeedsPrecision extends Error {
  constructor() {
    super('this value needs the exact digits of a number');
    this.name = 'NeedsPrecision';
  }
}

const NEEDS_PRECISION = new NeedsPrecision();

/** Schemaless values: long fractions become plain numbers again (bigints stay). Mutates in place. */
export function unwrapPrecise(v: unknown): unknown {
  if (v instanceof JsonNumberText) return v.value;
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = unwrapPrecise(v[i]);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (typeof x === 'object' && x !== null) put(o, k, unwrapPrecise(x));
  }
  return v;
}

function isObjectNode(node: unknown): node is Record<string, unknown> {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && !(node instanceof JsonNumberText);
}

/** Assign without tripping over a "__proto__" key. */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

function preciseKey(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof JsonNumberText) return `${v.text}d`;
  return v;
}

function deepFreeze<T>(o: T): T {
  if (typeof o !== 'object' || o === null || Object.isFrozen(o) || ArrayBuffer.isView(o)) return o;
  Object.freeze(o);
  for (const v of Object.values(o)) deepFreeze(v);
  return o;
}

// ---- Reading ---------------------------------------------------------------------------------

type Read = (node: unknown) => unknown;

const SCHEMA_HEAD = '{"schema":';
const PAYLOAD_HEAD = ',"payload":';

/** Connect's schema JSON calls float32 and float64 "float" and "double"; the Connect names are accepted too. */
const CONNECT_TYPES: Partial<Record<string, SchemaType>> = { float: 'float32', double: 'float64' };

const RANGES: Partial<Record<SchemaType, [number, number]>> = {
  int8: [-128, 127],
  int16: [-32768, 32767],
  int32: [-2147483648, 2147483647],
};
const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readIntIn(type: string, min: number, max: number): Read {
  return (n) => {
    if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n;
    return expected(`${type} (an integer from ${min} to ${max})`, n);
  };
}

function readInt64(n: unknown, state: ReadState): number | bigint {
  if (typeof n === 'number' && Number.isInteger(n)) {
    if (!state.precise && !Number.isSafeInteger(n)) throw NEEDS_PRECISION;
    return n;
  }
  if (typeof n === 'bigint') {
    if (n >= INT64_MIN && n <= INT64_MAX) return n;
    return fail('an integer out of the int64 range');
  }
  return expected('int64 (an integer)', n);
}

function readFloat(n: unknown): number {
  if (typeof n === 'number') return n;
  if (n instanceof JsonNumberText) return n.value;
  if (typeof n === 'bigint') return Number(n);
  if (n === 'NaN' || n === 'Infinity' || n === '-Infinity') return Number(n);
  return expected('a number', n);
}

function readBoolean(n: unknown): boolean {
  return typeof n === 'boolean' ? n : expected('a boolean', n);
}

function readString(n: unknown): string {
  return typeof n === 'string' ? n : expected('a string', n);
}

function readBytes(n: unknown): Buffer {
  if (typeof n !== 'string') return expected('bytes (a base64 string)', n);
  if (n.length % 4 !== 0 || !BASE64.test(n)) fail('invalid bytes: not a base64 string');
  return Buffer.from(n, 'base64');
}

interface ReadState {
  precise: boolean;
}

export interface JsonReadOptions {
  /** Read a null as the schema's default, when it has one (Connect's `replace.null.with.default`). */
  replaceNullWithDefault: boolean;
  /** How many envelope schemas to remember (Connect's `schemas.cache.size`). */
  schemaCacheSize: number;
}

export class JsonDecoder {
  private readonly options: JsonReadOptions;
  /** Read by the compiled readers: whether the node being read came from parseJsonPrecise. */
  private readonly state: ReadState = { precise: false };
  private readonly readers = new WeakMap<Schema, Read>();
  private readonly schemaCache = new Map<string, Schema>();
  private lastKey: string | undefined;
  private lastSchema: Schema | undefined;
  /** `{"schema":<lastKey>,"payload":` as bytes, for knownEnvelope. */
  private lastHead: Buffer | undefined;

  constructor(options: JsonReadOptions) {
    this.options = options;
  }

  /**
   * The Connect value of a payload node under `schema`. `precise` says the node came from
   * parseJsonPrecise; when it did not and a number's exact digits matter, throws NeedsPrecision.
   * Throws JsonReadError for data that does not match the schema.
   */
  read(schema: Schema, node: unknown, precise: boolean): unknown {
    this.state.precise = precise;
    return this.reader(schema)(node);
  }

  /**
   * The fast path for a repeated schema: when `data` is exactly `{"schema":S,"payload":P}` with S
   * the JSON of the last schema read, only P needs decoding and parsing (compared as bytes, so the
   * schema is not even decoded). Undefined when the message is anything else; when P alone is not
   * valid JSON, the caller parses the whole message.
   */
  knownEnvelope(data: Buffer): { schema: Schema; payloadText: string } | undefined {
    const head = this.lastHead;
    if (head === undefined || data.length <= head.length || data[data.length - 1] !== 0x7d /* } */) return undefined;
    if (data.compare(head, 0, head.length, 0, head.length) !== 0) return undefined;
    return { schema: this.lastSchema!, payloadText: data.toString('utf8', head.length, data.length - 1) };
  }

  /** Connect's asConnectSchema: a frozen Schema from an envelope's schema node, cached by its JSON. Throws JsonReadError. */
  schemaFromJson(node: unknown, precise: boolean): Schema {
    this.state.precise = precise;
    if (this.options.schemaCacheSize <= 0) return deepFreeze(this.build(node));
    const key = precise ? JSON.stringify(node, preciseKey) : JSON.stringify(node);
    if (key === this.lastKey) return this.lastSchema!;
    this.lastHead = precise ? undefined : Buffer.from(SCHEMA_HEAD + key + PAYLOAD_HEAD, 'utf8');
    let schema = this.schemaCache.get(key);
    if (schema === undefined) {
      schema = deepFreeze(this.build(node));
      if (this.schemaCache.size >= this.options.schemaCacheSize) {
        this.schemaCache.delete(this.schemaCache.keys().next().value!);
      }
      this.schemaCache.set(key, schema);
    } else {
      // Least recently used goes first: move this one to the end.
      this.schemaCache.delete(key);
      this.schemaCache.set(key, schema);
    }
    this.lastKey = key;
    this.lastSchema = schema;
    return schema;
  }

  private build(node: unknown): Schema {
    if (!isObjectNode(node)) fail(`a schema must be a JSON object, found ${describeNode(node)}`);
    const jsonType = node.type;
    if (typeof jsonType !== 'string') fail('a schema must contain a "type" field');
    const type = CONNECT_TYPES[jsonType] ?? jsonType;
    const schema: Schema = { type: type as SchemaType, optional: node.optional === true };
    if (typeof node.name === 'string') schema.name = node.name;
    if (typeof node.version === 'number' && Number.isInteger(node.version)) schema.version = node.version;
    if (typeof node.doc === 'string') schema.doc = node.doc;
    if (isObjectNode(node.parameters)) {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(node.parameters)) {
        if (typeof v !== 'string') fail(`schema parameters must have string values (parameter ${JSON.stringify(k)})`);
        put(params, k, v);
      }
      schema.parameters = params;
    }
    switch (type) {
      case 'int8': case 'int16': case 'int32': case 'int64': case 'float32': case 'float64':
      case 'boolean': case 'string': case 'bytes':
        break;
      case 'array':
        if (node.items === undefined || node.items === null) fail('an array schema must say its element type in "items"');
        schema.items = this.build(node.items);
        break;
      case 'map':
        if (node.keys === undefined || node.keys === null) fail('a map schema must say its key type in "keys"');
        if (node.values === undefined || node.values === null) fail('a map schema must say its value type in "values"');
        schema.keys = this.build(node.keys);
        schema.values = this.build(node.values);
        break;
      case 'struct': {
        if (!Array.isArray(node.fields)) fail('a struct schema\'s "fields" must be an array');
        const fields: FieldSchema[] = [];
        for (const f of node.fields) {
          if (!isObjectNode(f) || typeof f.field !== 'string') fail('each field of a struct schema must have its name in "field"');
          fields.push({ field: f.field, ...this.build(f) });
        }
        schema.fields = fields;
        break;
      }
      default:
        fail(`unknown schema type ${JSON.stringify(jsonType)}`);
    }
    if (node.default !== undefined && node.default !== null) {
      try {
        schema.default = this.reader(schema)(node.default);
      } catch (e) {
        throw under(e, '(default)');
      }
      // The reader compiled above saw no default; compile again when it is next needed.
      this.readers.delete(schema);
    }
    return schema;
  }

  private reader(schema: Schema): Read {
    let r = this.readers.get(schema);
    if (r === undefined) {
      r = this.compileNullable(schema);
      this.readers.set(schema, r);
    }
    return r;
  }

  private compileNullable(schema: Schema): Read {
    const base = this.compileBase(schema);
    const optional = schema.optional === true;
    const defaultValue = schema.default;
    const useDefault = defaultValue !== undefined && defaultValue !== null && this.options.replaceNullWithDefault;
    return (n) => {
      if (n !== null && n !== undefined) return base(n);
      if (useDefault) return defaultValue;
      if (optional) return null;
      return fail(`null value for a required ${schema.type} field that has no default value`);
    };
  }

  private compileBase(schema: Schema): Read {
    const logical = compileLogical(schema, this.state);
    if (logical) return logical;
    switch (schema.type) {
      case 'int8': case 'int16': case 'int32': {
        const [min, max] = RANGES[schema.type]!;
        return readIntIn(schema.type, min, max);
      }
      case 'int64': {
        const state = this.state;
        return (n) => readInt64(n, state);
      }
      case 'float32': case 'float64': return readFloat;
      case 'boolean': return readBoolean;
      case 'string': return readString;
      case 'bytes': return readBytes;
      case 'array': {
        if (!schema.items) fail('invalid schema: an array schema needs "items"');
        const item = this.reader(schema.items);
        return (n) => {
          if (!Array.isArray(n)) return expected('an array', n);
          const out = new Array<unknown>(n.length);
          for (let i = 0; i < n.length; i++) {
            try {
              out[i] = item(n[i]);
            } catch (e) {
              throw under(e, `[${i}]`);
            }
          }
          return out;
        };
      }
      case 'map': {
        if (!schema.keys || !schema.values) fail('invalid schema: a map schema needs "keys" and "values"');
        const key = this.reader(schema.keys);
        const value = this.reader(schema.values);
        if (schema.keys.type === 'string') {
          return (n) => {
            if (!isObjectNode(n)) return expected('an object (a map with string keys)', n);
            const out: Record<string, unknown> = {};
            for (const k in n) {
              try {
                put(out, k, value(n[k]));
              } catch (e) {
                throw under(e, `[${JSON.stringify(k)}]`);
              }
            }
            return out;
          };
        }
        return (n) => {
          if (!Array.isArray(n)) return expected(`an array of [key, value] pairs (a map with ${schema.keys!.type} keys)`, n);
          const out = new Map<unknown, unknown>();
          for (let i = 0; i < n.length; i++) {
            const pair: unknown = n[i];
            if (!Array.isArray(pair) || pair.length !== 2) throw under(new JsonReadError(`expected a [key, value] pair, found ${describeNode(pair)}`), `[entry ${i}]`);
            try {
              out.set(key(pair[0]), value(pair[1]));
            } catch (e) {
              throw under(e, `[entry ${i}]`);
            }
          }
          return out;
        };
      }
      case 'struct': {
        const fields = schema.fields ?? [];
        const n = fields.length;
        const names = fields.map((f) => f.field);
        const readers = fields.map((f) => this.reader(f));
        const careful = names.map((name) => name in Object.prototype);
        return (node) => {
          if (!isObjectNode(node)) return expected('an object (a struct)', node);
          const out: Record<string, unknown> = {};
          for (let i = 0; i < n; i++) {
            const name = names[i];
            try {
              if (careful[i]) put(out, name, readers[i](Object.hasOwn(node, name) ? node[name] : undefined));
              else out[name] = readers[i](node[name]);
            } catch (e) {
              throw under(e, name);
            }
          }
          return out;
        };
      }
      default:
        return fail(`invalid schema: unknown type ${JSON.stringify(schema.type)}`);
    }
  }
}

function compileLogical(schema: Schema, state: ReadState): Read | undefined {
  switch (schema.name) {
    case DECIMAL: {
      if (schema.type !== 'bytes') return undefined;
      let scale: number;
      try {
        scale = decimalScale(schema);
      } catch (e) {
        return fail((e as Error).message);
      }
      return (n) => {
        try {
          if (typeof n === 'string') {
            if (n.length % 4 !== 0 || !BASE64.test(n)) return fail('invalid Decimal: not a base64 string');
            return formatDecimal(bytesToUnscaled(Buffer.from(n, 'base64')), scale);
          }
          if (typeof n === 'number') {
            // A double may have dropped digits the JSON had: read them from the source text.
            if (!state.precise) throw NEEDS_PRECISION;
            return decimalText(String(n), scale);
          }
          if (typeof n === 'bigint') return decimalText(String(n), scale);
          if (n instanceof JsonNumberText) return decimalText(n.text, scale);
        } catch (e) {
          if (e instanceof JsonReadError || e instanceof NeedsPrecision) throw e;
          return fail(`invalid Decimal: ${(e as Error).message}`);
        }
        return expected('a Decimal (a base64 string or a number)', n);
      };
    }
    case DATE:
      if (schema.type !== 'int32') return undefined;
      return (n) => (typeof n === 'number' && Number.isInteger(n) ? new Date(n * MS_PER_DAY) : expected('a Date (an integer number of days)', n));
    case TIME:
      if (schema.type !== 'int32') return undefined;
      return (n) => (typeof n === 'number' && Number.isInteger(n) ? new Date(n) : expected('a Time (an integer number of milliseconds)', n));
    case TIMESTAMP:
      if (schema.type !== 'int64') return undefined;
      return (n) => (typeof n === 'number' && Number.isInteger(n) ? new Date(n) : expected('a Timestamp (an integer number of milliseconds)', n));
    default:
      return undefined;
  }
}
