/**
 * Distributed mode end to end: three `tributary start --mode distributed` processes on the test
 * Kafka, one worker group. Records carry `{task, seq}` (the demo connector's sequence shape), so
 * the topic tells exactly what was lost (a gap) or repeated (a duplicate) per task.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';
import { ensureKafka, stopKafka } from '../../infra/kafka.ts';
import { readTopic } from '../../helpers/kafka-topic.ts';
import { eventually, freePort, http, startWorkerProcess, tempDir, type WorkerProcess } from '../../helpers/worker-process.ts';

const brokers = kafkaBrokers();
const group = uniqueName('dist');
const topicA = uniqueName('dist-a');
const topicB = uniqueName('dist-b');
const sinkFile = join(tempDir('dist-sink'), 'b.jsonl');

interface TaskStatus {
  id: number;
  state: string;
  worker_id: string;
}

const env = {
  TRIBUTARY_MODE: 'distributed',
  TRIBUTARY_BOOTSTRAP_SERVERS: brokers.join(','),
  TRIBUTARY_GROUP_ID: group,
  TRIBUTARY_SESSION_TIMEOUT_MS: '6000',
  TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
  TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '500',
};

const ports: number[] = [];
const workers: Array<WorkerProcess | undefined> = [];

async function startWorker(i: number): Promise<WorkerProcess> {
  const w = await startWorkerProcess({ port: ports[i], env: { ...env, TRIBUTARY_WORKER_ID: `w${i}` } });
  workers[i] = w;
  return w;
}

const url = (i: number): string => `http://127.0.0.1:${ports[i]}`;

function sequenceSource(topic: string, tasks: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'connector.class': 'demo',
    topic,
    shape: 'sequence',
    rate: '300',
    'tasks.max': String(tasks),
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter.schemas.enable': 'false',
    ...extra,
  };
}

async function status(i: number, name: string): Promise<{ connector: { state: string; worker_id: string }; tasks: TaskStatus[] }> {
  const res = await http('GET', `${url(i)}/connectors/${name}/status`);
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Committed offsets per task of a sequence source: task -> next seq. */
async function committedSeqs(i: number, name: string): Promise<Map<number, number>> {
  const res = await http('GET', `${url(i)}/connectors/${name}/offsets`);
  expect(res.status).toBe(200);
  return new Map((res.body.offsets as Array<{ partition: { task: number }; offset: { seq: number } }>).map((o) => [o.partition.task, o.offset.seq]));
}

/** Per task, how often each seq is in the topic. */
async function seqCounts(topic: string, readCommitted = false): Promise<Map<number, Map<number, number>>> {
  const out = new Map<number, Map<number, number>>();
  for (const r of await readTopic(brokers, topic, { readCommitted })) {
    const { task, seq } = JSON.parse(r.value!.toString('utf8')) as { task: number; seq: number };
    let m = out.get(task);
    if (!m) out.set(task, (m = new Map()));
    m.set(seq, (m.get(seq) ?? 0) + 1);
  }
  return out;
}

/** Asserts no seq is missing below each task's highest, and returns the duplicated seqs per task. */
function checkNoGaps(counts: Map<number, Map<number, number>>, tasks: number): Map<number, number[]> {
  const duplicates = new Map<number, number[]>();
  for (let task = 0; task < tasks; task++) {
    const seqs = counts.get(task);
    expect(seqs, `task ${task} produced nothing`).toBeDefined();
    const max = Math.max(...seqs!.keys());
    const missing: number[] = [];
    for (let s = 0; s <= max; s++) if (!seqs!.has(s)) missing.push(s);
    expect(missing, `task ${task}: seqs missing below ${max}`).toEqual([]);
    duplicates.set(task, [...seqs!].filter(([, n]) => n > 1).map(([s]) => s));
  }
  return duplicates;
}

function tasksPerWorker(...statuses: Array<{ tasks: TaskStatus[] }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of statuses) for (const t of s.tasks) out.set(t.worker_id, (out.get(t.worker_id) ?? 0) + 1);
  return out;
}

async function allRunning(i: number, name: string, tasks: number, notOn?: string): Promise<boolean> {
  const s = await status(i, name);
  return s.connector.state === 'RUNNING' && s.tasks.length === tasks && s.tasks.every((t) => t.state === 'RUNNING' && t.worker_id !== notOn) && s.connector.worker_id !== notOn;
}

const starts = (w: WorkerProcess): number => w.output().split('demo source task starting').length - 1;

describe('distributed mode: three workers, one group', () => {
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    await Promise.all([0, 1, 2].map((i) => startWorker(i)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w?.stop()));
  }, 60_000);

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

  let committedAtKill = new Map<number, number>();

  it('moves the work of a worker killed with -9 to the others: nothing lost, duplicates only after the last committed offset', async () => {
    // Let offsets be committed for a while first.
    await eventually(async () => [...(await committedSeqs(0, 'a')).values()].every((s) => s > 50), 30_000, 'offsets committed');
    const victim = workers[2]!;
    const victimTasks = (await status(0, 'a')).tasks.filter((t) => t.worker_id === 'w2').map((t) => t.id);
    expect(victimTasks.length).toBeGreaterThan(0);
    await victim.kill9();
    workers[2] = undefined;
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
    await Promise.all(workers.map((w) => w?.stop()));
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
