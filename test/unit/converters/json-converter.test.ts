import { describe, expect, it } from 'vitest';
import { DataError, type Schema } from '../../../runtime/api/index.ts';
import { JsonConverter, jsonConverterPlugin } from '../../../runtime/converters/index.ts';
import { dateSchema, decimalSchema, timeSchema, timestampSchema } from '../../../runtime/converters/logical-types.ts';

const T = 'orders';

function write(c: JsonConverter, schema: Schema | undefined, value: unknown): string | null {
  const out = c.fromConnectData(T, schema, value);
  return out === null ? null : out.toString('utf8');
}

function read(c: JsonConverter, text: string | null) {
  return c.toConnectData(T, text === null ? null : Buffer.from(text, 'utf8'));
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const withSchemas = () => new JsonConverter();
const plain = () => new JsonConverter({ schemasEnable: false });

// Expected JSON below is written by hand from Kafka Connect's JsonConverter format: schema keys in
// the order type, items|keys,values|fields, optional, name, version, doc, parameters, default, and
// for struct fields "field" last.
describe('JsonConverter with schemas.enable=true (the default): primitives', () => {
  const cases: Array<[string, Schema, unknown, string, unknown?]> = [
    ['boolean', { type: 'boolean' }, true, '{"schema":{"type":"boolean","optional":false},"payload":true}'],
    ['int8', { type: 'int8' }, -12, '{"schema":{"type":"int8","optional":false},"payload":-12}'],
    ['int16', { type: 'int16' }, 12345, '{"schema":{"type":"int16","optional":false},"payload":12345}'],
    ['int32', { type: 'int32' }, 2147483647, '{"schema":{"type":"int32","optional":false},"payload":2147483647}'],
    ['int64', { type: 'int64' }, 4398046511104, '{"schema":{"type":"int64","optional":false},"payload":4398046511104}'],
    ['float32', { type: 'float32' }, 12.5, '{"schema":{"type":"float","optional":false},"payload":12.5}'],
    ['float64', { type: 'float64' }, 0.1, '{"schema":{"type":"double","optional":false},"payload":0.1}'],
    ['string', { type: 'string' }, 'héllo "w"\n', '{"schema":{"type":"string","optional":false},"payload":"héllo \\"w\\"\\n"}'],
    ['bytes', { type: 'bytes' }, Buffer.from('test-string'), '{"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="}'],
  ];
  // Connect's schema JSON names float32 and float64 "float" and "double".

  for (const [name, schema, value, json] of cases) {
    it(`writes and reads ${name} exactly as Connect does`, () => {
      const c = withSchemas();
      expect(write(c, schema, value)).toBe(json);
      const back = read(c, json);
      expect(back.schema).toEqual({ type: schema.type, optional: false });
      expect(back.value).toEqual(value);
    });
  }

  it('reads the envelopes Connect writes with whitespace and in any key order', () => {
    const back = read(withSchemas(), '{ "payload": 12, "schema": { "optional": true, "type": "int32" } }');
    expect(back).toEqual({ schema: { type: 'int32', optional: true }, value: 12 });
  });

  it('writes optional schemas with "optional":true and null inside structs', () => {
    const schema: Schema = { type: 'struct', fields: [{ field: 'a', type: 'string', optional: true }] };
    expect(write(withSchemas(), schema, { a: null })).toBe(
      '{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"a"}],"optional":false},"payload":{"a":null}}',
    );
  });

  it('writes name, version, doc, parameters and default in Connect\'s order', () => {
    const schema: Schema = {
      type: 'int32', optional: true, name: 'com.example.Count', version: 3, doc: 'how many', parameters: { unit: 'items', min: '0' }, default: 42,
    };
    const json = '{"schema":{"type":"int32","optional":true,"name":"com.example.Count","version":3,"doc":"how many","parameters":{"unit":"items","min":"0"},"default":42},"payload":7}';
    const c = withSchemas();
    expect(write(c, schema, 7)).toBe(json);
    const back = read(c, json);
    expect(back.schema).toEqual(schema);
    expect(back.value).toBe(7);
  });
});

describe('JsonConverter: structs, arrays and maps', () => {
  const address: Schema = {
    type: 'struct',
    name: 'com.example.Address',
    optional: true,
    fields: [
      { field: 'street', type: 'string' },
      { field: 'zip', type: 'string', optional: true },
    ],
  };
  const order: Schema = {
    type: 'struct',
    name: 'com.example.Order',
    version: 1,
    fields: [
      { field: 'id', type: 'int64' },
      { field: 'tags', type: 'array', items: { type: 'string' } },
      { field: 'counts', type: 'map', keys: { type: 'string' }, values: { type: 'int32' } },
      { field: 'byCode', type: 'map', keys: { type: 'int32' }, values: { type: 'boolean' }, optional: true },
      { ...address, field: 'shipTo' },
    ],
  };
  const value = {
    id: 1001,
    tags: ['new', 'gift'],
    counts: { apples: 3, pears: 0 },
    byCode: new Map([[1, true], [2, false]]),
    shipTo: { street: '1 Main St', zip: null },
  };
  const json =
    '{"schema":{"type":"struct","fields":[' +
    '{"type":"int64","optional":false,"field":"id"},' +
    '{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"},' +
    '{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false,"field":"counts"},' +
    '{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"boolean","optional":false},"optional":true,"field":"byCode"},' +
    '{"type":"struct","fields":[{"type":"string","optional":false,"field":"street"},{"type":"string","optional":true,"field":"zip"}],"optional":true,"name":"com.example.Address","field":"shipTo"}' +
    '],"optional":false,"name":"com.example.Order","version":1},' +
    '"payload":{"id":1001,"tags":["new","gift"],"counts":{"apples":3,"pears":0},"byCode":[[1,true],[2,false]],"shipTo":{"street":"1 Main St","zip":null}}}';

  it('writes nested structs, arrays, string-keyed maps (objects) and other maps (pairs) as Connect does', () => {
    expect(write(withSchemas(), order, value)).toBe(json);
  });

  it('reads them back: structs and string-keyed maps as objects, other maps as Map', () => {
    const back = read(withSchemas(), json);
    expect(back.value).toEqual(value);
    expect((back.value as { byCode: unknown }).byCode).toBeInstanceOf(Map);
    expect(back.schema).toMatchObject({ type: 'struct', name: 'com.example.Order', version: 1 });
    expect(back.schema!.fields!.map((f) => f.field)).toEqual(['id', 'tags', 'counts', 'byCode', 'shipTo']);
    // What we read, we write again byte for byte.
    expect(write(withSchemas(), back.schema, back.value)).toBe(json);
  });

  it('accepts a Map for a string-keyed map', () => {
    const schema: Schema = { type: 'map', keys: { type: 'string' }, values: { type: 'int32' } };
    expect(write(plain(), schema, new Map([['a', 1]]))).toBe('{"a":1}');
  });

  it('writes a field missing from the object as null (optional) or its default', () => {
    const schema: Schema = {
      type: 'struct',
      fields: [
        { field: 'a', type: 'int32', optional: true },
        { field: 'b', type: 'string', default: 'x' },
      ],
    };
    expect(write(plain(), schema, {})).toBe('{"a":null,"b":"x"}');
    expect(write(new JsonConverter({ schemasEnable: false, replaceNullWithDefault: false }), schema, { b: 'y' })).toBe('{"a":null,"b":"y"}');
  });

  it('reads a missing optional field as null and a missing field with a default as the default', () => {
    const json = '{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"a"},{"type":"string","optional":false,"default":"x","field":"b"}],"optional":false},"payload":{}}';
    expect(read(withSchemas(), json).value).toEqual({ a: null, b: 'x' });
  });

  it('handles field names that objects inherit ("constructor", "__proto__")', () => {
    const schema: Schema = {
      type: 'struct',
      fields: [
        { field: 'constructor', type: 'string', optional: true },
        { field: '__proto__', type: 'string', optional: true },
      ],
    };
    const c = withSchemas();
    const text = write(c, schema, {})!;
    expect(text).toContain('"payload":{"constructor":null,"__proto__":null}');
    const back = read(c, text.replace('"constructor":null', '"constructor":"c"').replace('"__proto__":null', '"__proto__":"p"'));
    expect(Object.getPrototypeOf(back.value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back.value, '__proto__')?.value).toBe('p');
    expect((back.value as Record<string, unknown>).constructor).toBe('c');
  });
});

describe('JsonConverter: logical types', () => {
  it('writes a Decimal as base64 of the big-endian two\'s-complement unscaled value', () => {
    const schema = decimalSchema(2);
    const json = '{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}';
    const c = withSchemas();
    expect(write(c, schema, '1.56')).toBe(json);
    expect(write(c, schema, 1.56)).toBe(json);
    expect(write(c, schema, '-1.56')).toContain('"payload":"/2Q="');
    expect(write(c, schema, '12.34')).toContain('"payload":"BNI="');
    expect(read(c, json)).toEqual({ schema, value: '1.56' });
    expect(read(c, json.replace('AJw=', '/2Q=')).value).toBe('-1.56');
  });

  it('writes a Decimal as an exact JSON number with decimal.format=NUMERIC, and reads both forms', () => {
    const c = jsonConverterPlugin.create({ 'decimal.format': 'NUMERIC' }, false);
    const schema = decimalSchema(4);
    const big = '123456789012345678901234.5000';
    const text = c.fromConnectData(T, schema, '123456789012345678901234.5')!.toString();
    expect(text).toBe(`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"4"}},"payload":${big}}`);
    expect(c.toConnectData(T, Buffer.from(text)).value).toBe(big);
    expect(c.fromConnectData(T, schema, '-0.0001')!.toString()).toContain('"payload":-0.0001}');
    // A number with fewer fraction digits is read at the schema's scale.
    expect(c.toConnectData(T, Buffer.from(text.replace(big, '10.2'))).value).toBe('10.2000');
  });

  it('rejects a Decimal with more fraction digits than its scale instead of rounding', () => {
    const e = caught(() => withSchemas().fromConnectData(T, decimalSchema(2), '1.234'));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/scale \(2\)/);
    expect(write(withSchemas(), decimalSchema(2), '1.230')).toContain('"payload":"ew=="');
  });

  it('writes Date as int32 days, Time as int32 milliseconds and Timestamp as int64 milliseconds', () => {
    const c = withSchemas();
    const day = new Date(Date.UTC(1997, 4, 19)); // 10000 days after the epoch
    expect(write(c, dateSchema(), day)).toBe(
      '{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}',
    );
    expect(write(c, dateSchema(), '1997-05-19')).toContain('"payload":10000}');
    expect(write(c, timeSchema(), new Date(14_400_000))).toBe(
      '{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}',
    );
    const ts = new Date(4_000_000_000);
    expect(write(c, timestampSchema(), ts)).toBe(
      '{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}',
    );
    expect(read(c, write(c, dateSchema(), day)).value).toEqual(day);
    expect(read(c, write(c, timeSchema(), new Date(14_400_000))).value).toEqual(new Date(14_400_000));
    expect(read(c, write(c, timestampSchema(), ts)).value).toEqual(ts);
  });

  it('rejects a Date with a time of day and a Time with a date', () => {
    expect(caught(() => withSchemas().fromConnectData(T, dateSchema(), new Date(Date.UTC(2024, 0, 1, 12))))).toBeInstanceOf(DataError);
    expect(caught(() => withSchemas().fromConnectData(T, timeSchema(), new Date(Date.UTC(2024, 0, 1, 12))))).toBeInstanceOf(DataError);
  });

  it('round-trips logical types inside structs, with optional nulls', () => {
    const schema: Schema = {
      type: 'struct',
      fields: [
        { ...decimalSchema(3, { optional: true }), field: 'amount' },
        { ...timestampSchema({ optional: true }), field: 'at' },
      ],
    };
    const c = withSchemas();
    const v = { amount: '-7.500', at: new Date(1_700_000_000_123) };
    expect(read(c, write(c, schema, v)).value).toEqual(v);
    expect(read(c, write(c, schema, { amount: null, at: null })).value).toEqual({ amount: null, at: null });
  });

  it('writes and reads a logical default value', () => {
    const schema: Schema = { ...decimalSchema(2, { optional: true }), default: '0.50' };
    const c = withSchemas();
    const text = write(c, schema, '1.00')!;
    expect(text).toBe('{"schema":{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"default":"Mg=="},"payload":"ZA=="}');
    const back = read(c, text);
    expect(back.schema!.default).toBe('0.50');
    expect(read(c, text.replace('"payload":"ZA=="', '"payload":null')).value).toBe('0.50');
  });
});

describe('JsonConverter: int64 beyond 2^53', () => {
  const big = 2n ** 62n + 1n; // 4611686018427387905

  it('writes a bigint with its exact digits and reads it back as a bigint', () => {
    const c = withSchemas();
    const text = write(c, { type: 'int64' }, big)!;
    expect(text).toBe('{"schema":{"type":"int64","optional":false},"payload":4611686018427387905}');
    expect(read(c, text).value).toBe(big);
    expect(write(c, { type: 'int64' }, -(2n ** 63n))).toContain('"payload":-9223372036854775808}');
  });

  it('keeps bigints exact without schemas too, and small ints as numbers', () => {
    const c = plain();
    const text = write(c, undefined, { id: big, n: 5, nested: [big, 1.5] })!;
    expect(text).toBe('{"id":4611686018427387905,"n":5,"nested":[4611686018427387905,1.5]}');
    expect(read(c, text).value).toEqual({ id: big, n: 5, nested: [big, 1.5] });
  });

  it('reads 9007199254740993 (2^53 + 1) as a bigint rather than rounding it', () => {
    expect(read(plain(), '[9007199254740993, 9007199254740991]').value).toEqual([9007199254740993n, 9007199254740991]);
  });

  it('recovers exact digits wherever a double would lose them: schema defaults, schemaless envelopes, NUMERIC decimals', () => {
    const c = withSchemas();
    const withDefault = '{"schema":{"type":"int64","optional":true,"default":9007199254740993},"payload":null}';
    expect(read(c, withDefault)).toEqual({ schema: { type: 'int64', optional: true, default: 9007199254740993n }, value: 9007199254740993n });
    expect(read(c, '{"schema":null,"payload":{"a":9007199254740993,"b":0.1}}')).toEqual({ value: { a: 9007199254740993n, b: 0.1 } });
    const numeric = '{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"16"}},"payload":1.0000000000000001}';
    expect(read(c, numeric).value).toBe('1.0000000000000001');
    expect(read(c, numeric.replace('1.0000000000000001', '2.5')).value).toBe('2.5000000000000000');
  });

  it('rejects int64 values out of range', () => {
    const e = caught(() => withSchemas().fromConnectData(T, { type: 'int64' }, 2n ** 63n));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/expected int64/);
  });
});

describe('JsonConverter without schemas', () => {
  it('writes plain JSON, and ignores a schema except to guide the encoding', () => {
    const c = plain();
    expect(write(c, undefined, { a: 1, b: ['x', null], c: { d: true } })).toBe('{"a":1,"b":["x",null],"c":{"d":true}}');
    expect(write(c, { type: 'struct', fields: [{ field: 'a', type: 'int32' }] }, { a: 1 })).toBe('{"a":1}');
    expect(write(c, undefined, 'text')).toBe('"text"');
    expect(write(c, undefined, 12)).toBe('12');
  });

  it('writes every primitive and logical type in Connect\'s JSON form and reads that form back without a schema', () => {
    const c = plain();
    const cases: Array<[Schema, unknown, string, unknown]> = [
      [{ type: 'boolean' }, false, 'false', false],
      [{ type: 'int8' }, 7, '7', 7],
      [{ type: 'int16' }, -300, '-300', -300],
      [{ type: 'int32' }, 70000, '70000', 70000],
      [{ type: 'int64' }, 2n ** 60n, '1152921504606846976', 2n ** 60n],
      [{ type: 'float32' }, 1.25, '1.25', 1.25],
      [{ type: 'float64' }, -0.5, '-0.5', -0.5],
      [{ type: 'string' }, 'x', '"x"', 'x'],
      [{ type: 'bytes' }, Buffer.from([0xff]), '"/w=="', '/w=='],
      [decimalSchema(2), '1.56', '"AJw="', 'AJw='],
      [dateSchema(), new Date(Date.UTC(1997, 4, 19)), '10000', 10000],
      [timeSchema(), new Date(14_400_000), '14400000', 14400000],
      [timestampSchema(), new Date(4_000_000_000), '4000000000', 4000000000],
    ];
    for (const [schema, value, json, back] of cases) {
      expect(write(c, schema, value)).toBe(json);
      expect(read(c, json)).toEqual({ value: back });
    }
  });

  it('reads plain JSON without a schema', () => {
    expect(read(plain(), '{"a":1,"b":[true,null],"c":"x"}')).toEqual({ value: { a: 1, b: [true, null], c: 'x' } });
  });

  it('writes bytes as base64, Maps as objects (or pairs), Sets as arrays, NaN as a string', () => {
    const c = plain();
    expect(write(c, undefined, { b: Buffer.from([1, 2, 3]), m: new Map([['k', 1]]), p: new Map([[1, 'a']]), s: new Set([1, 2]), n: NaN })).toBe(
      '{"b":"AQID","m":{"k":1},"p":[[1,"a"]],"s":[1,2],"n":"NaN"}',
    );
  });

  it('writes a value without a schema inside an envelope with "schema":null, as Connect does', () => {
    const c = withSchemas();
    expect(write(c, undefined, { a: 1 })).toBe('{"schema":null,"payload":{"a":1}}');
    expect(read(c, '{"schema":null,"payload":{"a":1}}')).toEqual({ value: { a: 1 } });
  });

  it('rejects circular values with a DataError', () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    const e = caught(() => plain().fromConnectData(T, undefined, o));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/circular/);
  });
});

describe('JsonConverter: tombstones', () => {
  it('writes a null or undefined value as null bytes, with or without a schema', () => {
    for (const c of [withSchemas(), plain()]) {
      expect(c.fromConnectData(T, undefined, null)).toBeNull();
      expect(c.fromConnectData(T, { type: 'string', optional: true }, null)).toBeNull();
      expect(c.fromConnectData(T, { type: 'string' }, undefined)).toBeNull();
    }
  });

  it('reads null (and empty) bytes as a null value with no schema', () => {
    for (const c of [withSchemas(), plain()]) {
      expect(c.toConnectData(T, null)).toEqual({ value: null });
      expect(c.toConnectData(T, Buffer.alloc(0))).toEqual({ value: null });
    }
  });
});

describe('JsonConverter: errors', () => {
  it('says the topic and what was wrong for invalid JSON', () => {
    const e = caught(() => read(withSchemas(), '{"schema": nope'));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toContain('topic "orders"');
    expect(e.message).toContain('not valid JSON');
    expect(e.message).toContain('value.converter');
  });

  it('tells the user to set schemas.enable=false when a message has no envelope', () => {
    const e = caught(() => read(withSchemas(), '{"id":1,"name":"x"}'));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toContain('topic "orders"');
    expect(e.message).toContain('"schema" and "payload"');
    expect(e.message).toContain('"id", "name"');
    expect(e.message).toContain('value.converter.schemas.enable=false');
    const key = jsonConverterPlugin.create({}, true);
    expect(caught(() => key.toConnectData(T, Buffer.from('42'))).message).toContain('key.converter.schemas.enable=false');
  });

  it('rejects an envelope with extra fields, as Connect does', () => {
    expect(caught(() => read(withSchemas(), '{"schema":null,"payload":1,"extra":2}'))).toBeInstanceOf(DataError);
  });

  it('names the field whose value does not match the schema, without showing the value', () => {
    const schema: Schema = {
      type: 'struct',
      fields: [{ field: 'customer', type: 'struct', fields: [{ field: 'zip', type: 'string' }] }],
    };
    const e = caught(() => withSchemas().fromConnectData(T, schema, { customer: { zip: 12345 } }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe('Cannot convert the value of a record for topic "orders" to JSON: at customer.zip: expected a string, got an integer.');
  });

  it('rejects a null for a required field without a default', () => {
    const schema: Schema = { type: 'struct', fields: [{ field: 'id', type: 'int32' }] };
    expect(caught(() => withSchemas().fromConnectData(T, schema, { id: null })).message).toMatch(/at id: null value for a required field/);
    const text = '{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{}}';
    expect(caught(() => read(withSchemas(), text)).message).toMatch(/at id: null value for a required int32 field/);
  });

  it('rejects out-of-range and mistyped values on both sides', () => {
    const c = withSchemas();
    expect(caught(() => c.fromConnectData(T, { type: 'int8' }, 128))).toBeInstanceOf(DataError);
    expect(caught(() => c.fromConnectData(T, { type: 'int32' }, 1.5))).toBeInstanceOf(DataError);
    expect(caught(() => c.fromConnectData(T, { type: 'bytes' }, 'not bytes'))).toBeInstanceOf(DataError);
    expect(caught(() => read(c, '{"schema":{"type":"int16","optional":false},"payload":40000}'))).toBeInstanceOf(DataError);
    expect(caught(() => read(c, '{"schema":{"type":"bytes","optional":false},"payload":"**"}')).message).toMatch(/base64/);
    expect(caught(() => read(c, '{"schema":{"type":"wat","optional":false},"payload":1}')).message).toMatch(/unknown schema type "wat"/);
    expect(caught(() => read(c, '{"schema":{"type":"array","optional":false},"payload":[]}')).message).toMatch(/"items"/);
  });
});

describe('JsonConverter: strings', () => {
  it('escapes exactly as JSON.stringify does', () => {
    const schema: Schema = { type: 'array', items: { type: 'string' } };
    const values = ['plain', 'quote " and \\ backslash', 'tab\tnew\nline\u0001', 'émoji 😀', 'lone \ud800 surrogate', ''];
    const c = plain();
    expect(write(c, schema, values)).toBe(JSON.stringify(values));
    expect(write(c, { type: 'map', keys: { type: 'string' }, values: { type: 'int8' } }, { 'k"ey': 1 })).toBe('{"k\\"ey":1}');
    expect(read(c, write(c, schema, values)).value).toEqual(values);
  });
});

describe('JsonConverter: caches', () => {
  it('reads a message repeating the last schema without parsing the schema again, and still checks the envelope', () => {
    const c = withSchemas();
    const head = '{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false},"payload":';
    const first = read(c, `${head}{"id":1}}`);
    const second = read(c, `${head}{"id":1234567890123456789}}`);
    expect(second.schema).toBe(first.schema);
    expect(second.value).toEqual({ id: 1234567890123456789n });
    expect(caught(() => read(c, `${head}{"id":12345678901234567890}}`)).message).toContain('out of the int64 range');
    expect(caught(() => read(c, `${head}{"id":1},"extra":true}`)).message).toContain('no schema envelope');
    expect(caught(() => read(c, `${head}{"id":"x"}}`)).message).toContain('its payload, at id: expected int64');
    // A different schema after the cached one is read as itself.
    expect(read(c, '{"schema":{"type":"string","optional":true},"payload":"s"}')).toEqual({ schema: { type: 'string', optional: true }, value: 's' });
    expect(read(c, `${head}{"id":2}}`).schema).toEqual(first.schema);
  });

  it('reads a repeated schema as the same frozen Schema object', () => {
    const c = withSchemas();
    const text = '{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"}],"optional":false},"payload":{"a":1}}';
    const a = read(c, text).schema!;
    const b = read(c, text.replace('"a":1}}', '"a":2}}')).schema!;
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.fields![0])).toBe(true);
  });

  it('serialises a schema object once and reuses it', () => {
    const c = withSchemas();
    const schema: Schema = { type: 'struct', fields: [{ field: 'a', type: 'int32' }] };
    const first = write(c, schema, { a: 1 });
    // Schemas are immutable once used: a change to the same object is not seen.
    schema.name = 'changed';
    expect(write(c, schema, { a: 1 })).toBe(first);
    expect(write(c, { ...schema }, { a: 1 })).toContain('"name":"changed"');
  });

  it('keeps at most schemas.cache.size schemas', () => {
    const c = jsonConverterPlugin.create({ 'schemas.cache.size': '1' }, false);
    const t = (n: string) => Buffer.from(`{"schema":{"type":"int32","optional":false,"name":"${n}"},"payload":1}`);
    const a = c.toConnectData(T, t('a')).schema;
    c.toConnectData(T, t('b'));
    expect(c.toConnectData(T, t('a')).schema).not.toBe(a);
    expect(c.toConnectData(T, t('a')).schema).toEqual(a);
  });
});

describe('jsonConverterPlugin config', () => {
  it('rejects bad settings with a ConfigError naming them', () => {
    expect(() => jsonConverterPlugin.create({ 'schemas.enable': 'maybe' }, false)).toThrow(/schemas\.enable/);
    expect(() => jsonConverterPlugin.create({ 'decimal.format': 'HEX' }, false)).toThrow(/decimal\.format/);
  });

  it('accepts decimal.format in any case and schemas.enable=false', () => {
    const c = jsonConverterPlugin.create({ 'schemas.enable': 'false', 'decimal.format': 'numeric' }, false);
    expect(c.fromConnectData(T, decimalSchema(1), '2.5')!.toString()).toBe('2.5');
  });
});
