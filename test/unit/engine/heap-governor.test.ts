import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MAJOR_GC_SHARE_HIGH, MAJOR_GC_SHARE_LOW, oldGrowingPercent, youngShouldGrow, type Scavenge } from '../../../runtime/engine/heap-governor.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

async function load(governed: boolean, mode: 'slow' | 'fast', seconds: number): Promise<{ initial: number; largest: number }> {
  const { stdout } = await run(process.execPath, ['--no-warnings', path.join(here, 'fixtures', 'heap-load.ts'), governed ? '1' : '0', mode, String(seconds)]);
  return JSON.parse(stdout.trim());
}

const MB = 1024 * 1024;

describe('heap governor decisions', () => {
  // Scavenges starting every `every` ms, each taking `ms`.
  const at = (every: number, ms = 1, n = 4): Scavenge[] => Array.from({ length: n }, (_, k) => ({ at: k * every, ms }));

  it('grows new space while, twice as large, it would still fill within the target', () => {
    expect(youngShouldGrow(at(20), 125)).toBe(true); // fills every 20 ms: 40 < 125
    expect(youngShouldGrow(at(70), 125)).toBe(false); // 70 ms: doubled, 140 > 125
    expect(youngShouldGrow(at(62), 125)).toBe(true);
    expect(youngShouldGrow(at(63), 125)).toBe(false);
    // Fewer than YOUNG_FILLS scavenges at one size say nothing yet (the first may be a partial fill).
    expect(youngShouldGrow(at(10, 1, 3), 125)).toBe(false);
    expect(youngShouldGrow([], 125)).toBe(false);
  });

  it('grows new space, however slowly it fills, while scavenging takes over 5% of the time (many survivors)', () => {
    expect(youngShouldGrow(at(100, 6), 125)).toBe(true); // 6 ms in every 100: 6%
    expect(youngShouldGrow(at(100, 4), 125)).toBe(false); // 4%
  });

  it('gives the old generation the large headroom once full GCs cost over 1%, the small one under 0.25%, and keeps its choice between', () => {
    expect(oldGrowingPercent(50, MAJOR_GC_SHARE_HIGH * 1.5, 50, 150)).toBe(150);
    expect(oldGrowingPercent(150, MAJOR_GC_SHARE_LOW / 2, 50, 150)).toBe(50);
    const between = (MAJOR_GC_SHARE_LOW + MAJOR_GC_SHARE_HIGH) / 2;
    expect(oldGrowingPercent(150, between, 50, 150)).toBe(150);
    expect(oldGrowingPercent(50, between, 50, 150)).toBe(50);
  });
});

describe('heap governor on a real V8 heap', () => {
  it('a slow steady load with survivors: V8 alone grows new space, the governor keeps it small', async () => {
    const [alone, governed] = await Promise.all([load(false, 'slow', 4), load(true, 'slow', 4)]);
    // V8 takes one step from its initial 1 MB even with growth stopped (a start-up quirk of the
    // semi-space sizing), so "small" is at most 2 MB; V8 alone goes on doubling.
    expect(governed.largest).toBeLessThanOrEqual(2 * MB);
    expect(alone.largest).toBeGreaterThan(2 * MB);
  }, 30_000);

  it('a fast load: the governor lets new space grow to at least 16 MB', async () => {
    const governed = await load(true, 'fast', 3);
    expect(governed.largest).toBeGreaterThanOrEqual(16 * MB);
  }, 30_000);
});
