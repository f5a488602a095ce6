import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../../runtime/cli/args.ts';
import { firstLine, formatTable } from '../../../runtime/cli/table.ts';

describe('formatTable', () => {
  it('pads columns to the widest cell, two spaces apart, without trailing spaces', () => {
    expect(formatTable(['A', 'LONGER'], [['xyz', 1], ['', null]])).toBe('A    LONGER\nxyz  1\n\n');
  });

  it('keeps every row on one line', () => {
    expect(formatTable(['K', 'V'], [['a', 'two\n  lines']])).toBe('K  V\na  two lines\n');
  });

  it('firstLine shortens traces', () => {
    expect(firstLine('Boom: x\n\tat y')).toBe('Boom: x');
    expect(firstLine('x'.repeat(200), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(firstLine(undefined)).toBe('');
  });
});

describe('parseArgs', () => {
  const values = new Set(['url']);

  it('reads --flag value, --flag=value, booleans, -h and --', () => {
    const p = parseArgs(['connectors', '--url', 'http://x', 'list', '--json', '--url=http://y', '-h', '--', '--not-a-flag'], values);
    expect(p.positionals).toEqual(['connectors', 'list', '--not-a-flag']);
    expect(p.values.get('url')).toBe('http://y');
    expect([...p.booleans].sort()).toEqual(['help', 'json']);
  });

  it('refuses a value flag without a value, a boolean with one, and unknown short flags', () => {
    expect(() => parseArgs(['--url'], values)).toThrow(UsageError);
    expect(() => parseArgs(['--json=yes'], values)).toThrow(/takes no value/);
    expect(() => parseArgs(['-x'], values)).toThrow(/Unknown option -x/);
  });
});
