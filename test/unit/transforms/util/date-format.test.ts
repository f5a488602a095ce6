import { describe, expect, it } from 'vitest';
import { compileDateFormat } from '../../../../runtime/transforms/util/date-format.ts';

const T = Date.UTC(2024, 1, 29, 13, 5, 7, 9); // Thu 29 Feb 2024 13:05:07.009 UTC

describe('compileDateFormat: formatting (UTC)', () => {
  it.each([
    ['yyyyMMdd', '20240229'],
    ["yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", '2024-02-29T13:05:07.009Z'],
    ['yyyy-MM-dd HH:mm:ss.SSSZ', '2024-02-29 13:05:07.009+0000'],
    ["yyyy-MM-dd'T'HH:mm:ssX", '2024-02-29T13:05:07Z'],
    ["yyyy-MM-dd'T'HH:mm:ssXXX", '2024-02-29T13:05:07Z'],
    ['yy-M-d H:m:s.S', '24-2-29 13:5:7.9'],
    ['EEE, d MMM yyyy hh:mm a z', 'Thu, 29 Feb 2024 01:05 PM UTC'],
    ['EEEE MMMM dd', 'Thursday February 29'],
    ['D u k K', '60 4 13 1'],
    ["'o''clock' ''HH''", "o'clock '13'"],
  ])('%s', (pattern, expected) => {
    expect(compileDateFormat(pattern).format(T)).toBe(expected);
  });

  it('formats midnight with k as 24 and h as 12', () => {
    expect(compileDateFormat('k h a').format(Date.UTC(2024, 0, 1))).toBe('24 12 AM');
  });
});

describe('compileDateFormat: parsing', () => {
  it.each([
    ["yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", '2024-02-29T13:05:07.009Z', T],
    ['yyyyMMddHHmmssSSS', '20240229130507009', T],
    ["yyyy-MM-dd'T'HH:mm:ss.SSSXXX", '2024-02-29T15:05:07.009+02:00', T],
    ['yyyy-MM-dd HH:mm:ss.SSSZ', '2024-02-29 08:05:07.009-0500', T],
    ['yyyy-MM-dd', '2024-02-29', Date.UTC(2024, 1, 29)],
    ['dd MMM yyyy hh:mm:ss.SSS a', '29 feb 2024 01:05:07.009 PM', T],
    ['EEE, d MMMM yyyy', 'Thursday, 29 February 2024', Date.UTC(2024, 1, 29)],
    ['yyyy-M-d', '2024-2-29', Date.UTC(2024, 1, 29)],
  ])('%s parses %s', (pattern, text, expected) => {
    expect(compileDateFormat(pattern).parse(text)).toBe(expected);
  });

  it('ignores text after the pattern, as SimpleDateFormat.parse does', () => {
    expect(compileDateFormat('yyyy-MM-dd').parse('2024-02-29T13:05:07Z')).toBe(Date.UTC(2024, 1, 29));
  });

  it('rolls over out-of-range fields (lenient)', () => {
    expect(compileDateFormat('yyyy-MM-dd').parse('2024-13-01')).toBe(Date.UTC(2025, 0, 1));
  });

  it('reads two-digit years within 80 years before and 20 after now', () => {
    const thisYear = new Date().getUTCFullYear();
    const yy = (thisYear + 1) % 100;
    expect(new Date(compileDateFormat('yy-MM-dd').parse(`${String(yy).padStart(2, '0')}-01-01`)).getUTCFullYear()).toBe(thisYear + 1);
    const old = (thisYear - 70) % 100;
    expect(new Date(compileDateFormat('yy-MM-dd').parse(`${String(old).padStart(2, '0')}-01-01`)).getUTCFullYear()).toBe(thisYear - 70);
  });

  it('throws saying where the text stopped matching', () => {
    expect(() => compileDateFormat('yyyy-MM-dd').parse('2024/02/29')).toThrow(
      'Unparseable date "2024/02/29": it does not match the pattern "yyyy-MM-dd" at position 4.',
    );
    expect(() => compileDateFormat('yyyy-MM-dd').parse('abc')).toThrow('Unparseable date "abc"');
  });

  it('round-trips what it formats', () => {
    const f = compileDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSSZ");
    expect(f.parse(f.format(T))).toBe(T);
  });
});

describe('compileDateFormat: patterns it refuses', () => {
  it.each([
    ['yyyy-MM-ddTHH', "Illegal pattern character 'T' in date pattern \"yyyy-MM-ddTHH\"; quote literal text, e.g. 'T'."],
    ["yyyy'T", 'Unterminated quote in date pattern "yyyy\'T".'],
    ['YYYY-ww', "Pattern letter 'Y' in \"YYYY-ww\" is not supported"],
    ['HH:mmXXXX', "Invalid ISO 8601 zone 'X' of length 4"],
  ])('%s', (pattern, message) => {
    expect(() => compileDateFormat(pattern)).toThrow(message);
  });
});
