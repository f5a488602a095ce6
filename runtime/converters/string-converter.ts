/**
 * Kafka Connect's StringConverter: values as text in `converter.encoding` (UTF-8 by default).
 * Writing: strings as they are; bytes as they are; numbers, booleans and bigints as their digits;
 * Dates as ISO-8601; other objects as JSON (Connect would write Java's toString()). Reading gives
 * an optional string schema and the text. Null is null both ways (tombstones pass through).
 */
import { TextDecoder } from 'node:util';
import { ConfigError, DataError, custom, defineConfig } from '../api/index.ts';
import type { Converter, ConverterPlugin, Header, Schema } from '../api/index.ts';
import { JsonWriteError, writeSchemaless } from './json-encode.ts';

export const STRING_CONVERTER_CLASS = 'org.apache.kafka.connect.storage.StringConverter';

/** Connect's Schema.OPTIONAL_STRING_SCHEMA. */
export const OPTIONAL_STRING_SCHEMA: Schema = Object.freeze({ type: 'string', optional: true });

type Encoding = 'utf8' | 'utf16le' | 'utf16be' | 'latin1' | 'ascii';

/** Java charset names (and Node's) -> how we encode. */
const ENCODINGS: Record<string, Encoding> = {
  'utf-8': 'utf8', utf8: 'utf8',
  'utf-16le': 'utf16le', utf16le: 'utf16le', 'ucs-2': 'utf16le', ucs2: 'utf16le',
  'utf-16be': 'utf16be', utf16be: 'utf16be',
  'iso-8859-1': 'latin1', iso8859_1: 'latin1', latin1: 'latin1',
  'us-ascii': 'ascii', ascii: 'ascii',
};

export function parseEncoding(name: string): Encoding | undefined {
  return ENCODINGS[name.trim().toLowerCase()];
}

export const stringConverterConfig = defineConfig({
  'converter.encoding': {
    type: 'string',
    default: 'UTF-8',
    importance: 'high',
    validate: custom<string>(
      (v) => (parseEncoding(v) ? undefined : `Unsupported character encoding. Use one of UTF-8, UTF-16LE, UTF-16BE, ISO-8859-1, US-ASCII.`),
      '[UTF-8, UTF-16LE, UTF-16BE, ISO-8859-1, US-ASCII]',
    ),
    doc: 'The name of the character encoding used to write and read strings.',
  },
  'converter.type': { type: 'string', default: null, internal: true, doc: 'key, value or header: set by the runtime.' },
});

export class StringConverter implements Converter {
  private readonly encoding: Encoding;
  private readonly decoder: TextDecoder | undefined;

  constructor(encoding = 'UTF-8') {
    const e = parseEncoding(encoding);
    if (!e) throw ConfigError.fromFields([{ name: 'converter.encoding', message: `Unsupported character encoding ${JSON.stringify(encoding)}.` }]);
    this.encoding = e;
    this.decoder = e === 'utf16be' ? new TextDecoder('utf-16be') : undefined;
  }

  fromConnectData(topic: string, _schema: Schema | undefined, value: unknown, _headers?: Header[]): Buffer | null {
    if (value === null || value === undefined) return null;
    if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return this.encode(textOf(topic, value));
  }

  toConnectData(_topic: string, data: Buffer | null, _headers?: Header[]): { schema?: Schema; value: unknown } {
    if (data === null || data === undefined) return { schema: OPTIONAL_STRING_SCHEMA, value: null };
    const value = this.decoder ? this.decoder.decode(data) : data.toString(this.encoding as BufferEncoding);
    return { schema: OPTIONAL_STRING_SCHEMA, value };
  }

  private encode(text: string): Buffer {
    if (this.encoding !== 'utf16be') return Buffer.from(text, this.encoding);
    return Buffer.from(text, 'utf16le').swap16();
  }
}

function textOf(topic: string, value: unknown): string {
  switch (typeof value) {
    case 'string': return value;
    case 'number': case 'bigint': case 'boolean': return String(value);
    default:
      if (value instanceof Date) return value.toISOString();
      try {
        return writeSchemaless(value);
      } catch (e) {
        if (e instanceof JsonWriteError) throw new DataError(`Cannot convert a record value for topic "${topic}" to a string: ${e.describe()}.`, { cause: e });
        throw e;
      }
  }
}

export const stringConverterPlugin: ConverterPlugin = {
  className: STRING_CONVERTER_CLASS,
  aliases: ['string', 'StringConverter'],
  config: stringConverterConfig,
  create(config) {
    const c = stringConverterConfig.parse(config);
    return new StringConverter(c['converter.encoding']);
  },
};
