import { describe, expect, it } from 'vitest';
import { compileJavaRegex, compileJavaReplacement, fullMatch } from '../../../../runtime/transforms/util/java-regex.ts';

const matches = (pattern: string, input: string) => fullMatch(compileJavaRegex(pattern), input) !== null;

describe('compileJavaRegex', () => {
  it('matches only the whole input, as Matcher.matches()', () => {
    expect(matches('orders', 'orders')).toBe(true);
    expect(matches('orders', 'orders-v2')).toBe(false);
    expect(matches('orders', 'my-orders')).toBe(false);
    expect(matches('a|ab', 'ab')).toBe(true);
  });

  it('counts and names groups', () => {
    const r = compileJavaRegex('(?<db>\\w+)\\.(\\w+)(?:\\.(x))?');
    expect(r.groupCount).toBe(3);
    expect(r.groupNames).toEqual(['db']);
  });

  it('translates leading inline flags, \\Q..\\E quoting and the \\A \\z anchors', () => {
    expect(matches('(?i)ORDERS', 'orders')).toBe(true);
    expect(matches('(?s)a.b', 'a\nb')).toBe(true);
    expect(matches('\\Qdb.orders+\\E', 'db.orders+')).toBe(true);
    expect(matches('\\Qdb.orders\\E', 'dbXorders')).toBe(false);
    expect(matches('\\Aab\\z', 'ab')).toBe(true);
    expect(matches('\\p{L}+', 'Ünïcödé')).toBe(true);
  });

  it('refuses what JavaScript cannot do the same way', () => {
    expect(() => compileJavaRegex('(?x) a b')).toThrow('The (?x) comments flag of Java regexes is not supported');
    expect(() => compileJavaRegex('[a-z&&[^x]]')).toThrow('Character class intersections (&&) of Java regexes are not supported.');
    expect(() => compileJavaRegex('a++')).toThrow('Not a valid regular expression');
    expect(() => compileJavaRegex('(unclosed')).toThrow('Not a valid regular expression');
  });
});

describe('compileJavaReplacement', () => {
  const expand = (pattern: string, replacement: string, input: string) => {
    const r = compileJavaRegex(pattern);
    return compileJavaReplacement(replacement, r)(fullMatch(r, input)!);
  };

  it('expands $n, ${name} and \\ escapes', () => {
    expect(expand('(\\w+)-(\\w+)', '$2_$1', 'a-b')).toBe('b_a');
    expect(expand('(?<table>\\w+)-raw', 'clean.${table}', 'orders-raw')).toBe('clean.orders');
    expect(expand('(\\w+)', 'cost\\$$1\\\\', 'x')).toBe('cost$x\\');
  });

  it('reads multi-digit group numbers only as far as groups exist, as Java does', () => {
    expect(expand('(a)', '$10', 'a')).toBe('a0');
  });

  it('expands a group that did not take part in the match to nothing', () => {
    expect(expand('(a)|(b)', '[$1][$2]', 'b')).toBe('[][b]');
  });

  it('rejects references to groups that do not exist, when configured', () => {
    const r = compileJavaRegex('(\\w+)');
    expect(() => compileJavaReplacement('$2', r)).toThrow('The replacement refers to group $2, but the regex has only 1 group(s).');
    expect(() => compileJavaReplacement('${x}', r)).toThrow('The replacement refers to group ${x}, but the regex has no group named "x".');
    expect(() => compileJavaReplacement('$x', r)).toThrow("Illegal group reference at position 0 of the replacement: '$' must be followed by a group number or {name}");
    expect(() => compileJavaReplacement('a\\', r)).toThrow('The replacement ends with a backslash');
    expect(() => compileJavaReplacement('${x', r)).toThrow("missing its closing '}'");
  });
});
