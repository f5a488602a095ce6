import { describe, expect, it } from 'vitest';
import { ConfigError, defineConfig, type ConverterPlugin } from '../../../runtime/api/index.ts';
import {
  ByteArrayConverter, ConverterRegistry, JsonConverter, StringConverter, builtinConverterRegistry, converterFromConfig,
} from '../../../runtime/converters/index.ts';

function caught(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('ConverterRegistry', () => {
  it('finds the built-ins by Connect class name, alias and simple name', () => {
    const r = builtinConverterRegistry();
    expect(r.get('org.apache.kafka.connect.json.JsonConverter')?.className).toBe('org.apache.kafka.connect.json.JsonConverter');
    expect(r.get('json')).toBe(r.get('org.apache.kafka.connect.json.JsonConverter'));
    expect(r.get('JsonConverter')).toBe(r.get('json'));
    expect(r.get('string')?.className).toBe('org.apache.kafka.connect.storage.StringConverter');
    expect(r.get('StringConverter')).toBe(r.get('string'));
    expect(r.get('bytes')?.className).toBe('org.apache.kafka.connect.converters.ByteArrayConverter');
    expect(r.get('io.confluent.connect.avro.AvroConverter')).toBeUndefined();
    expect(r.list()).toHaveLength(3);
  });

  it('registers third-party converters, keeping the first of a class', () => {
    const r = new ConverterRegistry();
    const plugin: ConverterPlugin = {
      className: 'com.example.UpperConverter',
      aliases: ['upper'],
      config: defineConfig({}),
      create: () => new StringConverter(),
    };
    expect(r.register(plugin)).toBe(true);
    expect(r.register({ ...plugin })).toBe(false);
    expect(r.get('upper')).toBe(plugin);
    expect(r.get('UpperConverter')).toBe(plugin);
  });
});

describe('converterFromConfig', () => {
  const worker = { 'key.converter': 'org.apache.kafka.connect.storage.StringConverter', 'value.converter': 'json', 'value.converter.schemas.enable': 'false' };

  it('uses the connector\'s converter and its prefixed properties', () => {
    const c = converterFromConfig({ 'value.converter': 'json', 'value.converter.schemas.enable': 'false' }, 'value', {});
    expect(c).toBeInstanceOf(JsonConverter);
    expect((c as JsonConverter).schemasEnable).toBe(false);
    expect(converterFromConfig({ 'key.converter': 'bytes' }, 'key', worker)).toBeInstanceOf(ByteArrayConverter);
  });

  it('falls back to the worker\'s converter and the worker\'s properties, never mixing the two', () => {
    const v = converterFromConfig({}, 'value', worker) as JsonConverter;
    expect(v.schemasEnable).toBe(false);
    expect(converterFromConfig({}, 'key', worker)).toBeInstanceOf(StringConverter);
    // The connector names the class: the worker's value.converter.* properties do not apply.
    const own = converterFromConfig({ 'value.converter': 'org.apache.kafka.connect.json.JsonConverter' }, 'value', worker) as JsonConverter;
    expect(own.schemasEnable).toBe(true);
  });

  it('defaults to JsonConverter with schemas when nothing is set', () => {
    const c = converterFromConfig({}, 'value') as JsonConverter;
    expect(c).toBeInstanceOf(JsonConverter);
    expect(c.schemasEnable).toBe(true);
  });

  it('names value.converter when the class is unknown', () => {
    const e = caught(() => converterFromConfig({ 'value.converter': 'io.confluent.connect.avro.AvroConverter' }, 'value', worker));
    expect(e.fields.map((f) => f.name)).toEqual(['value.converter']);
    expect(e.message).toContain('io.confluent.connect.avro.AvroConverter');
    expect(e.message).toContain('could not be found');
    expect(e.message).toContain('org.apache.kafka.connect.json.JsonConverter');
    const fromWorker = caught(() => converterFromConfig({}, 'key', { 'key.converter': 'nope' }));
    expect(fromWorker.fields[0].name).toBe('key.converter');
    expect(fromWorker.message).toContain('worker configuration');
  });

  it('names the prefixed property when a converter setting is wrong', () => {
    const e = caught(() => converterFromConfig({ 'value.converter': 'json', 'value.converter.decimal.format': 'HEX' }, 'value'));
    expect(e.fields.map((f) => f.name)).toEqual(['value.converter.decimal.format']);
    expect(e.message).toContain('value.converter.decimal.format');
  });

  it('uses the registry it is given', () => {
    const r = new ConverterRegistry();
    expect(() => converterFromConfig({ 'value.converter': 'json' }, 'value', {}, r)).toThrow(ConfigError);
  });
});
