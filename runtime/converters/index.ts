/** Built-in converters (Kafka Connect's JSON, String and ByteArray) and how connectors get theirs. */
export { JsonConverter, jsonConverterPlugin, JSON_CONVERTER_CLASS, type JsonConverterOptions } from './json-converter.ts';
export { StringConverter, stringConverterPlugin, STRING_CONVERTER_CLASS, OPTIONAL_STRING_SCHEMA } from './string-converter.ts';
export { ByteArrayConverter, byteArrayConverterPlugin, BYTE_ARRAY_CONVERTER_CLASS, OPTIONAL_BYTES_SCHEMA } from './byte-array-converter.ts';
export { ConverterRegistry, builtinConverterRegistry, converterFromConfig } from './registry.ts';
export {
  DECIMAL, DATE, TIME, TIMESTAMP,
  decimalSchema, dateSchema, timeSchema, timestampSchema,
} from './logical-types.ts';
