/** ReplaceField$Key / ReplaceField$Value: keep, drop and rename top-level fields. */
import { custom, defineConfig } from '../api/config-spec.ts';
import type { ConnectRecord, FieldSchema, Schema } from '../api/records.ts';
import type { TransformFn } from '../api/transform.ts';
import { keyValuePlugins } from './util/record-side.ts';
import { asField, fieldValue, requireMap, requireStruct, schemaBasics, schemaCache, structSchema } from './util/values.ts';

function renameError(mappings: string[]): string | undefined {
  const bad = mappings.find((m) => m.split(':').length !== 2);
  return bad === undefined ? undefined : `Invalid rename mapping: ${bad}. Use old:new pairs, e.g. foo:bar,abc:xyz.`;
}

export const replaceFieldConfig = defineConfig({
  exclude: { type: 'list', default: [], importance: 'medium', doc: 'Fields to exclude. This takes precedence over the fields to include.' },
  include: { type: 'list', default: [], importance: 'medium', doc: 'Fields to include. If specified, only these fields will be used.' },
  renames: {
    type: 'list', default: [], importance: 'medium', doc: 'Field rename mappings.',
    validate: custom<string[]>((v) => renameError(v), 'list of colon-delimited pairs, e.g. foo:bar,abc:xyz'),
  },
  whitelist: { type: 'list', default: null, importance: 'low', doc: 'Deprecated: use include. Used only when include is not set.' },
  blacklist: { type: 'list', default: null, importance: 'low', doc: 'Deprecated: use exclude. Used only when exclude is not set.' },
  'replace.null.with.default': {
    type: 'boolean', default: true, importance: 'medium',
    doc: 'Whether a null field that has a default value in its schema reads as that default (true) or stays null (false).',
  },
});

export const [ReplaceFieldKey, ReplaceFieldValue] = keyValuePlugins(
  'ReplaceField',
  'Filter or rename fields.',
  replaceFieldConfig,
  (raw, side, where): TransformFn => {
    const config = replaceFieldConfig.parse(raw);
    const given = (key: string) => raw[key] !== undefined && raw[key] !== null && raw[key] !== '';
    const exclude = new Set(given('exclude') ? config.exclude : (config.blacklist ?? []));
    const include = new Set(given('include') ? config.include : (config.whitelist ?? []));
    const renames = new Map(config.renames.map((m) => m.split(':') as [string, string]));
    const withDefault = config['replace.null.with.default'];
    const keep = (name: string) => !exclude.has(name) && (include.size === 0 || include.has(name));
    const renamed = (name: string) => renames.get(name) ?? name;
    const purpose = 'Replacing fields';

    const updated = schemaCache<{ schema: Schema; sources: FieldSchema[] }>();
    const build = (schema: Schema) => {
      const sources = (schema.fields ?? []).filter((f) => keep(f.field));
      return { schema: structSchema(schemaBasics(schema), sources.map((f) => asField(renamed(f.field), f)), where), sources };
    };

    return <R extends ConnectRecord>(record: R): R => {
      const value = side.value(record);
      if (value === null) return record;
      const schema = side.schema(record);
      if (!schema) {
        const out: Record<string, unknown> = {};
        for (const [name, v] of Object.entries(requireMap(value, where, purpose))) {
          if (keep(name)) out[renamed(name)] = v;
        }
        return side.update(record, undefined, out);
      }
      const struct = requireStruct(value, schema, where, purpose);
      const { schema: newSchema, sources } = updated(schema, () => build(schema));
      const out: Record<string, unknown> = {};
      for (const f of sources) out[renamed(f.field)] = fieldValue(struct, f, withDefault);
      return side.update(record, newSchema, out);
    };
  },
);
