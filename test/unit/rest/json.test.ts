import { describe, expect, it } from 'vitest';
import { errorPosition, JsonSyntaxError, parseJson } from '../../../runtime/rest/json.ts';

describe('parseJson', () => {
  it('parses valid JSON and drops __proto__ keys', () => {
    const v = parseJson('{"a": [1, true, null, "x"], "__proto__": {"polluted": 1}}') as Record<string, unknown>;
    expect(v).toEqual({ a: [1, true, null, 'x'] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['{"a": 1,,}', 1, 9],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3],
    ['{"a": }', 1, 7],
    ['[1, 2', 1, 6],
    ['{"a": "x\ny"}', 1, 9],
    ['{"a": tru}', 1, 10],
    ['{"a": 1} x', 1, 10],
    ['', 1, 1],
    ['{"a": "\\q"}', 1, 9],
    ['{"a": 01}', 1, 8],
  ])('%j fails at line %i column %i', (text, line, column) => {
    let err: unknown;
    try {
      parseJson(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect([(err as JsonSyntaxError).line, (err as JsonSyntaxError).column]).toEqual([line, column]);
    expect((err as Error).message).toMatch(new RegExp(`^line ${line}, column ${column}: \\S`));
  });

  it('finds no error in valid JSON', () => {
    const text = '{"a": {"b": [1.5e3, -0, "\\u00e9\\n"]}, "c": false}';
    expect(errorPosition(text)).toBe(text.length);
  });
});
