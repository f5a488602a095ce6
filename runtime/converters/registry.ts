/**
 * Converters by class name or alias, and the Kafka Connect rule for which converter a connector
 * gets: `key.converter` / `value.converter` in the connector config win, configured by that
 * config's `key.converter.*` / `value.converter.*` properties; otherwise the worker's setting and
 * the worker's prefixed properties. The two sources never mix, as in Connect.
 */
import { ConfigError } from '../api/index.ts';
import type { Converter, ConverterPlugin, FieldError } from '../api/index.ts';
import { byteArrayConverterPlugin } from './byte-array-converter.ts';
import { JSON_CONVERTER_CLASS, jsonConverterPlugin } from './json-converter.ts';
import { stringConverterPlugin } from './string-converter.ts';

export class ConverterRegistry {
  private readonly byClass = new Map<string, ConverterPlugin>();
  /** Aliases and simple class names, lower-cased. */
  private readonly byAlias = new Map<string, ConverterPlugin>();

  /** Adds a plugin; a class name already registered keeps its first plugin (returns false). */
  register(plugin: ConverterPlugin): boolean {
    if (this.byClass.has(plugin.className)) return false;
    this.byClass.set(plugin.className, plugin);
    const simple = plugin.className.slice(plugin.className.lastIndexOf('.') + 1);
    for (const alias of [...(plugin.aliases ?? []), simple]) {
      const k = alias.toLowerCase();
      if (!this.byAlias.has(k)) this.byAlias.set(k, plugin);
    }
    return true;
  }

  /** By full class name (exact), alias or simple class name (any case). */
  get(classOrAlias: string): ConverterPlugin | undefined {
    const name = classOrAlias.trim();
    return this.byClass.get(name) ?? this.byAlias.get(name.toLowerCase());
  }

  list(): ConverterPlugin[] {
    return [...this.byClass.values()];
  }

  /** `class (aliases)` of every converter, for error messages. */
  describe(): string {
    return this.list().map((p) => `${p.className} (${(p.aliases ?? []).join(', ')})`).join('; ');
  }
}

/** A registry holding JsonConverter, StringConverter and ByteArrayConverter. */
export function builtinConverterRegistry(): ConverterRegistry {
  const r = new ConverterRegistry();
  r.register(jsonConverterPlugin);
  r.register(stringConverterPlugin);
  r.register(byteArrayConverterPlugin);
  return r;
}

let defaultRegistry: ConverterRegistry | undefined;

/**
 * The key or value converter of a connector. `workerDefaults` holds the worker's
 * `key.converter` / `value.converter` and their prefixed properties, in the same flat form. With
 * neither set, JsonConverter with its defaults. Throws ConfigError naming `<which>.converter`
 * for an unknown class, and `<which>.converter.<prop>` for a bad converter property.
 */
export function converterFromConfig(
  connectorConfig: Record<string, string | undefined>,
  which: 'key' | 'value',
  workerDefaults: Record<string, string | undefined> = {},
  registry: ConverterRegistry = (defaultRegistry ??= builtinConverterRegistry()),
): Converter {
  const classKey = `${which}.converter`;
  const fromConnector = nonEmpty(connectorConfig[classKey]);
  const fromWorker = nonEmpty(workerDefaults[classKey]);
  const source = fromConnector !== undefined ? connectorConfig : fromWorker !== undefined ? workerDefaults : {};
  const origin = fromConnector !== undefined ? '' : fromWorker !== undefined ? ' (from the worker configuration)' : '';
  const className = fromConnector ?? fromWorker ?? JSON_CONVERTER_CLASS;

  const plugin = registry.get(className);
  if (!plugin) {
    const message = `Class ${className}${origin} could not be found. Known converters: ${registry.describe()}.`;
    throw ConfigError.fromFields([{ name: classKey, message: `Invalid value ${className} for configuration ${classKey}: ${message}` }]);
  }

  const prefix = `${classKey}.`;
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) {
    if (k.startsWith(prefix) && v !== undefined) props[k.slice(prefix.length)] = v;
  }
  props['converter.type'] = which;
  try {
    return plugin.create(props, which === 'key');
  } catch (e) {
    if (e instanceof ConfigError) {
      const fields: FieldError[] = e.fields.map((f) => ({ name: prefix + f.name, message: f.message }));
      throw fields.length > 0
        ? ConfigError.fromFields(fields, `Invalid ${classKey} configuration${origin}`)
        : new ConfigError(`Invalid ${classKey} configuration${origin}: ${e.message}`, [{ name: classKey, message: e.message }], { cause: e });
    }
    throw e;
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
