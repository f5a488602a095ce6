import { describe, expect, it } from 'vitest';
import type { Schema } from '../../../runtime/api/index.ts';
import { ByteWriter } from '../../../runtime/converters/byte-writer.ts';
import { JsonConverter } from '../../../runtime/converters/json-converter.ts';
import { JsonEncoder, JsonWriteError } from '../../../runtime/converters/json-encode.ts';
import { dateSchema, decimalSchema, timestampSchema } from '../../../runtime/converters/logical-types.ts';

// The byte writers are a faster route to the string writers' bytes: every value must come out
// byte for byte as Buffer.from(payload(...)), and every refusal with the same error.

function viaBytes(encoder: JsonEncoder, schema: Schema, value: unknown, w = new ByteWriter()): Buffer | JsonWriteError {
  w.begin();
  try {
    encoder.payloadInto(schema, value, w);
  } catch (e) {
    w.abort();
    if (e instanceof JsonWriteError) return e;
    throw e;
  }
  return Buffer.from(w.finish());
}

function viaString(encoder: JsonEncoder, schema: Schema, value: unknown): Buffer | JsonWriteError {
  try {
    return Buffer.from(encoder.payload(schema, value), 'utf8');
  } catch (e) {
    if (e instanceof JsonWriteError) return e;
    throw e;
  }
}

function same(encoder: JsonEncoder, schema: Schema, value: unknown, w?: ByteWriter): void {
  const a = viaBytes(encoder, schema, value, w);
  const b = viaString(encoder, schema, value);
  if (b instanceof JsonWriteError) {
    expect(a).toBeInstanceOf(JsonWriteError);
    expect((a as JsonWriteError).describe()).toBe(b.describe());
  } else {
    expect(a instanceof JsonWriteError ? a.describe() : a.toString('utf8')).toBe(b.toString('utf8'));
    expect(Buffer.compare(a as Buffer, b)).toBe(0);
  }
}

const STRINGS = [
  '', 'a', 'plain ascii text', 'x'.repeat(63), 'x'.repeat(64), 'y'.repeat(500), 'quote " and \\ backslash', 'tab\tnew\nline\r\b\f',
  '\u0000\u0001\u001f\u007f', 'é', 'naïve café', '日本語のテキスト', '😀 emoji', 'lone \ud800 high', 'lone \udc00 low', 'pair \ud83d\ude00',
  `${'a'.repeat(70)}"${'é'.repeat(30)}\n`, `${'b'.repeat(80)}\ud800`, '</script>', '\u2028\u2029',
];

describe('JsonEncoder byte writers', () => {
  const encoder = new JsonEncoder({ decimalFormat: 'BASE64', replaceNullWithDefault: true });

  it('write strings exactly as JSON.stringify does', () => {
    const schema: Schema = { type: 'string', optional: true };
    for (const s of STRINGS) same(encoder, schema, s);
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(Math.random() * 100);
      let s = '';
      for (let j = 0; j < len; j++) s += String.fromCharCode(Math.random() < 0.8 ? 32 + Math.floor(Math.random() * 96) : Math.floor(Math.random() * 0x10000));
      same(encoder, schema, s);
    }
  });

  it('write numbers, booleans and bytes as the string writers do, and refuse the same values', () => {
    const ints = [0, -0, 1, -1, 9, 10, 99, 100, 127, -128, 128, 32767, -32768, 2147483647, -2147483648, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 1e21, 2 ** 63, 1.5, NaN, Infinity, 12n, 2n ** 70n, '5', null];
    for (const type of ['int8', 'int16', 'int32', 'int64', 'float32', 'float64'] as const) {
      for (const v of ints) same(encoder, { type, optional: true }, v);
      for (let i = 0; i < 500; i++) same(encoder, { type, optional: true }, Math.round((Math.random() - 0.5) * 2 ** (Math.random() * 60)));
    }
    for (const v of [0.1, -2.5e-7, 1e300, 123456.789, -0.0001]) same(encoder, { type: 'float64' }, v);
    for (const v of [true, false, 'true', 0, null]) same(encoder, { type: 'boolean' }, v);
    for (const n of [0, 1, 2, 3, 4, 5, 100]) same(encoder, { type: 'bytes' }, Buffer.from(Array.from({ length: n }, (_, i) => (i * 37) & 255)));
    same(encoder, { type: 'bytes' }, new Uint8Array([255, 0, 128]));
    same(encoder, { type: 'bytes' }, 'not bytes');
  });

  it('write Decimals given as strings, numbers or bigints at any scale as base64 of the unscaled bytes', () => {
    const values = ['0', '-0', '0.00', '1', '-1', '127', '128', '-128', '-129', '1.25', '-1.25', '12.3', '999999999999.99', '-999999999999.99',
      '9999999999999.99', '123456789012345', '1234567890123456', '00012.50', '.5', '5.', '+5', ' 5 ', '1e3', '1.234', '1.230', 'abc', '', '-',
      '0.01', '-0.01', '8388607.99', '-8388608.00', 12.5, 3n, -7n];
    for (const scale of [0, 2, 3, 5, -2]) {
      const schema = decimalSchema(scale, { optional: true });
      for (const v of values) same(encoder, schema, v);
      for (let i = 0; i < 1000; i++) {
        const digits = String(Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 16)));
        const cut = Math.max(0, digits.length - Math.floor(Math.random() * (Math.max(scale, 0) + 1)));
        const text = `${Math.random() < 0.5 ? '-' : ''}${digits.slice(0, cut) || '0'}${cut < digits.length ? `.${digits.slice(cut)}` : ''}`;
        same(encoder, schema, text);
      }
    }
    const numeric = new JsonEncoder({ decimalFormat: 'NUMERIC', replaceNullWithDefault: true });
    for (const v of values) same(numeric, decimalSchema(2), v);
  });

  it('write structs, arrays, maps, logical types, defaults and nulls, with the same error paths', () => {
    const inner: Schema = { type: 'struct', optional: true, fields: [
      { field: 'when', ...timestampSchema({ optional: true }) }, { field: 'day', ...dateSchema({ optional: true }) },
      { field: 'constructor', type: 'string', optional: true }, { field: 'tags', type: 'array', optional: true, items: { type: 'string', optional: true } },
      { field: 'attrs', type: 'map', optional: true, keys: { type: 'string' }, values: { type: 'int32', optional: true } },
    ] };
    const schema: Schema = { type: 'struct', optional: false, fields: [
      { field: 'id', type: 'int64' }, { field: 'name', type: 'string', optional: true }, { field: 'n', type: 'int32', optional: true, default: 7 },
      { field: 'amount', ...decimalSchema(2, { optional: true }) }, { field: 'ok', type: 'boolean', optional: true }, { field: 'inner', ...inner },
      { field: 'empty', type: 'struct', optional: true, fields: [] }, { field: 'é"field', type: 'string', optional: true },
    ] };
    const good = { id: 1, name: 'a "name"', n: null, amount: '12.30', ok: true, inner: { when: new Date(1700000000123), day: new Date(86400000 * 3), constructor: 'c', tags: ['x', null, 'ü'], attrs: new Map([['a', 1], ['b', null]]) }, empty: {}, 'é"field': 'v' };
    same(encoder, schema, good);
    same(encoder, schema, { ...good, inner: null, empty: null });
    same(encoder, schema, { id: 2 });
    const bad = [
      { ...good, id: 'x' }, { ...good, id: null }, { ...good, amount: '1.234' }, { ...good, inner: { ...good.inner, tags: ['x', 5] } },
      { ...good, inner: { ...good.inner, attrs: new Map([['a', 'no']]) } }, { ...good, inner: [] }, { ...good, empty: 3 }, 'not a struct', null,
      { ...good, inner: { ...good.inner, when: 'yesterday' } },
    ];
    for (const v of bad) same(encoder, schema, v);
    const noDefault = new JsonEncoder({ decimalFormat: 'BASE64', replaceNullWithDefault: false });
    same(noDefault, schema, good);
  });

  it('keeps records whole and separate across chunks, and drops an aborted record', () => {
    const w = new ByteWriter();
    const schema: Schema = { type: 'struct', fields: [{ field: 's', type: 'string' }, { field: 'i', type: 'int64', optional: true }] };
    const outs: Array<[Buffer, string]> = [];
    for (let i = 0; i < 3000; i++) {
      const value = { s: 'z'.repeat(i % 3 === 0 ? 30_000 + i : i % 200), i };
      if (i % 7 === 0) {
        expect(viaBytes(encoder, schema, { s: 'partial', i: 'bad' }, w)).toBeInstanceOf(JsonWriteError);
      }
      w.begin();
      encoder.payloadInto(schema, value, w);
      outs.push([w.finish(), encoder.payload(schema, value)]);
    }
    for (const [bytes, text] of outs) expect(bytes.toString('utf8')).toBe(text);
  });

  it('JsonConverter writes the same envelopes and plain payloads through it', () => {
    const schema: Schema = { type: 'struct', name: 'k', optional: false, fields: [{ field: 'id', type: 'int64' }, { field: 'v', type: 'string', optional: true }] };
    const withSchemas = new JsonConverter();
    const plain = new JsonConverter({ schemasEnable: false });
    const encoderOf = new JsonEncoder({ decimalFormat: 'BASE64', replaceNullWithDefault: true });
    const value = { id: 42, v: 'ü "x"' };
    expect(withSchemas.fromConnectData('t', schema, value)!.toString('utf8')).toBe(`{"schema":${encoderOf.schemaJson(schema)},"payload":${encoderOf.payload(schema, value)}}`);
    expect(plain.fromConnectData('t', schema, value)!.toString('utf8')).toBe(encoderOf.payload(schema, value));
    expect(() => plain.fromConnectData('t', schema, { id: 'x' })).toThrow(/at id: expected int64/);
    // After a refused record the next one is whole.
    expect(plain.fromConnectData('t', schema, value)!.toString('utf8')).toBe(encoderOf.payload(schema, value));
  });
});
