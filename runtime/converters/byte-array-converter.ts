/**
 * Kafka Connect's ByteArrayConverter: bytes pass through untouched. Writing accepts a Buffer or
 * Uint8Array (with a bytes schema or none); reading gives an optional bytes schema and a Buffer.
 * Null is null both ways.
 */
import { DataError, defineConfig } from '../api/index.ts';
import type { Converter, ConverterPlugin, Header, Schema } from '../api/index.ts';
import { describeValue } from './logical-types.ts';

export const BYTE_ARRAY_CONVERTER_CLASS = 'org.apache.kafka.connect.converters.ByteArrayConverter';

/** Connect's Schema.OPTIONAL_BYTES_SCHEMA. */
export const OPTIONAL_BYTES_SCHEMA: Schema = Object.freeze({ type: 'bytes', optional: true });

export const byteArrayConverterConfig = defineConfig({
  'converter.type': { type: 'string', default: null, internal: true, doc: 'key, value or header: set by the runtime.' },
});

export class ByteArrayConverter implements Converter {
  fromConnectData(topic: string, schema: Schema | undefined, value: unknown, _headers?: Header[]): Buffer | null {
    if (schema && schema.type !== 'bytes') {
      throw new DataError(`ByteArrayConverter cannot write a record for topic "${topic}" with a ${schema.type} schema: it writes only bytes. Use a converter that matches the data (JsonConverter, StringConverter).`);
    }
    if (value === null || value === undefined) return null;
    if (Buffer.isBuffer(value)) return value;
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (value instanceof ArrayBuffer) return Buffer.from(value);
    throw new DataError(`ByteArrayConverter cannot write a record for topic "${topic}": the value must be bytes (a Buffer or Uint8Array), not ${describeValue(value)}.`);
  }

  toConnectData(_topic: string, data: Buffer | null, _headers?: Header[]): { schema?: Schema; value: unknown } {
    return { schema: OPTIONAL_BYTES_SCHEMA, value: data ?? null };
  }
}

export const byteArrayConverterPlugin: ConverterPlugin = {
  className: BYTE_ARRAY_CONVERTER_CLASS,
  aliases: ['bytes', 'ByteArrayConverter'],
  config: byteArrayConverterConfig,
  create() {
    return new ByteArrayConverter();
  },
};
