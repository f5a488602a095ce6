import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../../runtime/api/index.ts';
import {
  ByteArrayConverter, StringConverter, byteArrayConverterPlugin, stringConverterPlugin,
} from '../../../runtime/converters/index.ts';

describe('StringConverter', () => {
  it('writes strings as UTF-8 and reads them back with an optional string schema', () => {
    const c = new StringConverter();
    const bytes = c.fromConnectData('t', undefined, 'héllo ☃')!;
    expect(bytes.equals(Buffer.from('héllo ☃', 'utf8'))).toBe(true);
    expect(c.toConnectData('t', bytes)).toEqual({ schema: { type: 'string', optional: true }, value: 'héllo ☃' });
  });

  it('is null-safe both ways', () => {
    const c = new StringConverter();
    expect(c.fromConnectData('t', undefined, null)).toBeNull();
    expect(c.fromConnectData('t', { type: 'string', optional: true }, undefined)).toBeNull();
    expect(c.toConnectData('t', null)).toEqual({ schema: { type: 'string', optional: true }, value: null });
  });

  it('writes numbers, bigints, booleans, Dates and objects as text', () => {
    const c = new StringConverter();
    const s = (v: unknown) => c.fromConnectData('t', undefined, v)!.toString();
    expect(s(42)).toBe('42');
    expect(s(2n ** 64n)).toBe('18446744073709551616');
    expect(s(false)).toBe('false');
    expect(s(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(s({ a: [1, 2n] })).toBe('{"a":[1,2]}');
    expect(c.fromConnectData('t', undefined, Buffer.from('raw'))!.toString()).toBe('raw');
  });

  it('honours converter.encoding (Java charset names)', () => {
    const le = stringConverterPlugin.create({ 'converter.encoding': 'UTF-16LE' }, false);
    expect([...le.fromConnectData('t', undefined, 'Ab')!]).toEqual([0x41, 0, 0x62, 0]);
    const be = stringConverterPlugin.create({ 'converter.encoding': 'utf-16be' }, false);
    const bytes = be.fromConnectData('t', undefined, 'Ab☃')!;
    expect([...bytes]).toEqual([0, 0x41, 0, 0x62, 0x26, 0x03]);
    expect(be.toConnectData('t', bytes).value).toBe('Ab☃');
    const latin1 = stringConverterPlugin.create({ 'converter.encoding': 'ISO-8859-1' }, false);
    expect([...latin1.fromConnectData('t', undefined, 'é')!]).toEqual([0xe9]);
    expect(latin1.toConnectData('t', Buffer.from([0xe9])).value).toBe('é');
  });

  it('rejects an unknown encoding with a ConfigError naming converter.encoding', () => {
    expect(() => stringConverterPlugin.create({ 'converter.encoding': 'EBCDIC' }, false)).toThrow(ConfigError);
    expect(() => stringConverterPlugin.create({ 'converter.encoding': 'EBCDIC' }, false)).toThrow(/converter\.encoding/);
  });
});

describe('ByteArrayConverter', () => {
  it('passes bytes through and is null-safe', () => {
    const c = new ByteArrayConverter();
    const b = Buffer.from([1, 2, 3]);
    expect(c.fromConnectData('t', { type: 'bytes' }, b)).toBe(b);
    expect([...c.fromConnectData('t', undefined, new Uint8Array([4, 5]))!]).toEqual([4, 5]);
    expect(c.fromConnectData('t', undefined, null)).toBeNull();
    expect(c.toConnectData('t', b)).toEqual({ schema: { type: 'bytes', optional: true }, value: b });
    expect(c.toConnectData('t', null)).toEqual({ schema: { type: 'bytes', optional: true }, value: null });
  });

  it('rejects values that are not bytes and non-bytes schemas with a DataError naming the topic', () => {
    const c = byteArrayConverterPlugin.create({}, false);
    expect(() => c.fromConnectData('t', undefined, 'text')).toThrow(DataError);
    expect(() => c.fromConnectData('t', undefined, 'text')).toThrow(/topic "t".*not a string/);
    expect(() => c.fromConnectData('t', { type: 'string' }, Buffer.from('x'))).toThrow(/string schema/);
  });
});
