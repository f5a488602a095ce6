/**
 * Most Connect transforms come as a pair, `X$Key` and `X$Value`, that differ only in which part
 * of the record they read and replace. A RecordSide is that difference.
 */
import type { ConfigSpec } from '../../api/config-spec.ts';
import type { ConnectRecord, Schema } from '../../api/records.ts';
import type { TransformFn, TransformPlugin } from '../../api/transform.ts';
import type { Where } from './values.ts';

export const TRANSFORMS_PACKAGE = 'org.apache.kafka.connect.transforms';

export interface RecordSide {
  readonly label: 'Key' | 'Value';
  readonly part: 'key' | 'value';
  schema(record: ConnectRecord): Schema | undefined;
  /** The key or value; an absent key reads as null. */
  value(record: ConnectRecord): unknown;
  /** A new record with this side's schema and value replaced (no schema: the schema field is left out). */
  update<R extends ConnectRecord>(record: R, schema: Schema | undefined, value: unknown): R;
}

export const KEY: RecordSide = {
  label: 'Key',
  part: 'key',
  schema: (record) => record.keySchema,
  value: (record) => record.key ?? null,
  update<R extends ConnectRecord>(record: R, schema: Schema | undefined, value: unknown): R {
    const out: R = { ...record, key: value };
    if (schema) out.keySchema = schema;
    else delete out.keySchema;
    return out;
  },
};

export const VALUE: RecordSide = {
  label: 'Value',
  part: 'value',
  schema: (record) => record.valueSchema,
  value: (record) => record.value ?? null,
  update<R extends ConnectRecord>(record: R, schema: Schema | undefined, value: unknown): R {
    const out: R = { ...record, value };
    if (schema) out.valueSchema = schema;
    else delete out.valueSchema;
    return out;
  },
};

/** The `X$Key` and `X$Value` plugins of one transform. */
export function keyValuePlugins(
  simpleName: string,
  description: string,
  config: ConfigSpec<any>,
  create: (config: Record<string, string>, side: RecordSide, where: Where) => TransformFn,
): [TransformPlugin, TransformPlugin] {
  const plugin = (side: RecordSide): TransformPlugin => {
    const alias = `${simpleName}$${side.label}`;
    return {
      className: `${TRANSFORMS_PACKAGE}.${alias}`,
      aliases: [alias],
      description: `${description} Works on the record ${side.part}.`,
      config,
      create: (raw) => create(raw, side, { transform: alias, part: side.part }),
    };
  };
  return [plugin(KEY), plugin(VALUE)];
}
