/**
 * Records as connectors and transforms see them.
 *
 * Field names follow Kafka Connect. Source positions are `sourcePartition` and `sourceOffset`
 * (DESIGN.md's `{partition, offset}`) rather than bare `partition`/`offset`, because those words
 * also name a Kafka partition and offset, which records carry too.
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Kafka Connect's logical schema, in the JSON form its JsonConverter writes in `schemas.enable` envelopes. */
export type SchemaType =
  | 'int8' | 'int16' | 'int32' | 'int64' | 'float32' | 'float64'
  | 'boolean' | 'string' | 'bytes' | 'array' | 'map' | 'struct';

export interface Schema {
  type: SchemaType;
  optional?: boolean;
  /** Logical type name, e.g. `org.apache.kafka.connect.data.Timestamp`, `io.debezium.time.MicroTimestamp`. */
  name?: string;
  version?: number;
  doc?: string;
  default?: unknown;
  parameters?: Record<string, string>;
  /** struct: fields in order; each has its name in `field`. */
  fields?: FieldSchema[];
  /** array: the element schema. */
  items?: Schema;
  /** map: key and value schemas. */
  keys?: Schema;
  values?: Schema;
}

export interface FieldSchema extends Schema {
  field: string;
}

/** A header; values are strings, numbers, booleans, JSON or bytes. Keys may repeat, order is kept. */
export interface Header {
  key: string;
  value: unknown;
}

/** What every record has: the shape transforms and converters work on. */
export interface ConnectRecord {
  topic: string;
  /** Kafka partition; on source records, the runtime chooses one from the key when absent. */
  kafkaPartition?: number;
  key?: unknown;
  keySchema?: Schema;
  /** null is a tombstone. */
  value: unknown;
  valueSchema?: Schema;
  /** Milliseconds since the epoch. */
  timestamp?: number;
  headers?: Header[];
}

/** A record a source task returns from poll(). */
export interface SourceRecord extends ConnectRecord {
  /** Which stream this record belongs to (a table, a file, an API cursor). Opaque JSON the connector owns. */
  sourcePartition: JsonObject;
  /** Where in that stream this record is. The runtime stores it and hands it back on restart. */
  sourceOffset: JsonObject;
}

/** A record delivered to a sink task's put(). */
export interface SinkRecord extends ConnectRecord {
  kafkaPartition: number;
  kafkaOffset: number;
  /** Topic, partition and offset before transforms ran (KIP-793): what offsets are committed against. */
  originalTopic: string;
  originalKafkaPartition: number;
  originalKafkaOffset: number;
  /**
   * The value's JSON text exactly as it was read from Kafka, when the value converter reads plain
   * JSON (JsonConverter with `schemas.enable=false`) and the connector has no transforms: a sink
   * that writes JSON can write these bytes instead of serializing `value` again. Absent otherwise
   * (in-process topics, envelopes, other converters, any transform); `value` is always set.
   * Sinks must not modify it.
   */
  valueJson?: Buffer;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** `topic-partition`, the key the runtime uses for offset maps. */
export function topicPartitionKey(tp: TopicPartition): string {
  return `${tp.topic}-${tp.partition}`;
}

/** Offsets a sink has made durable: the next offset to read, per topic-partition (Kafka's commit convention). */
export type SinkOffsets = Map<string, { topic: string; partition: number; offset: number }>;
