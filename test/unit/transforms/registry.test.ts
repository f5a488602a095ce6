import { describe, expect, it } from 'vitest';
import { defineConfig } from '../../../runtime/api/config-spec.ts';
import type { PredicatePlugin, TransformPlugin } from '../../../runtime/api/transform.ts';
import { BUILTIN_PREDICATES, BUILTIN_TRANSFORMS, TransformRegistry, builtinTransformRegistry } from '../../../runtime/transforms/index.ts';

const CONNECT = 'org.apache.kafka.connect.transforms.';

describe('builtinTransformRegistry', () => {
  it('holds every Connect SMT and predicate by class name', () => {
    const registry = builtinTransformRegistry();
    expect(registry.transforms().map((t) => t.className).sort()).toEqual([
      'Cast$Key', 'Cast$Value', 'DropHeaders', 'ExtractField$Key', 'ExtractField$Value', 'Filter', 'Flatten$Key', 'Flatten$Value',
      'HeaderFrom$Key', 'HeaderFrom$Value', 'HoistField$Key', 'HoistField$Value', 'InsertField$Key', 'InsertField$Value', 'InsertHeader',
      'MaskField$Key', 'MaskField$Value', 'RegexRouter', 'ReplaceField$Key', 'ReplaceField$Value', 'TimestampConverter$Key',
      'TimestampConverter$Value', 'TimestampRouter', 'ValueToKey',
    ].map((n) => CONNECT + n));
    expect(registry.predicates().map((p) => p.className)).toEqual(
      ['HasHeaderKey', 'RecordIsTombstone', 'TopicNameMatches'].map((n) => `${CONNECT}predicates.${n}`),
    );
    expect(registry.transforms()).toEqual([...BUILTIN_TRANSFORMS]);
    expect(registry.predicates()).toEqual([...BUILTIN_PREDICATES]);
  });

  it('finds plugins by class name or alias', () => {
    const registry = builtinTransformRegistry();
    const insert = registry.findTransform(`${CONNECT}InsertField$Value`);
    expect(insert?.aliases).toEqual(['InsertField$Value']);
    expect(registry.findTransform('InsertField$Value')).toBe(insert);
    expect(registry.findTransform(' RegexRouter ')?.className).toBe(`${CONNECT}RegexRouter`);
    expect(registry.findPredicate('TopicNameMatches')?.className).toBe(`${CONNECT}predicates.TopicNameMatches`);
    expect(registry.findTransform('TopicNameMatches')).toBeUndefined();
    expect(registry.findPredicate('Filter')).toBeUndefined();
  });

  it('every built-in describes its config for the REST API', () => {
    for (const plugin of [...BUILTIN_TRANSFORMS, ...BUILTIN_PREDICATES]) {
      for (const key of plugin.config.describe()) expect(key.documentation.length, `${plugin.className} ${key.name}`).toBeGreaterThan(0);
    }
  });
});

describe('TransformRegistry.register', () => {
  const upper: TransformPlugin = {
    className: 'com.acme.Upper', aliases: ['Upper'], config: defineConfig({}),
    create: () => (record) => ({ ...record, value: String(record.value).toUpperCase() }),
  };
  const always: PredicatePlugin = { className: 'com.acme.Always', config: defineConfig({}), create: () => () => true };

  it('adds third-party plugins without touching other registries', () => {
    const registry = builtinTransformRegistry().register(upper).registerPredicate(always);
    expect(registry.findTransform('Upper')).toBe(upper);
    expect(registry.findPredicate('com.acme.Always')).toBe(always);
    expect(registry.transformNames()).toContain('Upper');
    expect(registry.predicateNames()).toContain('com.acme.Always');
    expect(builtinTransformRegistry().findTransform('Upper')).toBeUndefined();
  });

  it('accepts the same plugin twice but refuses a name taken by another', () => {
    const registry = new TransformRegistry().register(upper).register(upper);
    expect(registry.transforms()).toEqual([upper]);
    expect(() => registry.register({ ...upper, className: 'com.other.Upper' })).toThrow(
      'Cannot register transform com.other.Upper: the name Upper already belongs to com.acme.Upper.',
    );
  });
});
