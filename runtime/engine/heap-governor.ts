/**
 * Keeps the worker's JavaScript heap sized to its load instead of to V8's throughput defaults.
 *
 * Measured on a standalone worker with 10 tasks at 25,000 records/s (bench/standalone-pipeline.ts):
 * - Young generation. V8 doubles new space whenever the bytes that survived scavenges since its
 *   last growth exceed its capacity. Any steady stream keeps some records alive across a
 *   scavenge, so that sum always gets there: new space climbs to its 32 MB maximum even though
 *   8 MB holds several hundred ms of that load's allocation. V8 only shrinks it again when it
 *   sees the process idle. The governor lets it grow only while it is too small for the
 *   allocation rate (while, twice as large, it would still fill in under `youngTargetMs`) or
 *   scavenging costs over 5% of the time (many survivors, as V8 intends) (V8 reads
 *   `--semi-space-growth-factor` at each growth, so 1 stops growth at once and 2 restores V8's
 *   doubling). A fast pipeline still gets the maximum within a second; a quiet one stays small.
 * - Old generation. `--heap-growing-percent` (read at every full GC) decides how far the old
 *   generation may grow past its live data before the next full GC. Its CPU cost is set by how
 *   fast objects are promoted, not by the heap's size: a worker that promotes little pays a few
 *   ms a minute even at 50%, while a Postgres CDC backlog pays ~10% of its CPU going from the
 *   default to 150%. So the governor uses `oldPercentMin` while full GCs take under 0.25% of the
 *   time and `oldPercentMax` once they take over 1% (between the two it keeps its choice).
 *
 * Growth of either generation is held until `release()` (the worker is ready): start-up loads
 * modules in a burst of short-lived allocation that says nothing about the load to come.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export interface HeapGovernorOptions {
  /** New space may grow while it fills faster than this (ms); 0 leaves V8 its own growth. */
  youngTargetMs: number;
  /** heap.growing.percent while full GCs are rare (capped at oldPercentMax). */
  oldPercentMin: number;
  /** heap.growing.percent while full GCs cost over 1% of the time; 0 leaves V8 its own heuristic. */
  oldPercentMax: number;
  /** How often the old generation's headroom is decided (ms). */
  intervalMs?: number;
}

/** Over this share of wall time spent in full GCs, the old generation gets its larger headroom. */
export const MAJOR_GC_SHARE_HIGH = 0.01;
/** Under this share, the smaller headroom again. */
export const MAJOR_GC_SHARE_LOW = 0.0025;
/** Periods of full-GC time the old-generation decision looks back over. */
export const MAJOR_GC_WINDOW = 10;
/** Scavenges at one new-space size whose spacing decides whether it grows. */
export const YOUNG_FILLS = 4;

/** Scavenges taking over this share of the time grow new space whatever its fill rate. */
export const SCAVENGE_SHARE_HIGH = 0.05;

/** A scavenge as the governor sees it: when it started and how long it took (ms). */
export interface Scavenge {
  at: number;
  ms: number;
}

/**
 * Whether new space should be let grow, from the last scavenges at its current size. Grow while,
 * twice as large, it would still fill faster than the target (so it settles where it fills every
 * target/2 to target ms, and a load near a boundary does not flip it), or while scavenging takes
 * over 5% of the time: many records outlive a fill (a backlog waiting in a topic), and each
 * scavenge copies them again until a larger space lets them die young. That second rule is V8's
 * own reason to grow; the first is what a quiet stream with a few survivors needs.
 */
export function youngShouldGrow(scavenges: readonly Scavenge[], targetMs: number): boolean {
  // The first interval after a resize or a start may cover a partly filled space: decide only on
  // YOUNG_FILLS scavenges at one size.
  if (scavenges.length < YOUNG_FILLS) return false;
  const span = scavenges[scavenges.length - 1].at - scavenges[0].at;
  const meanFill = span / (scavenges.length - 1);
  if (2 * meanFill < targetMs) return true;
  let busy = 0;
  for (let k = 1; k < scavenges.length; k++) busy += scavenges[k].ms;
  return span > 0 && busy / span > SCAVENGE_SHARE_HIGH;
}

/** The heap growing percent for the next period, from the share of time full GCs took. */
export function oldGrowingPercent(current: number, majorGcShare: number, min: number, max: number): number {
  if (majorGcShare > MAJOR_GC_SHARE_HIGH) return max;
  if (majorGcShare < MAJOR_GC_SHARE_LOW) return min;
  return current;
}

export class HeapGovernor {
  private readonly o: Required<HeapGovernorOptions>;
  private observer: PerformanceObserver | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The latest scavenges (at most YOUNG_FILLS) since new space last changed size. */
  private fills: Scavenge[] = [];
  private fillsAtSize = 0;
  private majorMs = 0;
  private readonly majorWindow: number[] = [];
  private youngGrowing = true;
  private oldPercent = 0;
  private released = false;

  constructor(options: HeapGovernorOptions) {
    this.o = { intervalMs: 1000, ...options };
  }

  private get governsYoung(): boolean {
    return this.o.youngTargetMs > 0;
  }

  private get governsOld(): boolean {
    return this.o.oldPercentMax > 0;
  }

  private get oldMin(): number {
    return Math.min(this.o.oldPercentMin || this.o.oldPercentMax, this.o.oldPercentMax);
  }

  /** Apply the start-up settings (no young growth, the smaller old headroom) and start observing GCs. */
  start(): void {
    if (this.observer || (!this.governsYoung && !this.governsOld)) return;
    if (this.governsYoung) this.setYoungGrowing(false);
    if (this.governsOld) this.setOldPercent(this.oldMin);
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) this.onScavenge(e.startTime, e.duration);
        else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) this.majorMs += e.duration;
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Start-up is over: decide from the load from now on. */
  release(): void {
    if (!this.observer || this.released) return;
    this.released = true;
    this.fills = [];
    this.majorMs = 0;
    if (this.governsOld) {
      this.timer = setInterval(() => this.decideOld(), this.o.intervalMs);
      this.timer.unref();
    }
  }

  private onScavenge(at: number, ms: number): void {
    if (!this.released || !this.governsYoung) return;
    const size = newSpaceBytes();
    if (size !== this.fillsAtSize) {
      // A new size: its fill rate is what counts, not the old size's.
      this.fillsAtSize = size;
      this.fills = [];
    }
    this.fills.push({ at, ms });
    if (this.fills.length > YOUNG_FILLS) this.fills.shift();
    const grow = youngShouldGrow(this.fills, this.o.youngTargetMs);
    if (grow !== this.youngGrowing) this.setYoungGrowing(grow);
  }

  private decideOld(): void {
    this.majorWindow.push(this.majorMs);
    this.majorMs = 0;
    if (this.majorWindow.length > MAJOR_GC_WINDOW) this.majorWindow.shift();
    const share = this.majorWindow.reduce((a, b) => a + b, 0) / (this.majorWindow.length * this.o.intervalMs);
    const next = oldGrowingPercent(this.oldPercent, share, this.oldMin, this.o.oldPercentMax);
    if (next !== this.oldPercent) this.setOldPercent(next);
  }

  private setYoungGrowing(grow: boolean): void {
    this.youngGrowing = grow;
    setFlagsFromString(`--semi-space-growth-factor=${grow ? 2 : 1}`);
  }

  private setOldPercent(percent: number): void {
    this.oldPercent = percent;
    setFlagsFromString(`--heap-growing-percent=${percent}`);
  }

  stop(): void {
    this.observer?.disconnect();
    this.observer = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}
