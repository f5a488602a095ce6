/**
 * One declarative definition per connector (or transform, or converter) config, from which come:
 * validation with a message per field, typed access, and the description served at
 * `GET /connector-plugins/{p}/config` and `PUT /connector-plugins/{p}/config/validate`
 * (Kafka Connect's ConfigDef, as a plain object).
 *
 * ```ts
 * const spec = defineConfig({
 *   topic: { type: 'string', doc: 'Topic to write to.', importance: 'high' },
 *   'batch.size': { type: 'int', default: 100, validate: range(1, 10_000), doc: '...' },
 * });
 * const cfg = spec.parse(props);   // cfg['batch.size'] is a number; throws ConfigError listing every bad field
 * ```
 * A key without `default` is required. Raw values arrive as strings (Kafka Connect's convention);
 * numbers and booleans given in JSON are accepted too.
 */
import { ConfigError, type FieldError } from './errors.ts';

export type ConfigType = 'string' | 'int' | 'long' | 'double' | 'boolean' | 'list' | 'password' | 'class';
export type Importance = 'high' | 'medium' | 'low';
export type Width = 'none' | 'short' | 'medium' | 'long';

type ValueOf<T extends ConfigType> =
  T extends 'int' | 'long' | 'double' ? number
  : T extends 'boolean' ? boolean
  : T extends 'list' ? string[]
  : string;

/** Returns an error message when the parsed value is not acceptable, or undefined when it is. */
export type Validator<V = any> = ((value: V, all: Record<string, unknown>) => string | undefined) & {
  /** Shown in docs, e.g. `[1,...,100]` or `[none, all]`. */
  describe?: string;
  recommended?: string[];
};

export interface ConfigKey<T extends ConfigType = ConfigType> {
  type: T;
  doc: string;
  /** No default means required. `null` means optional with no value. */
  default?: ValueOf<T> | null;
  importance?: Importance;
  group?: string;
  orderInGroup?: number;
  width?: Width;
  displayName?: string;
  dependents?: string[];
  /** Runs on the parsed value (a number for int, string[] for list, ...). */
  validate?: Validator<any>;
  /** Hidden keys are accepted but left out of docs. */
  internal?: boolean;
}

export type ConfigDefinition = Record<string, ConfigKey>;

export type ParsedConfig<D extends ConfigDefinition> = {
  [K in keyof D]: D[K] extends ConfigKey<infer T>
    ? D[K]['default'] extends null ? ValueOf<T> | null : ValueOf<T>
    : never;
};

/** Kafka Connect's ConfigKeyInfo JSON shape. */
export interface ConfigKeyInfo {
  name: string;
  type: string;
  required: boolean;
  default_value: string | null;
  importance: string;
  documentation: string;
  group: string | null;
  order: number;
  width: string;
  display_name: string;
  dependents: string[];
}

/** Kafka Connect's ConfigValueInfo JSON shape. */
export interface ConfigValueInfo {
  name: string;
  value: string | null;
  recommended_values: string[];
  errors: string[];
  visible: boolean;
}

export interface ConfigInfo {
  definition: ConfigKeyInfo;
  value: ConfigValueInfo;
}

export type RawConfig = Record<string, unknown>;

export class ConfigSpec<D extends ConfigDefinition = ConfigDefinition> {
  readonly definition: D;

  constructor(definition: D) {
    this.definition = definition;
  }

  /** Keys in definition order. */
  get names(): string[] {
    return Object.keys(this.definition);
  }

  /** A new spec with more keys (later keys win). */
  extend<E extends ConfigDefinition>(more: E): ConfigSpec<D & E> {
    return new ConfigSpec({ ...this.definition, ...more } as D & E);
  }

  /** Typed values; throws one ConfigError naming every bad field. Unknown keys are kept as they are. */
  parse(raw: RawConfig): ParsedConfig<D> & Record<string, unknown> {
    const { values, errors } = this.check(raw);
    if (errors.length > 0) throw ConfigError.fromFields(errors);
    return values as ParsedConfig<D> & Record<string, unknown>;
  }

  /** Field-level errors, empty when the config is valid. */
  errors(raw: RawConfig): FieldError[] {
    return this.check(raw).errors;
  }

  /** The per-field report behind `PUT /connector-plugins/{p}/config/validate`. */
  validate(raw: RawConfig): ConfigInfo[] {
    const { errors } = this.check(raw);
    const byName = new Map<string, string[]>();
    for (const e of errors) byName.set(e.name, [...(byName.get(e.name) ?? []), e.message]);
    return this.visibleNames().map((name, i) => {
      const key = this.definition[name];
      const rawValue = raw[name];
      return {
        definition: describeKey(name, key, i),
        value: {
          name,
          value: key.type === 'password' && rawValue != null ? '[hidden]' : rawValue == null ? null : String(rawValue),
          recommended_values: key.validate?.recommended ?? [],
          errors: byName.get(name) ?? [],
          visible: true,
        },
      };
    });
  }

  /** The definitions for `GET /connector-plugins/{p}/config`. */
  describe(): ConfigKeyInfo[] {
    return this.visibleNames().map((name, i) => describeKey(name, this.definition[name], i));
  }

  /** Names of keys whose type is password: masked in every response and log line. */
  secretKeys(): string[] {
    return this.names.filter((n) => this.definition[n].type === 'password');
  }

  private visibleNames(): string[] {
    return this.names.filter((n) => !this.definition[n].internal);
  }

  private check(raw: RawConfig): { values: Record<string, unknown>; errors: FieldError[] } {
    const values: Record<string, unknown> = { ...raw };
    const errors: FieldError[] = [];
    for (const [name, key] of Object.entries(this.definition)) {
      const given = raw[name];
      if (given === undefined || given === null || (given === '' && key.type !== 'string' && key.type !== 'password')) {
        if (!('default' in key)) {
          errors.push({ name, message: `Missing required configuration "${name}" which has no default value. ${key.doc}` });
          continue;
        }
        values[name] = key.default === undefined ? null : key.default;
        continue;
      }
      const parsed = coerce(key.type, given);
      if (parsed.error) {
        errors.push({ name, message: `Invalid value ${JSON.stringify(given)} for configuration ${name}: ${parsed.error}` });
        continue;
      }
      values[name] = parsed.value;
    }
    for (const [name, key] of Object.entries(this.definition)) {
      if (!key.validate || errors.some((e) => e.name === name)) continue;
      const v = values[name];
      if (v === null || v === undefined) continue;
      const msg = key.validate(v as never, values);
      if (msg) errors.push({ name, message: `Invalid value ${JSON.stringify(raw[name] ?? v)} for configuration ${name}: ${msg}` });
    }
    return { values, errors };
  }
}

export function defineConfig<D extends ConfigDefinition>(definition: D): ConfigSpec<D> {
  return new ConfigSpec(definition);
}

function describeKey(name: string, key: ConfigKey, order: number): ConfigKeyInfo {
  const hasDefault = 'default' in key;
  let defaultValue: string | null = null;
  if (hasDefault && key.default !== null && key.default !== undefined) {
    defaultValue = key.type === 'password' ? '[hidden]' : Array.isArray(key.default) ? key.default.join(',') : String(key.default);
  }
  return {
    name,
    type: key.type.toUpperCase(),
    required: !hasDefault,
    default_value: defaultValue,
    importance: (key.importance ?? 'medium').toUpperCase(),
    documentation: key.validate?.describe ? `${key.doc} Valid values: ${key.validate.describe}` : key.doc,
    group: key.group ?? null,
    order: key.orderInGroup ?? order,
    width: (key.width ?? 'none').toUpperCase(),
    display_name: key.displayName ?? name,
    dependents: key.dependents ?? [],
  };
}

function coerce(type: ConfigType, given: unknown): { value?: unknown; error?: string } {
  switch (type) {
    case 'string':
    case 'password':
    case 'class':
      if (typeof given === 'string') return { value: given };
      if (typeof given === 'number' || typeof given === 'boolean') return { value: String(given) };
      return { error: 'Expected a string.' };
    case 'int':
    case 'long': {
      const n = typeof given === 'number' ? given : typeof given === 'string' && /^\s*-?\d+\s*$/.test(given) ? Number(given) : NaN;
      if (!Number.isInteger(n)) return { error: `Expected a whole number (${type}).` };
      if (type === 'int' && (n > 2147483647 || n < -2147483648)) return { error: 'Out of range for an int (32-bit).' };
      return { value: n };
    }
    case 'double': {
      const n = typeof given === 'number' ? given : typeof given === 'string' && given.trim() !== '' ? Number(given) : NaN;
      if (!Number.isFinite(n)) return { error: 'Expected a number.' };
      return { value: n };
    }
    case 'boolean': {
      if (typeof given === 'boolean') return { value: given };
      const s = String(given).trim().toLowerCase();
      if (s === 'true') return { value: true };
      if (s === 'false') return { value: false };
      return { error: 'Expected true or false.' };
    }
    case 'list': {
      if (Array.isArray(given)) return { value: given.map((x) => String(x).trim()).filter((x) => x !== '') };
      if (typeof given !== 'string') return { error: 'Expected a comma-separated list.' };
      return { value: given.split(',').map((x) => x.trim()).filter((x) => x !== '') };
    }
  }
}

// ---- Validators ------------------------------------------------------------------------------

function validator<V>(fn: (value: V, all: Record<string, unknown>) => string | undefined, describe?: string, recommended?: string[]): Validator<V> {
  return Object.assign(fn, { describe, recommended });
}

export function range(min?: number, max?: number): Validator<number> {
  const d = `[${min ?? '...'},...,${max ?? '...'}]`;
  return validator((v) => {
    if (min !== undefined && v < min) return `Value must be at least ${min}.`;
    if (max !== undefined && v > max) return `Value must be no more than ${max}.`;
    return undefined;
  }, d);
}

export function oneOf(values: readonly string[], options: { caseInsensitive?: boolean } = {}): Validator<string> {
  const norm = (s: string) => (options.caseInsensitive ? s.toLowerCase() : s);
  const allowed = new Set(values.map(norm));
  return validator((v) => (allowed.has(norm(v)) ? undefined : `Must be one of ${values.join(', ')}.`), `[${values.join(', ')}]`, [...values]);
}

export function nonEmpty(): Validator<string | string[]> {
  return validator((v) => (v.length === 0 ? 'Must not be empty.' : undefined), 'non-empty');
}

export function listOf(each: Validator<string>): Validator<string[]> {
  return validator((v, all) => {
    for (const item of v) {
      const e = each(item, all);
      if (e) return `${JSON.stringify(item)}: ${e}`;
    }
    return undefined;
  }, each.describe ? `a list of ${each.describe}` : undefined, each.recommended);
}

export function url(protocols: readonly string[] = ['http:', 'https:']): Validator<string> {
  return validator((v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return `Not a valid URL; expected something like ${protocols[0].replace(':', '')}://host:port/path.`;
    }
    return protocols.includes(u.protocol) ? undefined : `URL scheme must be one of ${protocols.join(', ')}.`;
  }, `a URL (${protocols.join(', ')})`);
}

export function regex(): Validator<string> {
  return validator((v) => {
    try {
      new RegExp(v);
      return undefined;
    } catch (e) {
      return `Not a valid regular expression: ${(e as Error).message}`;
    }
  }, 'a regular expression');
}

export function custom<V>(fn: (value: V, all: Record<string, unknown>) => string | undefined, describe?: string): Validator<V> {
  return validator(fn, describe);
}
