/**
 * Transforms and predicates by class name and alias: what `transforms.<a>.type` and
 * `predicates.<p>.type` resolve through. Built-ins are Kafka Connect's SMTs; third-party plugins
 * are added with register()/registerPredicate().
 */
import type { PredicatePlugin, TransformPlugin } from '../api/transform.ts';
import { CastKey, CastValue } from './cast.ts';
import { DropHeaders } from './drop-headers.ts';
import { ExtractFieldKey, ExtractFieldValue } from './extract-field.ts';
import { Filter } from './filter.ts';
import { FlattenKey, FlattenValue } from './flatten.ts';
import { HeaderFromKey, HeaderFromValue } from './header-from.ts';
import { HoistFieldKey, HoistFieldValue } from './hoist-field.ts';
import { InsertFieldKey, InsertFieldValue } from './insert-field.ts';
import { InsertHeader } from './insert-header.ts';
import { MaskFieldKey, MaskFieldValue } from './mask-field.ts';
import { HasHeaderKey, RecordIsTombstone, TopicNameMatches } from './predicates.ts';
import { RegexRouter } from './regex-router.ts';
import { ReplaceFieldKey, ReplaceFieldValue } from './replace-field.ts';
import { TimestampConverterKey, TimestampConverterValue } from './timestamp-converter.ts';
import { TimestampRouter } from './timestamp-router.ts';
import { ValueToKey } from './value-to-key.ts';

export const BUILTIN_TRANSFORMS: readonly TransformPlugin[] = [
  CastKey, CastValue,
  DropHeaders,
  ExtractFieldKey, ExtractFieldValue,
  Filter,
  FlattenKey, FlattenValue,
  HeaderFromKey, HeaderFromValue,
  HoistFieldKey, HoistFieldValue,
  InsertFieldKey, InsertFieldValue,
  InsertHeader,
  MaskFieldKey, MaskFieldValue,
  RegexRouter,
  ReplaceFieldKey, ReplaceFieldValue,
  TimestampConverterKey, TimestampConverterValue,
  TimestampRouter,
  ValueToKey,
];

export const BUILTIN_PREDICATES: readonly PredicatePlugin[] = [HasHeaderKey, RecordIsTombstone, TopicNameMatches];

type Named = { className: string; aliases?: string[] };

class PluginTable<P extends Named> {
  private readonly kind: string;
  private readonly byName = new Map<string, P>();
  private readonly list: P[] = [];

  constructor(kind: string) {
    this.kind = kind;
  }

  add(plugin: P): void {
    const names = [plugin.className, ...(plugin.aliases ?? [])];
    for (const name of names) {
      const existing = this.byName.get(name);
      if (existing && existing !== plugin) {
        throw new Error(`Cannot register ${this.kind} ${plugin.className}: the name ${name} already belongs to ${existing.className}.`);
      }
    }
    if (this.list.includes(plugin)) return;
    this.list.push(plugin);
    for (const name of names) this.byName.set(name, plugin);
  }

  find(name: string): P | undefined {
    return this.byName.get(name.trim());
  }

  all(): P[] {
    return [...this.list];
  }

  /** Short names (the first alias, or the class name when there is none), for error messages. */
  names(): string[] {
    return this.list.map((p) => p.aliases?.[0] ?? p.className);
  }
}

export class TransformRegistry {
  private readonly transformTable = new PluginTable<TransformPlugin>('transform');
  private readonly predicateTable = new PluginTable<PredicatePlugin>('predicate');

  /** Adds a transform under its class name and aliases; throws if one of those names is taken by another plugin. */
  register(plugin: TransformPlugin): this {
    this.transformTable.add(plugin);
    return this;
  }

  /** Adds a predicate under its class name and aliases; throws if one of those names is taken by another plugin. */
  registerPredicate(plugin: PredicatePlugin): this {
    this.predicateTable.add(plugin);
    return this;
  }

  findTransform(name: string): TransformPlugin | undefined {
    return this.transformTable.find(name);
  }

  findPredicate(name: string): PredicatePlugin | undefined {
    return this.predicateTable.find(name);
  }

  transforms(): TransformPlugin[] {
    return this.transformTable.all();
  }

  predicates(): PredicatePlugin[] {
    return this.predicateTable.all();
  }

  transformNames(): string[] {
    return this.transformTable.names();
  }

  predicateNames(): string[] {
    return this.predicateTable.names();
  }
}

/** A new registry holding Kafka Connect's built-in transforms and predicates. */
export function builtinTransformRegistry(): TransformRegistry {
  const registry = new TransformRegistry();
  for (const t of BUILTIN_TRANSFORMS) registry.register(t);
  for (const p of BUILTIN_PREDICATES) registry.registerPredicate(p);
  return registry;
}
