import { describe, expect, it } from 'vitest';
import { parseFieldPath } from '../../../../runtime/transforms/util/field-path.ts';

describe('parseFieldPath', () => {
  it('V1 takes the path as one field name', () => {
    expect(parseFieldPath('a.b', 'V1')).toEqual(['a.b']);
  });

  it.each([
    ['a', ['a']],
    ['a.b.c', ['a', 'b', 'c']],
    ['`a.b`.c', ['a.b', 'c']],
    ['a.`b.c`', ['a', 'b.c']],
    ['`a`b`.c', ['a`b', 'c']],
    ['`a\\`.b`.c', ['a`.b', 'c']],
    ['a.', ['a', '']],
  ])('V2 %s', (path, steps) => {
    expect(parseFieldPath(path, 'v2')).toEqual(steps);
  });

  it('V2 rejects an unclosed backtick', () => {
    expect(() => parseFieldPath('`a.b', 'V2')).toThrow('Incomplete backtick pair in path: [`a.b], consider adding a backslash before backtick at position 0 to escape it.');
  });
});
