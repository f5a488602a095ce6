/**
 * Kafka Connect's JsonConverter, byte for byte: with `schemas.enable=true` (the default) every
 * message is an envelope `{"schema": {...}, "payload": ...}` in Connect's schema format; without,
 * plain JSON. Logical types, bytes and maps are encoded as Connect encodes them (see
 * logical-types.ts for the values records hold). int64 values beyond 2^53 are bigints both ways.
 *
 * One deliberate difference: a null value is always written as null bytes (a tombstone), also when
 * it has a schema; Connect writes `{"schema":...,"payload":null}` then, which a compacted topic
 * does not treat as a delete.
 */
import { DataError, defineConfig, oneOf, range } from '../api/index.ts';
import type { Converter, ConverterPlugin, Header, Schema } from '../api/index.ts';
import { JsonDecoder, JsonReadError, NeedsPrecision, hasUnsafeInteger, parseJson, parseJsonPrecise, unwrapPrecise } from './json-decode.ts';
import { ByteArena } from './byte-arena.ts';
import { ByteWriter } from './byte-writer.ts';
import { JsonEncoder, JsonWriteError, writeSchemaless, type DecimalFormat } from './json-encode.ts';

export const JSON_CONVERTER_CLASS = 'org.apache.kafka.connect.json.JsonConverter';

export const jsonConverterConfig = defineConfig({
  'schemas.enable': {
    type: 'boolean',
    default: true,
    importance: 'high',
    doc: 'Include schemas within each of the serialized values and keys: {"schema": ..., "payload": ...}.',
  },
  'schemas.cache.size': {
    type: 'int',
    default: 1000,
    validate: range(0),
    importance: 'high',
    doc: 'The maximum number of schemas that can be cached in this converter instance.',
  },
  'decimal.format': {
    type: 'string',
    default: 'BASE64',
    validate: oneOf(['BASE64', 'NUMERIC'], { caseInsensitive: true }),
    importance: 'low',
    doc: 'How Decimal values are written: BASE64 (base64 of the unscaled bytes, as Connect does by default) or NUMERIC (a JSON number with every digit).',
  },
  'replace.null.with.default': {
    type: 'boolean',
    default: true,
    importance: 'low',
    doc: 'Whether a null field with a schema default is written and read as that default.',
  },
  'converter.type': {
    type: 'string',
    default: null,
    internal: true,
    doc: 'key, value or header: set by the runtime.',
  },
});

export interface JsonConverterOptions {
  schemasEnable?: boolean;
  decimalFormat?: DecimalFormat;
  replaceNullWithDefault?: boolean;
  schemaCacheSize?: number;
  /** Only for error messages: a key converter says `key.converter...`. */
  isKey?: boolean;
}

const NULL_SCHEMA_HEAD = Buffer.from('{"schema":null,"payload":', 'utf8');
const CLOSE_BRACE = 0x7d;

/** `head`, then `payload` as UTF-8, then `}`: one buffer, written once. */
function withHead(arena: ByteArena, head: Buffer, payload: string): Buffer {
  const n = Buffer.byteLength(payload, 'utf8');
  const out = arena.alloc(head.length + n + 1);
  head.copy(out, 0);
  out.write(payload, head.length, n, 'utf8');
  out[head.length + n] = CLOSE_BRACE;
  return out;
}

export class JsonConverter implements Converter {
  readonly schemasEnable: boolean;
  readonly readsPlainJson: boolean;
  private readonly encoder: JsonEncoder;
  private readonly decoder: JsonDecoder;
  private readonly role: 'key' | 'value';
  private readonly arena = new ByteArena();
  /** Records with a schema are written straight into bytes here (see byte-writer.ts for why). */
  private readonly out = new ByteWriter();

  constructor(options: JsonConverterOptions = {}) {
    this.schemasEnable = options.schemasEnable ?? true;
    this.readsPlainJson = !this.schemasEnable;
    const replaceNullWithDefault = options.replaceNullWithDefault ?? true;
    this.encoder = new JsonEncoder({ decimalFormat: options.decimalFormat ?? 'BASE64', replaceNullWithDefault });
    this.decoder = new JsonDecoder({ replaceNullWithDefault, schemaCacheSize: options.schemaCacheSize ?? 1000 });
    this.role = options.isKey ? 'key' : 'value';
  }

  fromConnectData(topic: string, schema: Schema | undefined, value: unknown, _headers?: Header[]): Buffer | null {
    if (value === null || value === undefined) return null;
    try {
      if (!schema) return this.schemasEnable ? withHead(this.arena, NULL_SCHEMA_HEAD, writeSchemaless(value)) : this.arena.fromString(writeSchemaless(value));
      // The envelope's head (`{"schema":...,"payload":`) is the same bytes for every record of a
      // schema: kept as bytes, copied in front of the payload (most of an envelope is its schema).
      return this.encode(this.schemasEnable ? this.encoder.envelopeHead(schema) : undefined, schema, value);
    } catch (e) {
      if (e instanceof JsonWriteError) {
        throw new DataError(`Cannot convert the ${this.role} of a record for topic "${topic}" to JSON: ${e.describe()}.`, { cause: e });
      }
      throw e;
    }
  }

  /** `head`, the payload, and `}` after a head: one record in the writer's chunk. */
  private encode(head: Buffer | undefined, schema: Schema, value: unknown): Buffer {
    const w = this.out;
    w.begin();
    try {
      if (head !== undefined) w.bytes(head);
      this.encoder.payloadInto(schema, value, w);
      if (head !== undefined) w.byte(CLOSE_BRACE);
    } catch (e) {
      w.abort();
      throw e;
    }
    return w.finish();
  }

  toConnectData(topic: string, data: Buffer | null, _headers?: Header[]): { schema?: Schema; value: unknown } {
    if (data === null || data === undefined || data.length === 0) return { value: null };
    if (this.schemasEnable) {
      const known = this.decoder.knownEnvelope(data);
      if (known) {
        const read = this.tryPayloadText(topic, known.schema, known.payloadText);
        if (read) return read;
      }
    }
    const text = data.toString('utf8');
    let json: unknown;
    try {
      json = parseJson(text);
    } catch (e) {
      throw new DataError(
        `The ${this.role} of a message in topic "${topic}" is not valid JSON (${(e as Error).message}). ` +
          `If this topic is not written as JSON, set ${this.role}.converter to the converter it was written with ` +
          '(for example org.apache.kafka.connect.storage.StringConverter).',
        { cause: e },
      );
    }
    if (!this.schemasEnable) return { value: hasUnsafeInteger(json) ? unwrapPrecise(parseJsonPrecise(text)) : json };

    if (!isEnvelope(json)) {
      throw new DataError(
        `The ${this.role} of a message in topic "${topic}" has no schema envelope: with schemas.enable=true (the default), ` +
          `each message must be a JSON object with exactly the two fields "schema" and "payload", but this one is ${describeTop(json)}. ` +
          `If the topic holds plain JSON, set ${this.role}.converter.schemas.enable=false.`,
      );
    }
    if (json.schema === null) {
      return { value: hasUnsafeInteger(json.payload) ? unwrapPrecise((parseJsonPrecise(text) as { payload: unknown }).payload) : json.payload };
    }
    try {
      return this.readEnvelope(topic, json, false);
    } catch (e) {
      if (!(e instanceof NeedsPrecision)) throw e;
      return this.readEnvelope(topic, parseJsonPrecise(text) as { schema: unknown; payload: unknown }, true);
    }
  }

  private readEnvelope(topic: string, json: { schema: unknown; payload: unknown }, precise: boolean): { schema: Schema; value: unknown } {
    let schema: Schema;
    try {
      schema = this.decoder.schemaFromJson(json.schema, precise);
    } catch (e) {
      throw this.readError(topic, e, 'its schema');
    }
    try {
      return { schema, value: this.decoder.read(schema, json.payload, precise) };
    } catch (e) {
      throw this.readError(topic, e, 'its payload');
    }
  }

  /** The payload of a message whose schema is the cached one; undefined when the payload alone is not valid JSON. */
  private tryPayloadText(topic: string, schema: Schema, payloadText: string): { schema: Schema; value: unknown } | undefined {
    let payload: unknown;
    try {
      payload = parseJson(payloadText);
    } catch {
      return undefined;
    }
    try {
      try {
        return { schema, value: this.decoder.read(schema, payload, false) };
      } catch (e) {
        if (!(e instanceof NeedsPrecision)) throw e;
        return { schema, value: this.decoder.read(schema, parseJsonPrecise(payloadText), true) };
      }
    } catch (e) {
      throw this.readError(topic, e, 'its payload');
    }
  }

  private readError(topic: string, e: unknown, part: string): unknown {
    if (!(e instanceof JsonReadError)) return e;
    return new DataError(`Cannot read the ${this.role} of a message in topic "${topic}" as Connect data: ${part}, ${e.describe()}.`, { cause: e });
  }
}

function isEnvelope(json: unknown): json is { schema: unknown; payload: unknown } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  let n = 0;
  for (const k in json) {
    if (k !== 'schema' && k !== 'payload') return false;
    n++;
  }
  return n === 2;
}

function describeTop(json: unknown): string {
  if (Array.isArray(json)) return 'a JSON array';
  if (typeof json !== 'object' || json === null) return `a JSON ${json === null ? 'null' : typeof json}`;
  const keys = Object.keys(json);
  if (keys.length === 0) return 'an empty object';
  const shown = keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ');
  return `an object with the field${keys.length === 1 ? '' : 's'} ${shown}${keys.length > 5 ? ', ...' : ''}`;
}

export const jsonConverterPlugin: ConverterPlugin = {
  className: JSON_CONVERTER_CLASS,
  aliases: ['json', 'JsonConverter'],
  config: jsonConverterConfig,
  create(config, isKey) {
    const c = jsonConverterConfig.parse(config);
    return new JsonConverter({
      schemasEnable: c['schemas.enable'],
      schemaCacheSize: c['schemas.cache.size'],
      decimalFormat: c['decimal.format'].toUpperCase() as DecimalFormat,
      replaceNullWithDefault: c['replace.null.with.default'],
      isKey,
    });
  },
};
