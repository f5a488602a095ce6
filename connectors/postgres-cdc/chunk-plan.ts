/**
 * How a table is cut into snapshot chunks, as plain data: what the connector needs to hand chunk
 * jobs to tasks without loading the Postgres client (snapshot.ts reads the chunks).
 */

/** How a table is cut. `filenode` detects a table rewrite (VACUUM FULL, CLUSTER) between plan and resume. */
export type Plan =
  | { kind: 'key'; bounds: string[][] }
  | { kind: 'pages'; span: number; count: number; filenode: number };

/** A chunk's range: keys (lo exclusive, hi inclusive) or pages (lo inclusive, hi exclusive); null = unbounded. */
export type ChunkRange =
  | { kind: 'key'; lo: string[] | null; hi: string[] | null }
  | { kind: 'pages'; lo: number; hi: number | null };

export function chunkCount(plan: Plan): number {
  return plan.kind === 'key' ? plan.bounds.length + 1 : plan.count;
}

export function chunkRange(plan: Plan, i: number): ChunkRange {
  if (plan.kind === 'key') return { kind: 'key', lo: i === 0 ? null : plan.bounds[i - 1], hi: i < plan.bounds.length ? plan.bounds[i] : null };
  return { kind: 'pages', lo: i * plan.span, hi: i === plan.count - 1 ? null : (i + 1) * plan.span };
}
