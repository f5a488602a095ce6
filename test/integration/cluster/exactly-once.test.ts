/**
 * Exactly-once sources (exactly.once.source.support=enabled): the kill -9 test of
 * distributed-workers.test.ts again, read with read_committed: no record twice, none missing.
 * One connector commits a transaction per poll (Connect's default boundary), one every 2 s (so
 * the killed worker surely leaves an open transaction with records in it behind).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../infra/env.ts';
import { TestCluster, checkNoGaps, seqCounts, sequenceSource } from '../../helpers/cluster.ts';
import { eventually, http } from '../../helpers/worker-process.ts';

const cluster = new TestCluster({ TRIBUTARY_EXACTLY_ONCE_SOURCE_SUPPORT: 'enabled' });
const connectors: Array<{ name: string; topic: string; extra: Record<string, string> }> = [
  { name: 'eos-poll', topic: uniqueName('eos-poll'), extra: {} },
  { name: 'eos-interval', topic: uniqueName('eos-interval'), extra: { 'transaction.boundary': 'interval', 'transaction.boundary.interval.ms': '2000' } },
];
const TASKS = 3;

const total = (m: Map<number, Map<number, number>>): number => [...m.values()].reduce((n, s) => n + [...s.values()].reduce((a, b) => a + b, 0), 0);

describe('exactly-once sources in a worker group', () => {
  beforeAll(() => cluster.start(3), 90_000);
  afterAll(() => cluster.stopAll(), 60_000);

  it('kill -9 of a worker: a read_committed reader sees every record exactly once', async () => {
    for (const c of connectors) {
      expect((await http('POST', `${cluster.url(0)}/connectors`, { name: c.name, config: sequenceSource(c.topic, TASKS, c.extra) })).status).toBe(201);
    }
    for (const c of connectors) await eventually(() => cluster.allRunning(1, c.name, TASKS), 60_000, `${c.name} running`);
    for (const c of connectors) {
      await eventually(async () => [...(await cluster.committedSeqs(0, c.name)).values()].filter((s) => s > 50).length === TASKS, 30_000, `${c.name} committed`);
    }
    const onVictim = async (name: string) => (await cluster.status(0, name)).tasks.filter((t) => t.worker_id === 'w2').map((t) => t.id);
    const victimTasks = new Map<string, number[]>();
    for (const c of connectors) victimTasks.set(c.name, await onVictim(c.name));
    expect([...victimTasks.values()].flat().length).toBeGreaterThan(0);
    await cluster.kill9(2);
    const atKill = new Map<string, Map<number, number>>();
    for (const c of connectors) atKill.set(c.name, await cluster.committedSeqs(0, c.name));
    for (const c of connectors) {
      await eventually(() => cluster.allRunning(0, c.name, TASKS, 'w2'), 60_000, `${c.name} moved off w2`);
      await eventually(async () => {
        const now = await cluster.committedSeqs(1, c.name);
        return victimTasks.get(c.name)!.every((t) => (now.get(t) ?? 0) > (atKill.get(c.name)!.get(t) ?? 0) + 50);
      }, 30_000, `${c.name} moved tasks progress`);
    }
    for (const c of connectors) {
      expect((await http('PUT', `${cluster.url(1)}/connectors/${c.name}/stop`)).status).toBe(204);
      await eventually(async () => (await cluster.status(0, c.name)).tasks.length === 0, 30_000, `${c.name} stopped`);
    }

    for (const c of connectors) {
      const committed = await seqCounts(c.topic, true);
      expect([...checkNoGaps(committed, TASKS).values()].flat(), `${c.name}: duplicates`).toEqual([]);
      // Offsets commit with their records: each task's offset is one past its last visible record.
      const offsets = await cluster.committedSeqs(0, c.name);
      for (const [task, seqs] of committed) expect(offsets.get(task)).toBe(Math.max(...seqs.keys()) + 1);
      // What the dead worker sent after its last commit is in the log but aborted: a
      // read_uncommitted reader sees it, read_committed does not.
      const everything = await seqCounts(c.topic, false);
      expect(total(everything)).toBeGreaterThanOrEqual(total(committed));
      console.log(`${c.name}: ${total(committed)} records committed exactly once; ${total(everything) - total(committed)} more in aborted transactions`);
    }
  }, 240_000);
});
