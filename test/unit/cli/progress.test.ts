import { describe, expect, it } from 'vitest';
import type { ConnectorStateInfo } from '../../../runtime/cluster/herder.ts';
import { watchProgress } from '../../../runtime/cli/commands.ts';
import type { Context } from '../../../runtime/cli/context.ts';
import { progressBars, renderBar } from '../../../runtime/cli/progress.ts';

function status(progress: Array<Record<string, unknown> | undefined>): ConnectorStateInfo {
  return {
    name: 'pg',
    type: 'source',
    connector: { state: 'RUNNING', worker_id: 'w0' },
    tasks: progress.map((p, id) => ({ id, state: 'RUNNING', worker_id: 'w0', ...(p ? { progress: p } : {}) })),
  };
}

describe('snapshot and backfill progress bars', () => {
  it('finds every <what>RowsDone/<what>RowsEstimated pair and draws it with rate and ETA', () => {
    const bars = progressBars(status([
      { snapshotRowsDone: 520_000, snapshotRowsEstimated: 1_000_000, snapshotRowsPerSecond: 32_000, phase: 'snapshot' },
      undefined,
      { backfillRowsDone: 10, backfillRowsEstimated: 10, backfillCompleted: true },
    ]));
    expect(bars.map(renderBar)).toEqual([
      'task 0 snapshot  [##########..........]   52%  520,000 / 1,000,000 rows  32,000 rows/s  ETA 15 s',
      'task 2 backfill  [####################]  100%  10 / 10 rows  done',
    ]);
  });

  it('an estimate below what is done (stale statistics) shows the done count as the total', () => {
    expect(renderBar(progressBars(status([{ snapshotRowsDone: 120, snapshotRowsEstimated: 100 }]))[0]!)).toBe('task 0 snapshot  [####################]  100%  120 / 120 rows');
  });

  it('--watch polls the status until every bar is done, redrawing in place on a terminal', async () => {
    const seen = [
      status([{ snapshotRowsDone: 50, snapshotRowsEstimated: 100, snapshotRowsPerSecond: 50 }]),
      status([{ snapshotRowsDone: 100, snapshotRowsEstimated: 100, snapshotCompleted: true }]),
    ];
    let out = '';
    let requests = 0;
    const ctx = {
      client: { request: async () => ({ status: 200, body: seen[++requests] }) },
      json: false,
      flags: new Set(['watch']),
      tty: true,
      out: (t: string) => (out += t),
      err: () => {},
    } as unknown as Context;
    expect(await watchProgress(ctx, 'pg', seen[0]!, 1)).toBe(0);
    expect(requests).toBe(1);
    expect(out).toBe(
      'task 0 snapshot  [##########..........]   50%  50 / 100 rows  50 rows/s  ETA 1 s\n' +
        '\x1b[1A\x1b[J' +
        'task 0 snapshot  [####################]  100%  100 / 100 rows  done\n',
    );
  });
});
