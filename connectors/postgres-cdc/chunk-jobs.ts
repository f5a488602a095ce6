/**
 * Snapshot chunks as BullMQ jobs (redis.url with tasks.max > 1): the pure part, shared by the
 * coordinating task 0 (chunk-queue.ts) and the chunk worker tasks (chunk-worker-task.ts), and
 * loaded without BullMQ.
 *
 * Roles. `taskConfigs` gives task 0 the role `main` (slot, chunk plan, exported snapshot held open
 * in a transaction, streaming afterwards) and tasks 1..n-1 the role `chunk-worker`. The runtime
 * spreads the tasks over the cluster's workers, so chunks are read wherever a worker runs.
 *
 * A snapshot run. Task 0 names each snapshot it starts with a random `run` id, stores it in its
 * offset (`snapshot_jobs`, carried by a heartbeat record, since task 0 emits no rows of its own)
 * and in a small meta record in Redis next to the queue: `{run, generation, snapshot}`. A restart
 * of task 0 whose stored offset names the run found in Redis continues it: the chunk jobs already
 * completed are not read again, and the others get the snapshot task 0 exports now (the old one
 * died with its transaction), under a new generation. Any other start (no offset, another run,
 * Redis emptied) throws the queue's jobs away and plans again: at least once, never a chunk lost.
 *
 * A job is one chunk: its table and range, the run, and the snapshot to import. Job ids are
 * deterministic (table and chunk index), so enqueueing a plan twice adds nothing.
 */
import type { JsonObject, TaskConfig } from '../../runtime/api/index.ts';
import type { PlannedTable } from './parallel-snapshot.ts';
import { chunkRange, type ChunkRange } from './chunk-plan.ts';

/** Task config key naming a task's role; set by taskConfigs, never by users. */
export const TASK_ROLE = 'tributary.task.role';
export type TaskRole = 'main' | 'chunk-worker';

export interface ChunkJobData {
  run: string;
  /** The exported snapshot to import (SET TRANSACTION SNAPSHOT); the meta record has the current one. */
  snapshot: string;
  generation: number;
  /** `schema.table` (for people), and its two parts (for the catalog). */
  table: string;
  schema: string;
  rel: string;
  index: number;
  range: ChunkRange;
}

/** What Redis holds next to the queue about the snapshot run in progress. */
export interface SnapshotMeta {
  run: string;
  generation: number;
  snapshot: string;
  /** Chunk jobs of the run (completed ones included). */
  jobs: number;
}

/** What a chunk worker returns for a completed job (kept in Redis until the snapshot is done). */
export interface ChunkJobResult {
  rows: number;
  task: number;
}

/**
 * One task without redis.url or with tasks.max 1 (the replication slot has one consumer, and the
 * snapshot runs in it); otherwise task 0 plus tasks.max - 1 chunk workers. Snapshot modes that
 * never snapshot get one task too: the workers would have nothing to do.
 */
export function taskConfigsFor(props: TaskConfig, maxTasks: number): TaskConfig[] {
  const mode = props['snapshot.mode'] ?? 'initial';
  if (!props['redis.url'] || maxTasks <= 1 || mode === 'never' || mode === 'no_data') {
    const { [TASK_ROLE]: _role, ...rest } = props;
    return [rest];
  }
  return Array.from({ length: maxTasks }, (_, i) => ({ ...props, [TASK_ROLE]: i === 0 ? 'main' : 'chunk-worker' }));
}

export function taskRole(config: TaskConfig): TaskRole | null {
  const r = config[TASK_ROLE];
  return r === 'main' || r === 'chunk-worker' ? r : null;
}

/** BullMQ names may not contain `:`; connector names may. */
export function snapshotQueueName(connector: string): string {
  return `tributary-pg-snapshot-${connector.replace(/:/g, '_')}`;
}

export function snapshotMetaKey(connector: string): string {
  return `tributary:pg-snapshot:${connector}:meta`;
}

/** `<table, URI-encoded>#<chunk index>`: deterministic, and never an integer or containing `:`. */
export function chunkJobId(table: string, index: number): string {
  return `${encodeURIComponent(table)}#${index}`;
}

/** A job per chunk not delivered yet, tables in order and chunks in key order. */
export function chunkJobs(tables: PlannedTable[], run: string, snapshot: string, generation: number): Array<{ id: string; data: ChunkJobData }> {
  const out: Array<{ id: string; data: ChunkJobData }> = [];
  for (const t of tables) {
    for (let i = 0; i < t.count; i++) {
      if (t.done.has(i)) continue;
      out.push({ id: chunkJobId(t.name, i), data: { run, snapshot, generation, table: t.name, schema: t.table.schema, rel: t.table.table, index: i, range: chunkRange(t.plan, i) } });
    }
  }
  return out;
}

/** The run a stored offset of task 0 names, when it is a job snapshot in progress. */
export function runOf(offset: JsonObject | null): string | null {
  if (offset?.snapshot !== true) return null;
  const run = offset.snapshot_jobs;
  return typeof run === 'string' && run !== '' ? run : null;
}

/**
 * A chunk worker's offset: `{run: <this task instance>, jobs_done: n}` says the first n jobs it
 * took were delivered completely. The runtime commits an offset only once every record polled
 * before it is durable, and commit() reports just the newest offset, so a count (not a job id)
 * is what the offset carries: every job up to it can be marked completed.
 */
export function jobsDone(offset: JsonObject | null | undefined, instance: string): number {
  if (!offset || offset.run !== instance || typeof offset.jobs_done !== 'number') return 0;
  return offset.jobs_done;
}
