/** Small timing helpers connectors keep needing; they import only the API, so they live here once. */

/** Resolves after `ms`, or as soon as any of `signals` aborts. Never rejects, and leaves no timer or listener behind. */
export function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of signals) s.addEventListener('abort', done, { once: true });
  });
}

/**
 * A token bucket on the monotonic clock: `rate` tokens a second, holding at most `capacity`.
 * It starts with one token, so the first record goes out at once without an initial burst.
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  constructor(ratePerSecond: number, capacity: number, now: () => number = () => performance.now()) {
    this.rate = ratePerSecond / 1000;
    this.capacity = Math.max(1, capacity);
    this.now = now;
    this.tokens = 1;
    this.last = now();
  }

  /** Milliseconds until `n` tokens (at most the capacity) are available; 0 when they are. */
  msUntil(n: number): number {
    this.refill();
    const want = Math.min(n, this.capacity);
    return this.tokens >= want ? 0 : (want - this.tokens) / this.rate;
  }

  /** Takes as many whole tokens as are available, up to `max`, and returns how many. */
  take(max: number): number {
    this.refill();
    const n = Math.max(0, Math.min(max, Math.floor(this.tokens)));
    this.tokens -= n;
    return n;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (t - this.last) * this.rate);
    this.last = t;
  }
}

/** Whether `p` settles (resolves or rejects) within `ms`. Never rejects, and leaves no timer behind. */
export async function settlesWithin(p: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (p === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(() => true, () => true);
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
