/**
 * The transform chain of a connector, from Kafka Connect's connector-level syntax:
 *
 * ```
 * transforms=route,dropTombstones
 * transforms.route.type=RegexRouter                  # a class name or alias
 * transforms.route.regex=(.*)-raw                     # the transform's own keys, prefix stripped
 * transforms.route.replacement=$1
 * transforms.dropTombstones.type=Filter
 * transforms.dropTombstones.predicate=isTombstone     # apply only where the predicate holds...
 * transforms.dropTombstones.negate=false              # ...or, negated, where it does not
 * predicates=isTombstone
 * predicates.isTombstone.type=RecordIsTombstone
 * ```
 *
 * Transforms run in the listed order; a transform that returns null drops the record and ends
 * the chain. Every configuration problem is reported against the exact connector key
 * (`transforms.route.regex`, `transforms.dropTombstones.predicate`, ...).
 */
import { ConfigError, DataError, type FieldError } from '../api/errors.ts';
import type { ConnectRecord } from '../api/records.ts';
import type { PredicateFn, PredicatePlugin, TransformFn, TransformPlugin } from '../api/transform.ts';
import type { TransformRegistry } from './registry.ts';

export type ConnectorConfigMap = Readonly<Record<string, string>>;

export interface TransformStage {
  alias: string;
  plugin: TransformPlugin;
  transform: TransformFn;
  predicate?: { alias: string; plugin: PredicatePlugin; test: PredicateFn };
  negate: boolean;
}

/** Field errors of the transforms and predicates of a connector config; empty when they are valid. */
export function validateTransforms(connectorConfig: ConnectorConfigMap, registry: TransformRegistry): FieldError[] {
  return compile(connectorConfig, registry).errors;
}

/** The stages of a connector's chain; throws one ConfigError listing every bad key. */
export function transformStages(connectorConfig: ConnectorConfigMap, registry: TransformRegistry): TransformStage[] {
  const { stages, errors } = compile(connectorConfig, registry);
  if (errors.length > 0) throw ConfigError.fromFields(errors, 'Invalid transforms configuration');
  return stages;
}

/**
 * The chain as one function: the transformed record, or null when a transform dropped it.
 * A DataError from a transform comes out as a DataError naming the transform's alias.
 */
export function buildTransformChain(connectorConfig: ConnectorConfigMap, registry: TransformRegistry): TransformFn {
  return applyStages(transformStages(connectorConfig, registry));
}

export function applyStages(stages: readonly TransformStage[]): TransformFn {
  if (stages.length === 0) return (record) => record;
  return <R extends ConnectRecord>(record: R): R | null => {
    let current = record;
    for (const stage of stages) {
      try {
        if (stage.predicate && stage.predicate.test(current) === stage.negate) continue;
        const next = stage.transform(current);
        if (next === null) return null;
        current = next;
      } catch (e) {
        if (e instanceof DataError) throw new DataError(`transforms.${stage.alias}: ${e.message}`, { cause: e });
        throw e;
      }
    }
    return current;
  };
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function given(config: ConnectorConfigMap, key: string): string | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

/** The keys under `prefix`, with the prefix stripped, leaving out the chain's own keys. */
function subConfig(config: ConnectorConfigMap, prefix: string, reserved: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.startsWith(prefix)) continue;
    const name = key.slice(prefix.length);
    if (reserved.includes(name) || value === undefined || value === null) continue;
    out[name] = String(value);
  }
  return out;
}

function duplicates(aliases: string[]): string[] {
  return [...new Set(aliases.filter((a, i) => aliases.indexOf(a) !== i))];
}

/** Builds a plugin instance, turning its config errors into errors on the prefixed keys. */
function instantiate<F>(
  plugin: { className: string; config: { errors(raw: Record<string, unknown>): FieldError[] }; create(config: Record<string, string>): F },
  config: Record<string, string>,
  prefix: string,
  what: string,
  errors: FieldError[],
): F | undefined {
  const prefixed = (e: FieldError): FieldError => ({
    name: prefix + e.name,
    message: e.message
      .replace(`configuration "${e.name}"`, `configuration "${prefix}${e.name}"`)
      .replace(`configuration ${e.name}:`, `configuration ${prefix}${e.name}:`),
  });
  const specErrors = plugin.config.errors(config);
  if (specErrors.length > 0) {
    errors.push(...specErrors.map(prefixed));
    return undefined;
  }
  try {
    return plugin.create(config);
  } catch (e) {
    if (e instanceof ConfigError && e.fields.length > 0) errors.push(...e.fields.map(prefixed));
    else errors.push({ name: `${prefix}type`, message: `Could not configure ${what} (${plugin.className}): ${(e as Error).message}` });
    return undefined;
  }
}

function compile(config: ConnectorConfigMap, registry: TransformRegistry): { stages: TransformStage[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const transformAliases = list(config.transforms);
  const predicateAliases = list(config.predicates);
  for (const [key, aliases, kind] of [['transforms', transformAliases, 'transform'], ['predicates', predicateAliases, 'predicate']] as const) {
    const dups = duplicates(aliases);
    if (dups.length > 0) errors.push({ name: key, message: `Duplicate alias provided: ${dups.join(', ')}. Each ${kind} alias may appear only once.` });
  }

  // Predicates first: transforms refer to them. A listed predicate that failed maps to null.
  const predicates = new Map<string, TransformStage['predicate'] | null>();
  for (const alias of new Set(predicateAliases)) {
    const prefix = `predicates.${alias}.`;
    const typeKey = `${prefix}type`;
    const type = given(config, typeKey);
    const plugin = type === undefined ? undefined : registry.findPredicate(type);
    if (!plugin) {
      errors.push({ name: typeKey, message: unknownType('predicate', alias, typeKey, type, registry.predicateNames()) });
      predicates.set(alias, null);
      continue;
    }
    const test = instantiate(plugin, subConfig(config, prefix, ['type']), prefix, `predicate '${alias}'`, errors);
    predicates.set(alias, test ? { alias, plugin, test } : null);
  }

  const stages: TransformStage[] = [];
  for (const alias of new Set(transformAliases)) {
    const prefix = `transforms.${alias}.`;
    const typeKey = `${prefix}type`;
    const predicateKey = `${prefix}predicate`;
    const negateKey = `${prefix}negate`;
    let ok = true;

    const predicateAlias = given(config, predicateKey);
    const negateText = given(config, negateKey);
    let negate = false;
    if (negateText !== undefined) {
      if (/^(true|false)$/i.test(negateText)) {
        negate = negateText.toLowerCase() === 'true';
      } else {
        errors.push({ name: negateKey, message: `Invalid value ${JSON.stringify(negateText)} for configuration ${negateKey}: Expected true or false.` });
        ok = false;
      }
      if (predicateAlias === undefined) {
        errors.push({
          name: negateKey,
          message: `Config '${negateKey}' was provided but there is no config '${predicateKey}' defining a predicate to be negated.`,
        });
        ok = false;
      }
    }
    let predicate: TransformStage['predicate'] | null | undefined;
    if (predicateAlias !== undefined) {
      predicate = predicates.get(predicateAlias);
      if (predicate === undefined) {
        const defined = [...predicates.keys()];
        errors.push({
          name: predicateKey,
          message: `Predicate '${predicateAlias}' is not defined: add it to 'predicates' and set 'predicates.${predicateAlias}.type'. `
            + (defined.length > 0 ? `Defined predicates: ${defined.join(', ')}.` : 'No predicates are defined.'),
        });
        ok = false;
      } else if (predicate === null) {
        ok = false;
      }
    }

    const type = given(config, typeKey);
    const plugin = type === undefined ? undefined : registry.findTransform(type);
    if (!plugin) {
      errors.push({ name: typeKey, message: unknownType('transform', alias, typeKey, type, registry.transformNames()) });
      continue;
    }
    const transform = instantiate(plugin, subConfig(config, prefix, ['type', 'predicate', 'negate']), prefix, `transform '${alias}'`, errors);
    if (!transform || !ok) continue;
    stages.push(predicate ? { alias, plugin, transform, predicate, negate } : { alias, plugin, transform, negate: false });
  }
  return { stages, errors };
}

function unknownType(kind: string, alias: string, key: string, type: string | undefined, known: string[]): string {
  const example = kind === 'predicate' ? 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches' : 'org.apache.kafka.connect.transforms.InsertField$Value';
  const knownText = `Known ${kind}s: ${known.join(', ')} (or their full class names, e.g. ${example}).`;
  if (type === undefined) return `Missing required configuration "${key}": the class or alias of ${kind} '${alias}'. ${knownText}`;
  return `Unknown ${kind} type "${type}" for '${alias}'. ${knownText}`;
}
