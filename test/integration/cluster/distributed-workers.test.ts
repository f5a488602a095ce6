/**
 * Distributed mode end to end: three `tributary start --mode distributed` processes on the test
 * Kafka, one worker group. Records carry `{task, seq}` (the demo connector's sequence shape), so
 * the topic tells exactly what was lost (a gap) or repeated (a duplicate) per task.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../infra/env.ts';
import { ensureKafka, stopKafka } from '../../infra/kafka.ts';
import { TestCluster, checkNoGaps, seqCounts, sequenceSource, tasksPerWorker } from '../../helpers/cluster.ts';
import { eventually, http, tempDir, type WorkerProcess } from '../../helpers/worker-process.ts';

const cluster = new TestCluster();
const topicA = uniqueName('dist-a');
const topicB = uniqueName('dist-b');
const sinkFile = join(tempDir('dist-sink'), 'b.jsonl');
const workers = cluster.workers;
const url = (i: number): string => cluster.url(i);
const status = (i: number, name: string) => cluster.status(i, name);
const allRunning = (i: number, name: string, tasks: number, notOn?: string) => cluster.allRunning(i, name, tasks, notOn);
const committedSeqs = (i: number, name: string) => cluster.committedSeqs(i, name);
const startWorker = (i: number) => cluster.startWorker(i);

const starts = (w: WorkerProcess): number => w.output().split('demo source task starting').length - 1;

describe('distributed mode: three workers, one group', () => {
  beforeAll(() => cluster.start(3), 90_000);

  afterAll(() => cluster.stopAll(), 60_000);

  it('takes connectors created through different workers and spreads their tasks evenly', async () => {
    // Every worker takes one write: at least two of them are followers, which forward to the leader.
    expect((await http('POST', `${url(0)}/connectors`, { name: 'a', config: sequenceSource(topicA, 6) })).status).toBe(201);
    expect((await http('POST', `${url(1)}/connectors`, { name: 'b', config: sequenceSource(topicB, 3) })).status).toBe(201);
    const c = await http('POST', `${url(2)}/connectors`, { name: 'c', config: sequenceSource(uniqueName('dist-c'), 2), initial_state: 'STOPPED' });
    expect(c.status).toBe(201);
    // A sink of b's topic (consumer group connect-sink-b) moves with the workers too.
    const sink = await http('POST', `${url(1)}/connectors`, {
      name: 'sink-b',
      config: { 'connector.class': 'FileStreamSink', topics: topicB, file: sinkFile, 'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false' },
    });
    expect(sink.status).toBe(201);
    // A second create of the same name conflicts wherever it arrives.
    expect((await http('POST', `${url(2)}/connectors`, { name: 'a', config: sequenceSource(topicA, 6) })).status).toBe(409);
    // A bad config is a 400 naming the field, also when forwarded.
    const bad = await http('PUT', `${url(1)}/connectors/bad/config`, { 'connector.class': 'demo', topic: topicA, shape: 'nope' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('shape');

    await eventually(async () => (await allRunning(0, 'a', 6)) && (await allRunning(0, 'b', 3)) && (await allRunning(0, 'sink-b', 1)), 60_000, 'a, b and sink-b running');
    const spread = tasksPerWorker(await status(1, 'a'), await status(1, 'b'), await status(1, 'sink-b'));
    expect([...spread.values()].sort()).toEqual([3, 3, 4]);
    // Every worker answers the same status (read from the status topic).
    expect((await status(2, 'a')).tasks).toEqual((await status(0, 'a')).tasks);
    expect((await status(0, 'c')).connector.state).toBe('STOPPED');
    expect((await status(0, 'c')).tasks).toEqual([]);
    expect((await http('GET', `${url(2)}/connectors`)).body.sort()).toEqual(['a', 'b', 'c', 'sink-b']);
  }, 120_000);

  it('hands a signal to the tasks wherever they run (recorded in the config topic)', async () => {
    const sent = await http('POST', `${url(2)}/connectors/b/signals`, { id: 'sig-dist', type: 'log', data: { message: 'signal to b' } });
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ id: 'sig-dist', accepted: null });
    // b's three tasks, on whichever workers run them, each log it once.
    await eventually(async () => workers.reduce((n, w) => n + (w!.output().match(/signal: signal to b/g) ?? []).length, 0) === 3, 30_000, 'three tasks logged the signal');
  }, 60_000);

  let committedAtKill = new Map<number, number>();

  it('moves the work of a worker killed with -9 to the others: nothing lost, duplicates only after the last committed offset', async () => {
    // Let offsets be committed for a while first.
    await eventually(async () => [...(await committedSeqs(0, 'a')).values()].every((s) => s > 50), 30_000, 'offsets committed');
    const victimTasks = (await status(0, 'a')).tasks.filter((t) => t.worker_id === 'w2').map((t) => t.id);
    expect(victimTasks.length).toBeGreaterThan(0);
    await cluster.kill9(2);
    const killedAt = Date.now();
    // Nothing the dead worker did can change these any more.
    committedAtKill = await committedSeqs(0, 'a');

    await eventually(async () => (await allRunning(0, 'a', 6, 'w2')) && (await allRunning(0, 'b', 3, 'w2')) && (await allRunning(0, 'sink-b', 1, 'w2')), 60_000, 'work moved off w2');
    console.log(`failover: every task RUNNING on a survivor ${Date.now() - killedAt} ms after kill -9 (session.timeout.ms 6000)`);
    expect([...tasksPerWorker(await status(1, 'a'), await status(1, 'b'), await status(1, 'sink-b')).values()].sort()).toEqual([5, 5]);
    // The moved tasks resume from the committed offsets and go on.
    await eventually(async () => {
      const now = await committedSeqs(1, 'a');
      return victimTasks.every((t) => (now.get(t) ?? 0) > (committedAtKill.get(t) ?? 0) + 50);
    }, 30_000, 'moved tasks progress');
  }, 120_000);

  it('gives a restarted worker its share back without restarting the work that stays', async () => {
    const before = [starts(workers[0]!), starts(workers[1]!)];
    await startWorker(2);
    await eventually(async () => {
      const spread = tasksPerWorker(await status(0, 'a'), await status(0, 'b'), await status(0, 'sink-b'));
      const counts = [spread.get('w0'), spread.get('w1'), spread.get('w2')].sort();
      return counts.join() === '3,3,4' && (await allRunning(0, 'a', 6)) && (await allRunning(0, 'b', 3)) && (await allRunning(0, 'sink-b', 1));
    }, 60_000, 'rebalanced onto w2');
    // The survivors only gave tasks away: none of theirs was stopped and started again.
    expect([starts(workers[0]!), starts(workers[1]!)]).toEqual(before);
  }, 120_000);

  let duplicatesAfterKill = 0;

  it('the topic has every record: no gaps, and duplicates only at or after the offsets committed when the worker died', async () => {
    expect((await http('PUT', `${url(1)}/connectors/a/stop`)).status).toBe(204);
    await eventually(async () => (await status(0, 'a')).connector.state === 'STOPPED' && (await status(0, 'a')).tasks.length === 0, 30_000, 'a stopped');
    const duplicates = checkNoGaps(await seqCounts(topicA), 6);
    for (const [task, seqs] of duplicates) {
      for (const s of seqs) expect(s, `task ${task} repeated seq ${s} below its committed offset`).toBeGreaterThanOrEqual(committedAtKill.get(task) ?? 0);
      duplicatesAfterKill += seqs.length;
    }
    console.log(`after kill -9: ${duplicatesAfterKill} duplicated records, committed offsets at the kill ${JSON.stringify([...committedAtKill])}`);
    expect((await http('PUT', `${url(0)}/connectors/a/resume`)).status).toBe(202);
    await eventually(() => allRunning(2, 'a', 6), 60_000, 'a running again');
  }, 120_000);

  it('after a restart of the whole cluster every connector is back in its target state with its offsets', async () => {
    expect((await http('PUT', `${url(2)}/connectors/b/pause`)).status).toBe(202);
    await eventually(async () => (await status(0, 'b')).tasks.every((t) => t.state === 'PAUSED'), 30_000, 'b paused');
    await eventually(async () => [...(await committedSeqs(0, 'a')).values()].every((s) => s > 100), 30_000, 'a progresses');
    // Graceful stops: tasks commit what Kafka acknowledged, then the workers leave the group.
    await cluster.stopAll();
    const offsetsAtStop = await (async () => {
      const counts = await seqCounts(topicA);
      return new Map([...counts].map(([task, seqs]) => [task, Math.max(...seqs.keys()) + 1]));
    })();
    await Promise.all([0, 1, 2].map((i) => startWorker(i)));
    await eventually(() => allRunning(0, 'a', 6), 60_000, 'a running after the restart');
    await eventually(async () => (await status(1, 'b')).connector.state === 'PAUSED' && (await status(1, 'b')).tasks.length === 3 && (await status(1, 'b')).tasks.every((t) => t.state === 'PAUSED'), 60_000, 'b paused after the restart');
    expect((await status(2, 'c')).connector.state).toBe('STOPPED');
    // a resumed where it stopped: its offsets are the ones written before the stop.
    const resumed = await committedSeqs(0, 'a');
    for (const [task, next] of offsetsAtStop) expect(resumed.get(task)).toBeGreaterThanOrEqual(next);
    expect((await http('PUT', `${url(0)}/connectors/a/stop`)).status).toBe(204);
    await eventually(async () => (await status(0, 'a')).tasks.length === 0, 30_000, 'a stopped');
    const duplicates = checkNoGaps(await seqCounts(topicA), 6);
    // The graceful restart added no duplicate: only the kill -9 did.
    expect([...duplicates.values()].reduce((n, d) => n + d.length, 0)).toBe(duplicatesAfterKill);
    expect((await http('PUT', `${url(0)}/connectors/a/resume`)).status).toBe(202);
    await eventually(() => allRunning(0, 'a', 6), 60_000, 'a running');
  }, 180_000);

  it('rides out a Kafka broker restart: workers reconnect and the stream goes on without a gap', async () => {
    const before = await committedSeqs(0, 'a');
    await stopKafka({ log: () => {} });
    await new Promise((r) => setTimeout(r, 2000));
    await ensureKafka({ log: () => {} });
    await eventually(async () => {
      const now = await committedSeqs(0, 'a');
      return [...before].every(([task, seq]) => (now.get(task) ?? 0) > seq + 100);
    }, 90_000, 'a progresses after the broker restart');
    expect((await http('PUT', `${url(1)}/connectors/a/stop`)).status).toBe(204);
    await eventually(async () => (await status(0, 'a')).tasks.length === 0, 60_000, 'a stopped');
    checkNoGaps(await seqCounts(topicA), 6);
  }, 240_000);

  it('the sink delivered every record of its topic to the file across the kill, the rejoin and the restarts', async () => {
    const expected = new Set<string>();
    for (const [task, seqs] of await seqCounts(topicB)) for (const seq of seqs.keys()) expected.add(`${task}/${seq}`);
    expect(expected.size).toBeGreaterThan(100);
    await eventually(async () => {
      if (!existsSync(sinkFile)) return false;
      const got = new Set(readFileSync(sinkFile, 'utf8').split('\n').filter(Boolean).map((l) => {
        const v = JSON.parse(l) as { task: number; seq: number };
        return `${v.task}/${v.seq}`;
      }));
      return [...expected].every((k) => got.has(k));
    }, 60_000, 'every record of b in the sink file');
  }, 90_000);
});
