import { describe, expect, it } from 'vitest';
import { defineConfig } from '../../../runtime/api/config-spec.ts';
import { ConfigError, DataError } from '../../../runtime/api/errors.ts';
import type { ConnectRecord } from '../../../runtime/api/records.ts';
import type { TransformPlugin } from '../../../runtime/api/transform.ts';
import { buildTransformChain, builtinTransformRegistry, transformStages, validateTransforms } from '../../../runtime/transforms/index.ts';
import { sinkRecord, sourceRecord } from './helpers.ts';

const registry = builtinTransformRegistry();

function configError(config: Record<string, string>, reg = registry): ConfigError {
  try {
    buildTransformChain(config, reg);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('buildTransformChain', () => {
  it('with no transforms, returns records as they are', () => {
    const record = sourceRecord({ value: 1 });
    expect(buildTransformChain({ 'connector.class': 'x' }, registry)(record)).toBe(record);
    expect(buildTransformChain({ transforms: ' ' }, registry)(record)).toBe(record);
  });

  it('runs the listed transforms in order, by alias or class name, with the prefix stripped', () => {
    const chain = buildTransformChain({
      transforms: 'hoist, insert,route',
      'transforms.hoist.type': 'HoistField$Value',
      'transforms.hoist.field': 'line',
      'transforms.insert.type': 'org.apache.kafka.connect.transforms.InsertField$Value',
      'transforms.insert.topic.field': 'from',
      'transforms.route.type': 'RegexRouter',
      'transforms.route.regex': 'raw-(.*)',
      'transforms.route.replacement': 'clean-$1',
      'transforms.unlisted.type': 'Filter',
    }, registry);
    const record = sourceRecord({ topic: 'raw-logs', value: 'hello' });
    expect(chain(record)).toStrictEqual({ ...record, topic: 'clean-logs', value: { line: 'hello', from: 'raw-logs' } });
  });

  it('hands a transform only its own keys', () => {
    let seen: Record<string, string> | undefined;
    const spy: TransformPlugin = {
      className: 'com.acme.Spy', config: defineConfig({}),
      create: (config) => {
        seen = config;
        return (record) => record;
      },
    };
    buildTransformChain({
      transforms: 'a', 'transforms.a.type': 'com.acme.Spy', 'transforms.a.x': '1', 'transforms.a.y.z': '2',
      'transforms.a.predicate': 'p', 'transforms.a.negate': 'true', 'transforms.ab.x': 'no', predicates: 'p', 'predicates.p.type': 'RecordIsTombstone',
    }, builtinTransformRegistry().register(spy));
    expect(seen).toEqual({ x: '1', 'y.z': '2' });
  });

  it('applies a transform only where its predicate holds', () => {
    const config = {
      transforms: 'dropTombstones',
      'transforms.dropTombstones.type': 'Filter',
      'transforms.dropTombstones.predicate': 'isTombstone',
      predicates: 'isTombstone',
      'predicates.isTombstone.type': 'RecordIsTombstone',
    };
    const chain = buildTransformChain(config, registry);
    const live = sinkRecord({ key: 'k', value: { a: 1 } });
    expect(chain(sinkRecord({ key: 'k', value: null }))).toBeNull();
    expect(chain(live)).toBe(live);

    const negated = buildTransformChain({ ...config, 'transforms.dropTombstones.negate': 'true' }, registry);
    const tombstone = sinkRecord({ key: 'k', value: null });
    expect(negated(tombstone)).toBe(tombstone);
    expect(negated(live)).toBeNull();
  });

  it('shares one predicate between transforms, with and without negate', () => {
    const chain = buildTransformChain({
      transforms: 'shop,other',
      'transforms.shop.type': 'InsertHeader', 'transforms.shop.header': 'kind', 'transforms.shop.value.literal': 'shop',
      'transforms.shop.predicate': 'isShop',
      'transforms.other.type': 'InsertHeader', 'transforms.other.header': 'kind', 'transforms.other.value.literal': 'other',
      'transforms.other.predicate': 'isShop', 'transforms.other.negate': 'TRUE',
      predicates: 'isShop', 'predicates.isShop.type': 'org.apache.kafka.connect.transforms.predicates.TopicNameMatches',
      'predicates.isShop.pattern': 'shop\\..*',
    }, registry);
    expect(chain(sourceRecord({ topic: 'shop.orders' }))?.headers).toEqual([{ key: 'kind', value: 'shop' }]);
    expect(chain(sourceRecord({ topic: 'crm.users' }))?.headers).toEqual([{ key: 'kind', value: 'other' }]);
  });

  it('stops at a transform that drops the record', () => {
    let calls = 0;
    const count: TransformPlugin = {
      className: 'com.acme.Count', config: defineConfig({}),
      create: () => <R extends ConnectRecord>(record: R) => {
        calls++;
        return record;
      },
    };
    const chain = buildTransformChain({
      transforms: 'drop,count', 'transforms.drop.type': 'Filter', 'transforms.count.type': 'com.acme.Count',
    }, builtinTransformRegistry().register(count));
    expect(chain(sourceRecord({ value: 1 }))).toBeNull();
    expect(calls).toBe(0);
  });

  it('names the transform alias in a DataError, keeping the original as its cause', () => {
    const chain = buildTransformChain({ transforms: 'insert', 'transforms.insert.type': 'InsertField$Value', 'transforms.insert.topic.field': 't' }, registry);
    let err: unknown;
    try {
      chain(sourceRecord({ value: 'not a map' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toBe(
      'transforms.insert: InsertField$Value: Inserting fields needs the record value to be an object (a map) when it has no schema, but it is a string.',
    );
    expect((err as DataError).cause).toBeInstanceOf(DataError);
  });

  it('exposes the stages it built', () => {
    const stages = transformStages({
      transforms: 'f', 'transforms.f.type': 'Filter', 'transforms.f.predicate': 'p', 'transforms.f.negate': 'true',
      predicates: 'p', 'predicates.p.type': 'HasHeaderKey', 'predicates.p.name': 'h',
    }, registry);
    expect(stages.map((s) => ({ alias: s.alias, type: s.plugin.className, predicate: s.predicate?.alias, negate: s.negate }))).toEqual([
      { alias: 'f', type: 'org.apache.kafka.connect.transforms.Filter', predicate: 'p', negate: true },
    ]);
  });
});

describe('transform chain config errors name the exact key', () => {
  it('an unknown transform class: transforms.<a>.type, listing the known names', () => {
    const err = configError({ transforms: 'a', 'transforms.a.type': 'com.acme.Nope' });
    expect(err.fields).toHaveLength(1);
    expect(err.fields[0].name).toBe('transforms.a.type');
    expect(err.fields[0].message).toMatch(/^Unknown transform type "com.acme.Nope" for 'a'. Known transforms: Cast\$Key, Cast\$Value, DropHeaders, /);
    expect(err.fields[0].message).toContain('ValueToKey (or their full class names, e.g. org.apache.kafka.connect.transforms.InsertField$Value).');
    expect(err.message).toMatch(/^Invalid transforms configuration: transforms.a.type: Unknown transform type/);
  });

  it('a missing transform type: transforms.<a>.type', () => {
    const err = configError({ transforms: 'a' });
    expect(err.fields[0].name).toBe('transforms.a.type');
    expect(err.fields[0].message).toMatch(/^Missing required configuration "transforms.a.type": the class or alias of transform 'a'. Known transforms: /);
  });

  it('an undefined predicate alias: transforms.<a>.predicate', () => {
    expect(configError({ transforms: 'a', 'transforms.a.type': 'Filter', 'transforms.a.predicate': 'p' }).fields).toEqual([{
      name: 'transforms.a.predicate',
      message: "Predicate 'p' is not defined: add it to 'predicates' and set 'predicates.p.type'. No predicates are defined.",
    }]);
    expect(configError({
      transforms: 'a', 'transforms.a.type': 'Filter', 'transforms.a.predicate': 'p',
      predicates: 'q', 'predicates.q.type': 'RecordIsTombstone', 'predicates.p.type': 'RecordIsTombstone',
    }).fields).toEqual([{
      name: 'transforms.a.predicate',
      message: "Predicate 'p' is not defined: add it to 'predicates' and set 'predicates.p.type'. Defined predicates: q.",
    }]);
  });

  it('an unknown predicate class: predicates.<p>.type, listing the known predicates', () => {
    const err = configError({
      transforms: 'a', 'transforms.a.type': 'Filter', 'transforms.a.predicate': 'p', predicates: 'p', 'predicates.p.type': 'IsBig',
    });
    expect(err.fields).toEqual([{
      name: 'predicates.p.type',
      message: 'Unknown predicate type "IsBig" for \'p\'. Known predicates: HasHeaderKey, RecordIsTombstone, TopicNameMatches '
        + '(or their full class names, e.g. org.apache.kafka.connect.transforms.predicates.TopicNameMatches).',
    }]);
  });

  it('bad transform and predicate config: transforms.<a>.<key> and predicates.<p>.<key>', () => {
    const err = configError({
      transforms: 'cast,extract', 'transforms.cast.type': 'Cast$Value', 'transforms.cast.spec': 'a:bytes',
      'transforms.extract.type': 'ExtractField$Key', 'transforms.extract.predicate': 'p',
      predicates: 'p', 'predicates.p.type': 'TopicNameMatches', 'predicates.p.pattern': '(',
    });
    expect(err.fields.map((f) => f.name)).toEqual(['predicates.p.pattern', 'transforms.cast.spec', 'transforms.extract.field']);
    expect(err.fields[1].message).toBe(
      'Invalid value "a:bytes" for configuration transforms.cast.spec: Cast does not support casting to bytes; supported types are int8, int16, int32, int64, float32, float64, boolean, string.',
    );
    expect(err.fields[2].message).toBe('Missing required configuration "transforms.extract.field" which has no default value. Field name to extract.');
  });

  it('errors a transform raises when it is created: transforms.<a>.<key>', () => {
    expect(configError({ transforms: 'i', 'transforms.i.type': 'InsertField$Value', 'transforms.i.static.field': 's' }).fields).toEqual([{
      name: 'transforms.i.static.value', message: 'No value specified for static field: s. Set static.value.',
    }]);
  });

  it('a third-party transform that fails to start: transforms.<a>.type', () => {
    const broken: TransformPlugin = {
      className: 'com.acme.Broken', config: defineConfig({}),
      create: () => {
        throw new TypeError('boom');
      },
    };
    expect(configError({ transforms: 'b', 'transforms.b.type': 'com.acme.Broken' }, builtinTransformRegistry().register(broken)).fields).toEqual([{
      name: 'transforms.b.type', message: "Could not configure transform 'b' (com.acme.Broken): boom",
    }]);
  });

  it('negate without a predicate, or not a boolean: transforms.<a>.negate', () => {
    expect(configError({ transforms: 'a', 'transforms.a.type': 'Filter', 'transforms.a.negate': 'true' }).fields).toEqual([{
      name: 'transforms.a.negate',
      message: "Config 'transforms.a.negate' was provided but there is no config 'transforms.a.predicate' defining a predicate to be negated.",
    }]);
    expect(configError({
      transforms: 'a', 'transforms.a.type': 'Filter', 'transforms.a.negate': 'yes', 'transforms.a.predicate': 'p',
      predicates: 'p', 'predicates.p.type': 'RecordIsTombstone',
    }).fields).toEqual([{ name: 'transforms.a.negate', message: 'Invalid value "yes" for configuration transforms.a.negate: Expected true or false.' }]);
  });

  it('duplicate aliases: transforms or predicates', () => {
    expect(configError({ transforms: 'a,b,a', 'transforms.a.type': 'Filter', 'transforms.b.type': 'Filter' }).fields).toEqual([{
      name: 'transforms', message: 'Duplicate alias provided: a. Each transform alias may appear only once.',
    }]);
    expect(configError({ predicates: 'p,p', 'predicates.p.type': 'RecordIsTombstone' }).fields).toEqual([{
      name: 'predicates', message: 'Duplicate alias provided: p. Each predicate alias may appear only once.',
    }]);
  });
});

describe('validateTransforms', () => {
  it('returns every field error, or none', () => {
    expect(validateTransforms({ transforms: 'a', 'transforms.a.type': 'Filter' }, registry)).toEqual([]);
    expect(validateTransforms({
      transforms: 'a,b', 'transforms.a.type': 'Nope', 'transforms.b.type': 'HoistField$Value',
    }, registry).map((e) => e.name)).toEqual(['transforms.a.type', 'transforms.b.field']);
  });
});
