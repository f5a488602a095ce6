/**
 * Issue 4's failover benchmark. Three distributed workers on the test Kafka run 30 source tasks;
 * one worker (not the group's leader) is killed with SIGKILL, and a survivor's
 * `GET /connectors?expand=status` is polled every 100 ms until every connector and task is
 * RUNNING on a live worker: that time is the failover time. Workers run with their defaults, as a
 * user would run them (both: session.timeout.ms 10 s; scheduled.rebalance.max.delay.ms, how long
 * a departed worker's work is held back, is 5 min in Kafka Connect and a few seconds in ours). Medians of BENCH_FAILOVER_RUNS fresh clusters (default
 * 3), each with its own group and internal topics.
 *
 * Beside it, in the same run, Kafka Connect (bench/connect-cluster.ts) with the same shape: 30
 * FileStreamSource connectors of one task each (Connect 4.x publishes no connector with several
 * tasks that needs nothing outside Kafka: the Verifiable* test connectors left connect-runtime's
 * jar), once with its default scheduled.rebalance.max.delay.ms and once with 0. The default case
 * waits up to BENCH_FAILOVER_CONNECT_CAP_S (default 360) and reports "> cap" beyond it.
 *
 * Rebalance cost: three workers running the 30 tasks, a fourth joins; once it runs its share,
 * count the task starts on the three original workers since it joined (Tributary: the demo task's
 * 'demo source task starting' log line; Connect: its Worker's 'Creating task' log line). Zero
 * means no task that stayed was stopped.
 *
 * Options (environment): BENCH_FAILOVER_RUNS (3), BENCH_FAILOVER_SHAPES (`30x1,3x10`: connectors
 * x tasks for our side; the first is Connect's shape), BENCH_FAILOVER_CONNECT (`default,zero`;
 * `none` skips Connect), BENCH_FAILOVER_CONNECT_RUNS (1), BENCH_FAILOVER_QUICK=1 (one run, one
 * shape, no Connect). Prints tables; never fails on a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaBrokers } from '../test/infra/env.ts';
import { ensureKafka } from '../test/infra/kafka.ts';
import { CONNECT_VERSION, ConnectCluster } from './connect-cluster.ts';
import { median, printTable } from './lib.ts';
import { freePortSync } from './ports.ts';

const QUICK = process.env.BENCH_FAILOVER_QUICK === '1';
const RUNS = QUICK ? 1 : Number(process.env.BENCH_FAILOVER_RUNS ?? 3);
const SHAPES = (process.env.BENCH_FAILOVER_SHAPES ?? '30x1,3x10').split(',').slice(0, QUICK ? 1 : undefined).map((s) => {
  const [connectors, tasks] = s.split('x').map(Number);
  return { connectors, tasks };
});
const CONNECT_VARIANTS = QUICK ? [] : (process.env.BENCH_FAILOVER_CONNECT ?? 'default,zero').split(',').filter((v) => v === 'default' || v === 'zero');
const CONNECT_RUNS = Number(process.env.BENCH_FAILOVER_CONNECT_RUNS ?? 1);
const CONNECT_CAP_S = Number(process.env.BENCH_FAILOVER_CONNECT_CAP_S ?? 360);
const POLL_MS = 100;

/** One worker of either system, as the measurement sees it. */
interface Member {
  id: string;
  url: string;
  alive(): boolean;
  /** Task starts so far, from its log. */
  starts(): number;
  /** Whether its log says it is the group's leader now. */
  isLeader(): boolean;
  kill9(): Promise<void>;
}

/** A fresh cluster of one system: its own group, internal topics and data topic. */
interface Cluster {
  readonly label: string;
  readonly members: Member[];
  addWorker(): Promise<Member>;
  connectorConfigs(): Array<{ name: string; config: Record<string, string> }>;
  stopAll(): Promise<void>;
}

interface ConnectorStatus {
  connector: { state: string; worker_id: string };
  tasks: Array<{ id: number; state: string; worker_id: string }>;
}

const uid = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- Tributary ----

const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of everyChild) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

class TributaryCluster implements Cluster {
  readonly label = 'Tributary';
  readonly members: Member[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly group = `bench-failover-${uid()}`;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tributary-bench-failover-'));
  private readonly shape: { connectors: number; tasks: number };

  constructor(shape: { connectors: number; tasks: number }) {
    this.shape = shape;
  }

  async addWorker(): Promise<Member> {
    const index = this.members.length;
    const port = freePortSync();
    const logFile = join(this.dir, `worker-${index}.log`);
    const out = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      // The built worker (bench/run.ts builds first), as `npm start` runs it; defaults for everything but what must be unique.
      child = spawn(process.execPath, ['dist/runtime/cli/main.js', 'start', '--no-progress'], {
        cwd: process.cwd(),
        env: {
          ...process.env,
          TRIBUTARY_MODE: 'distributed',
          TRIBUTARY_BOOTSTRAP_SERVERS: kafkaBrokers().join(','),
          TRIBUTARY_GROUP_ID: this.group,
          TRIBUTARY_WORKER_ID: `w${index}`,
          TRIBUTARY_REST_PORT: String(port),
          TRIBUTARY_STATE_DIR: mkdtempSync(join(this.dir, `state-${index}-`)),
          TRIBUTARY_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
    everyChild.add(child);
    this.children.push(child);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const alive = () => child.exitCode === null && child.signalCode === null;
    const log = () => readFileSync(logFile, 'utf8');
    const member: Member = {
      id: `w${index}`,
      url: `http://127.0.0.1:${port}`,
      alive,
      starts: () => log().split('demo source task starting').length - 1,
      isLeader: () => {
        const joins = log().split('\n').filter((l) => l.includes('joined the worker group'));
        return joins.length > 0 && joins[joins.length - 1].includes('"leader":true');
      },
      kill9: async () => {
        if (alive()) child.kill('SIGKILL');
        await exited;
      },
    };
    this.members.push(member);
    await waitHealthy(member, alive, logFile, 60_000);
    return member;
  }

  connectorConfigs(): Array<{ name: string; config: Record<string, string> }> {
    const { connectors, tasks } = this.shape;
    return Array.from({ length: connectors }, (_, i) => ({
      name: `seq-${i}`,
      config: {
        'connector.class': 'demo',
        topic: `${this.group}-data`,
        shape: 'sequence',
        rate: String(tasks), // one record per second per task
        'tasks.max': String(tasks),
      },
    }));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }));
  }
}

async function waitHealthy(member: Member, alive: () => boolean, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`worker ${member.id} exited during startup; see ${logFile}`);
    try {
      if ((await fetch(`${member.url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`worker ${member.id} not healthy within ${timeoutMs / 1000} s; see ${logFile}`);
    await sleep(50);
  }
}

// ---- Kafka Connect ----

class ConnectSide implements Cluster {
  readonly label: string;
  readonly members: Member[] = [];
  private readonly cluster: ConnectCluster;
  private readonly group = `bench-failover-connect-${uid()}`;
  private readonly connectors: number;

  constructor(delay: 'default' | 'zero', connectors: number) {
    this.label = `Kafka Connect ${CONNECT_VERSION} (${delay === 'default' ? 'defaults' : 'scheduled.rebalance.max.delay.ms 0'})`;
    this.connectors = connectors;
    this.cluster = new ConnectCluster({
      bootstrapServers: kafkaBrokers().join(','),
      groupId: this.group,
      properties: delay === 'zero' ? { 'scheduled.rebalance.max.delay.ms': '0' } : {},
    });
  }

  async addWorker(): Promise<Member> {
    await this.cluster.prepare((l) => console.log(l));
    const w = await this.cluster.startWorker();
    const member: Member = {
      id: w.id,
      url: w.url,
      alive: w.alive,
      starts: () => w.count(/Creating task /),
      isLeader: () => {
        const urls = [...readFileSync(w.logFile, 'utf8').matchAll(/leaderUrl='([^']*)'/g)];
        return urls.length > 0 && urls[urls.length - 1][1].replace(/\/$/, '') === w.url;
      },
      kill9: w.kill9,
    };
    this.members.push(member);
    return member;
  }

  connectorConfigs(): Array<{ name: string; config: Record<string, string> }> {
    return Array.from({ length: this.connectors }, (_, i) => {
      const file = join(this.cluster.dir, `input-${i}.txt`);
      writeFileSync(file, Array.from({ length: 10 }, (_, n) => `line ${n} of ${i}\n`).join(''));
      return {
        name: `file-${i}`,
        config: {
          'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector',
          file,
          topic: `${this.group}-data`,
          'tasks.max': '1',
        },
      };
    });
  }

  stopAll(): Promise<void> {
    return this.cluster.stopAll();
  }
}

// ---- the measurement, the same for both ----

async function request(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Creates the connectors through the first worker, retrying while the group rebalances (409). */
async function createConnectors(cluster: Cluster): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  for (const { name, config } of cluster.connectorConfigs()) {
    expected.set(name, Number(config['tasks.max']));
    for (let attempt = 0; ; attempt++) {
      const res = await request('POST', `${cluster.members[0].url}/connectors`, { name, config });
      if (res.status === 201) break;
      if ((res.status !== 409 && res.status < 500) || attempt > 100) throw new Error(`${cluster.label}: creating ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      await sleep(250);
    }
  }
  return expected;
}

/** Per worker id, the tasks it runs, or undefined unless every connector and task is RUNNING on a worker in `live`. */
async function runningSpread(via: Member, expected: Map<string, number>, live: Set<string>): Promise<Map<string, number> | undefined> {
  let res: { status: number; body: unknown };
  try {
    res = await request('GET', `${via.url}/connectors?expand=status`);
  } catch {
    return undefined;
  }
  if (res.status !== 200) return undefined;
  const all = res.body as Record<string, { status: ConnectorStatus }>;
  const spread = new Map<string, number>();
  for (const [name, tasks] of expected) {
    const s = all[name]?.status;
    if (!s || s.connector.state !== 'RUNNING' || !live.has(s.connector.worker_id) || s.tasks.length !== tasks) return undefined;
    for (const t of s.tasks) {
      if (t.state !== 'RUNNING' || !live.has(t.worker_id)) return undefined;
      spread.set(t.worker_id, (spread.get(t.worker_id) ?? 0) + 1);
    }
  }
  return spread;
}

/** Polls every POLL_MS until every task runs on a live worker (and, if `balanced`, evenly); resolves with the spread, or undefined at the deadline. */
async function waitRunning(via: Member, expected: Map<string, number>, live: Member[], timeoutMs: number, balanced = false): Promise<Map<string, number> | undefined> {
  const ids = new Set(live.map((m) => m.id));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const spread = await runningSpread(via, expected, ids);
    if (spread) {
      const counts = live.map((m) => spread.get(m.id) ?? 0);
      if (!balanced || Math.max(...counts) - Math.min(...counts) <= 1) return spread;
    }
    await sleep(POLL_MS);
  }
  return undefined;
}

const spreadText = (spread: Map<string, number> | undefined, members: Member[]): string => members.map((m) => spread?.get(m.id) ?? 0).join('/');

/** Starts three workers (the first alone, so it leads), creates the connectors and waits until their tasks run spread evenly. */
async function startThree(cluster: Cluster): Promise<Map<string, number>> {
  const t0 = Date.now();
  await cluster.addWorker();
  await Promise.all([cluster.addWorker(), cluster.addWorker()]);
  const expected = await createConnectors(cluster);
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  const spread = await waitRunning(cluster.members[0], expected, cluster.members, 240_000, true);
  if (!spread) throw new Error(`${cluster.label}: the ${total} tasks were not all RUNNING, spread evenly, within 240 s`);
  console.log(`  ${cluster.label}: 3 workers up and ${total} tasks RUNNING (${spreadText(spread, cluster.members)}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return expected;
}

interface FailoverResult { seconds: number | undefined; victimTasks: number; spreadAfter: string }

async function failoverOnce(cluster: Cluster, capS: number): Promise<FailoverResult> {
  const expected = await startThree(cluster);
  await sleep(3000); // a few offset commits and heartbeats in steady state
  const before = await runningSpread(cluster.members[0], expected, new Set(cluster.members.map((m) => m.id)));
  // Kill a worker that does not lead the group (the leader's death is a different case: a new leader is elected too).
  const victim = [...cluster.members].reverse().find((m) => !m.isLeader()) ?? cluster.members[2];
  const survivors = cluster.members.filter((m) => m !== victim);
  const victimTasks = before?.get(victim.id) ?? 0;
  const killedAt = performance.now();
  await victim.kill9();
  const spread = await waitRunning(survivors[0], expected, survivors, capS * 1000);
  const seconds = spread ? (performance.now() - killedAt) / 1000 : undefined;
  console.log(`  ${cluster.label}: killed ${victim.id} (${victimTasks} tasks) -> ${seconds === undefined ? `not all RUNNING after ${capS} s` : `every task RUNNING on a survivor after ${seconds.toFixed(2)} s (${spreadText(spread, survivors)})`}`);
  return { seconds, victimTasks, spreadAfter: spreadText(spread, survivors) };
}

interface RebalanceResult { restartsOnOriginals: number; moved: number; seconds: number | undefined; startSeconds: number; spread: string }

async function fourthWorker(cluster: Cluster): Promise<RebalanceResult> {
  const expected = await startThree(cluster);
  await sleep(3000);
  const originals = [...cluster.members];
  const before = originals.map((m) => m.starts());
  const t0 = performance.now();
  await cluster.addWorker();
  const joined = performance.now();
  const spread = await waitRunning(originals[0], expected, cluster.members, 180_000, true);
  // From the new worker's /health (it is in the group) until the tasks run spread over four: the rebalance, not the process start.
  const seconds = spread ? (performance.now() - joined) / 1000 : undefined;
  const startSeconds = (joined - t0) / 1000;
  await sleep(5000); // any late stop and start on an original would show in its log by now
  const restartsOnOriginals = originals.reduce((n, m, i) => n + m.starts() - before[i], 0);
  const moved = spread?.get(cluster.members[3].id) ?? 0;
  console.log(`  ${cluster.label}: fourth worker healthy after ${startSeconds.toFixed(2)} s, then ${spreadText(spread, cluster.members)} after ${seconds?.toFixed(2) ?? '?'} s more; task starts on the original three since: ${restartsOnOriginals}`);
  return { restartsOnOriginals, moved, seconds, startSeconds, spread: spreadText(spread, cluster.members) };
}

async function withCluster<T>(cluster: Cluster, work: (c: Cluster) => Promise<T>): Promise<T> {
  try {
    return await work(cluster);
  } finally {
    await cluster.stopAll();
  }
}

const fmt = (s: number | undefined, cap: number): string => (s === undefined ? `> ${cap}` : s.toFixed(2));

export async function run(): Promise<void> {
  await ensureKafka({ log: () => undefined });
  console.log(`\nfailover: 3 workers, kill -9 one (not the leader), poll status every ${POLL_MS} ms until every task is RUNNING on a survivor; ${RUNS} run(s) per row`);
  const failoverRows: Array<Record<string, string | number>> = [];
  const rebalanceRows: Array<Record<string, string | number>> = [];
  const ours: number[] = [];

  for (const shape of SHAPES) {
    const times: number[] = [];
    let victimTasks = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await withCluster(new TributaryCluster(shape), (c) => failoverOnce(c, 120));
      if (r.seconds !== undefined) times.push(r.seconds);
      victimTasks = r.victimTasks;
    }
    const m = times.length ? median(times) : undefined;
    if (shape === SHAPES[0] && m !== undefined) ours.push(m);
    failoverRows.push({
      system: 'Tributary (defaults)',
      tasks: `${shape.connectors} x ${shape.tasks}`,
      'killed worker ran': `${victimTasks} tasks`,
      runs: times.map((t) => t.toFixed(2)).join(' ') + (times.length < RUNS ? ` (${RUNS - times.length} > 120)` : ''),
      'median s': fmt(m, 120),
    });
  }
  const connectMedians = new Map<string, number | undefined>();
  const connectors = SHAPES[0].connectors * SHAPES[0].tasks;
  for (const variant of CONNECT_VARIANTS as Array<'default' | 'zero'>) {
    const cap = variant === 'default' ? CONNECT_CAP_S : 120;
    const times: Array<number | undefined> = [];
    let label = '';
    let victimTasks = 0;
    for (let i = 0; i < CONNECT_RUNS; i++) {
      const side = new ConnectSide(variant, connectors);
      label = side.label;
      const r = await withCluster(side, (c) => failoverOnce(c, cap));
      times.push(r.seconds);
      victimTasks = r.victimTasks;
    }
    const done = times.filter((t): t is number => t !== undefined);
    const m = done.length === times.length ? median(done) : undefined;
    connectMedians.set(variant, m);
    failoverRows.push({
      system: label,
      tasks: `${connectors} x 1 (FileStreamSource)`,
      'killed worker ran': `${victimTasks} tasks`,
      runs: times.map((t) => fmt(t, cap)).join(' '),
      'median s': fmt(m, cap),
    });
  }
  printTable('failover: seconds from kill -9 until every task is RUNNING on a survivor', failoverRows);
  console.log(`load average now: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores; other processes on the machine slow every figure alike)`);
  if (ours.length && CONNECT_VARIANTS.length) {
    const ratio = (variant: string, cap: number) => {
      if (!connectMedians.has(variant)) return 'not run';
      const c = connectMedians.get(variant);
      return c === undefined ? `> ${(cap / ours[0]).toFixed(1)}x` : `${(c / ours[0]).toFixed(1)}x`;
    };
    console.log(`Connect / Tributary (${SHAPES[0].connectors} x ${SHAPES[0].tasks}): default ${ratio('default', CONNECT_CAP_S)}, delay 0 ${ratio('zero', 120)}  (goal: Tributary < 15 s and >= 10x faster than Connect's default)`);
  }

  console.log('\nrebalance cost: 3 workers running the tasks, a fourth joins; task starts on the original three after it joined');
  const ourRebalance = await withCluster(new TributaryCluster(SHAPES[0]), fourthWorker);
  rebalanceRows.push({ system: 'Tributary', tasks: `${SHAPES[0].connectors} x ${SHAPES[0].tasks}`, 'spread after': ourRebalance.spread, 'moved to the 4th': ourRebalance.moved, 'restarted on originals': ourRebalance.restartsOnOriginals, 'process to healthy s': ourRebalance.startSeconds, 'healthy to balanced s': fmt(ourRebalance.seconds, 180) });
  if (CONNECT_VARIANTS.length) {
    const side = new ConnectSide('default', connectors);
    const theirsLabel = side.label;
    const theirs = await withCluster(side, fourthWorker);
    rebalanceRows.push({ system: theirsLabel, tasks: `${connectors} x 1 (FileStreamSource)`, 'spread after': theirs.spread, 'moved to the 4th': theirs.moved, 'restarted on originals': theirs.restartsOnOriginals, 'process to healthy s': theirs.startSeconds, 'healthy to balanced s': fmt(theirs.seconds, 180) });
  }
  printTable('rebalance cost: a fourth worker joins (goal: no task that stays is restarted)', rebalanceRows);
}
