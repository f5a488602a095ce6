/**
 * Progress bars for `tributary connectors status <name> --watch`: any task progress with a
 * `<what>RowsDone` / `<what>RowsEstimated` pair (the Postgres snapshot's `snapshotRows...`, a
 * backfill's `backfillRows...`) becomes one line:
 *
 *   task 0 snapshot  [##########..........]  52%  520,000 / 1,000,000 rows  31,200 rows/s  ETA 15 s
 */
import type { ConnectorStateInfo } from '../cluster/herder.ts';

const WIDTH = 20;

export interface Bar {
  task: number;
  what: string;
  done: number;
  estimated: number;
  perSecond: number | undefined;
  completed: boolean;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The bars a connector's status holds, in task order. */
export function progressBars(status: ConnectorStateInfo): Bar[] {
  const bars: Bar[] = [];
  for (const t of status.tasks) {
    const p = t.progress ?? {};
    for (const key of Object.keys(p)) {
      const m = /^(.+)RowsDone$/.exec(key);
      if (!m) continue;
      const what = m[1]!;
      const done = Number(p[key]);
      const estimated = Number(p[`${what}RowsEstimated`]);
      if (!Number.isFinite(done) || !Number.isFinite(estimated)) continue;
      const rate = Number(p[`${what}RowsPerSecond`]);
      bars.push({ task: t.id, what, done, estimated: Math.max(estimated, done), perSecond: Number.isFinite(rate) ? rate : undefined, completed: p[`${what}Completed`] === true });
    }
  }
  return bars;
}

export function renderBar(bar: Bar): string {
  const fraction = bar.completed ? 1 : bar.estimated > 0 ? Math.min(1, bar.done / bar.estimated) : 0;
  const filled = Math.round(fraction * WIDTH);
  const parts = [
    `task ${bar.task} ${bar.what}`,
    `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}]`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${fmt(bar.done)} / ${fmt(bar.estimated)} rows`,
  ];
  if (bar.completed) parts.push('done');
  else if (bar.perSecond && bar.perSecond > 0) {
    parts.push(`${fmt(bar.perSecond)} rows/s`);
    parts.push(`ETA ${fmt(Math.max(0, bar.estimated - bar.done) / bar.perSecond)} s`);
  }
  return parts.join('  ');
}
