/**
 * Single message transforms, predicates and converters: small pure functions over records,
 * configured by string maps like connectors. Built-ins live in runtime/transforms and
 * runtime/converters; third-party ones implement these interfaces.
 */
import type { ConfigSpec } from './config-spec.ts';
import type { ConnectRecord, Header, Schema } from './records.ts';

/** Returns the changed record (a new object; never mutate the input), or null to drop it. */
export type TransformFn = <R extends ConnectRecord>(record: R) => R | null;

export interface TransformPlugin {
  /** e.g. `org.apache.kafka.connect.transforms.InsertField$Value`. */
  className: string;
  aliases?: string[];
  description?: string;
  config: ConfigSpec<any>;
  /** Build a transform from its (already prefix-stripped) config. Throws ConfigError on bad config. */
  create(config: Record<string, string>): TransformFn;
}

export type PredicateFn = (record: ConnectRecord) => boolean;

export interface PredicatePlugin {
  className: string;
  aliases?: string[];
  description?: string;
  config: ConfigSpec<any>;
  create(config: Record<string, string>): PredicateFn;
}

/** Converts between record keys/values and bytes on a topic. */
export interface Converter {
  fromConnectData(topic: string, schema: Schema | undefined, value: unknown, headers?: Header[]): Buffer | null;
  toConnectData(topic: string, data: Buffer | null, headers?: Header[]): { schema?: Schema; value: unknown };
  /**
   * True when the bytes this converter reads are the value's JSON text as it is (JsonConverter
   * with `schemas.enable=false`): the runtime may then hand sinks those bytes as `valueJson`.
   */
  readonly readsPlainJson?: boolean;
}

export interface ConverterPlugin {
  /** e.g. `org.apache.kafka.connect.json.JsonConverter`. */
  className: string;
  aliases?: string[];
  config: ConfigSpec<any>;
  /** `isKey` tells a key converter from a value converter, as in Kafka Connect's configure(). */
  create(config: Record<string, string>, isKey: boolean): Converter;
}
