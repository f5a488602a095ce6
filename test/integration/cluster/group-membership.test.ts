import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectorWork, TaskId, WorkSet } from '../../../runtime/cluster/assignor.ts';
import { GroupMember } from '../../../runtime/cluster/membership/index.ts';
import type { Assignment } from '../../../runtime/cluster/membership/index.ts';
import { kafkaBrokers, uniqueName } from '../../infra/env.ts';
import { captureLogger } from '../../unit/store/helpers.ts';

const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_MS = 1_000;

const key = (t: TaskId) => `${t.connector}/${t.task}`;

/** One worker in the test: what it runs, kept from its callbacks, and every stop it was told. */
interface Worker {
  name: string;
  member: GroupMember;
  connectors: Set<string>;
  tasks: Set<string>;
  stopped: string[];
  generation: number;
  assignments: Assignment[];
  /** Offset of the (simulated) config log this worker has read. */
  offset: number;
}

/** The cluster's shared view: who runs what right now; a second runner of anything fails the test. */
class Cluster {
  readonly groupId = uniqueName('tributary-workers');
  readonly workers: Worker[] = [];
  readonly running = new Map<string, string>();
  readonly violations: string[] = [];
  work: ConnectorWork[];
  /** End of the simulated config log. */
  configEnd = 0;
  /** Whether a leader reads its config log to the end before assigning (Connect's leader does; reading may fail). */
  leaderCatchesUp = true;

  constructor(work: ConnectorWork[]) {
    this.work = work;
  }

  /** Connect's scheduled.rebalance.max.delay.ms for every worker added. */
  lostWorkDelayMs = 0;

  add(name: string, offset = this.configEnd): Worker {
    const w: Worker = { name, member: undefined as unknown as GroupMember, connectors: new Set(), tasks: new Set(), stopped: [], generation: -1, assignments: [], offset };
    const items = (s: WorkSet) => [...s.connectors.map((c) => `connector:${c}`), ...s.tasks.map((t) => `task:${key(t)}`)];
    w.member = new GroupMember({
      bootstrapBrokers: kafkaBrokers(),
      groupId: this.groupId,
      workerId: name,
      restUrl: `http://${name}:8083`,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: HEARTBEAT_MS,
      rebalanceTimeoutMs: 10_000,
      lostWorkDelayMs: this.lostWorkDelayMs,
      logger: captureLogger(),
      configOffset: () => w.offset,
      leaderState: async () => {
        if (this.leaderCatchesUp) w.offset = this.configEnd;
        return { configOffset: w.offset, work: this.work };
      },
      onRevoked: (revoked) => {
        for (const item of items(revoked)) {
          if (this.running.get(item) === name) this.running.delete(item);
          w.stopped.push(item);
        }
        for (const c of revoked.connectors) w.connectors.delete(c);
        for (const t of revoked.tasks) w.tasks.delete(key(t));
      },
      onAssigned: (a, generation) => {
        w.generation = generation;
        w.assignments.push(a);
        // What a herder does: a mismatch rereads the config log to its end; a member behind catches up before starting work.
        if (a.error === 'config-mismatch') {
          w.offset = this.configEnd;
          return;
        }
        if (a.catchUp) w.offset = Math.max(w.offset, a.configOffset);
        for (const item of items(a.assigned)) {
          const other = this.running.get(item);
          if (other !== undefined && other !== name) this.violations.push(`${item} started on ${name} while running on ${other}`);
          this.running.set(item, name);
        }
        for (const c of a.assigned.connectors) w.connectors.add(c);
        for (const t of a.assigned.tasks) w.tasks.add(key(t));
      },
    });
    this.workers.push(w);
    w.member.start();
    return w;
  }

  /** Forget a dead worker's work (its process is gone). */
  crashed(w: Worker): void {
    for (const [item, owner] of this.running) if (owner === w.name) this.running.delete(item);
  }

  total(): number {
    return this.work.reduce((n, c) => n + 1 + c.tasks, 0);
  }

  /** Every item runs exactly once over `alive`, balanced. */
  settled(alive: Worker[]): boolean {
    if (this.running.size !== this.total()) return false;
    const owners = new Set(this.running.values());
    if ([...owners].some((o) => !alive.some((w) => w.name === o))) return false;
    const c = alive.map((w) => w.connectors.size);
    const t = alive.map((w) => w.tasks.size);
    return Math.max(...c) - Math.min(...c) <= 1 && Math.max(...t) - Math.min(...t) <= 1;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.member.close()));
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - t0;
}

const WORK: ConnectorWork[] = [
  { connector: 'orders', tasks: 3 },
  { connector: 'users', tasks: 3 },
  { connector: 'pageviews', tasks: 3 },
];

describe('worker group membership on the real broker', () => {
  let cluster: Cluster | undefined;

  afterEach(async () => {
    await cluster?.closeAll();
    expect(cluster?.violations ?? []).toEqual([]);
    cluster = undefined;
  });

  it('three workers get a balanced assignment; a third joining moves only its share; one leaving hands its work on at once', async () => {
    cluster = new Cluster(WORK);
    const c = cluster;
    const [a, b] = [c.add('w1'), c.add('w2')];
    const first = await waitFor('two workers balanced', () => c.settled([a, b]), 30_000);
    console.log(`[membership] two workers joined and balanced in ${first.toFixed(0)} ms`);
    const before = new Map([a, b].map((w) => [w.name, new Set([...w.connectors].map((x) => `connector:${x}`).concat([...w.tasks].map((x) => `task:${x}`)))]));
    a.stopped.length = 0;
    b.stopped.length = 0;

    const w3 = c.add('w3');
    const joinMs = await waitFor('three workers balanced', () => c.settled([a, b, w3]), 30_000);
    console.log(`[membership] a third worker got its share in ${joinMs.toFixed(0)} ms (two rounds: revoke, then assign)`);
    for (const w of [a, b, w3]) {
      expect(w.connectors.size).toBe(1);
      expect(w.tasks.size).toBe(3);
    }
    // Only what moved to w3 was stopped, and each stopped item now runs on w3.
    const stopped = [...a.stopped, ...b.stopped];
    expect(stopped).toHaveLength(1 + 3);
    for (const item of stopped) expect(c.running.get(item)).toBe('w3');
    for (const w of [a, b]) for (const item of before.get(w.name)!) if (!w.stopped.includes(item)) expect(c.running.get(item)).toBe(w.name);
    expect(new Set([a, b, w3].map((w) => w.assignments.at(-1)!.leaderUrl)).size).toBe(1);

    const t0 = performance.now();
    await b.member.close();
    c.crashed(b);
    const leaveMs = await waitFor('survivors balanced after a leave', () => c.settled([a, w3]), 3 * SESSION_TIMEOUT_MS);
    console.log(`[membership] after a graceful leave the survivors ran everything in ${(performance.now() - t0).toFixed(0)} ms`);
    // A leave rebalances at once, not after the session timeout.
    expect(leaveMs).toBeLessThan(SESSION_TIMEOUT_MS);
  });

  it('a worker that dies without leaving: the survivors get its work after the session timeout', async () => {
    cluster = new Cluster(WORK);
    const c = cluster;
    const ws = [c.add('w1'), c.add('w2'), c.add('w3')];
    await waitFor('three workers balanced', () => c.settled(ws), 30_000);
    const [dead, ...alive] = ws;
    const t0 = performance.now();
    await dead.member.abandon();
    c.crashed(dead);
    await waitFor('survivors balanced after a crash', () => c.settled(alive), 3 * SESSION_TIMEOUT_MS);
    const failover = performance.now() - t0;
    console.log(`[membership] failover after a dead worker: ${failover.toFixed(0)} ms (session.timeout.ms ${SESSION_TIMEOUT_MS}, heartbeat ${HEARTBEAT_MS})`);
    // The coordinator cannot know before the session expires.
    expect(failover).toBeGreaterThan(SESSION_TIMEOUT_MS - 2 * HEARTBEAT_MS);
    for (const w of alive) expect(w.stopped).toEqual([]);
  });

  it('lost work: the work of a worker that left is held back for the delay, goes back to it when it returns, and to the others after', async () => {
    cluster = new Cluster(WORK);
    const c = cluster;
    c.lostWorkDelayMs = 10_000;
    const ws = [c.add('w1'), c.add('w2'), c.add('w3')];
    await waitFor('three workers balanced', () => c.settled(ws), 30_000);
    const leader = ws[0].assignments.at(-1)!.leaderWorkerId;
    const [goer, ...stay] = [...ws.filter((w) => w.name !== leader), ws.find((w) => w.name === leader)!];
    const itsWork = [...c.running].filter(([, owner]) => owner === goer.name).map(([item]) => item).sort();
    for (const w of stay) {
      w.stopped.length = 0;
      w.assignments.length = 0;
    }
    await goer.member.close();
    c.crashed(goer);
    // The survivors rebalance at once (a leave), but get nothing of the leaver's work...
    await waitFor('a round without the leaver', () => stay.every((w) => w.assignments.length > 0), 10_000);
    expect(stay.flatMap((w) => w.assignments.flatMap((a) => [...a.assigned.connectors, ...a.assigned.tasks.map(key)]))).toEqual([]);
    // ...and when it comes back (a restart) it gets that work again; nothing else moved.
    const back = c.add(goer.name);
    await waitFor('balanced with the returned worker', () => c.settled([back, ...stay]), 30_000);
    const backWork = [...c.running].filter(([, owner]) => owner === back.name).map(([item]) => item).sort();
    expect(backWork).toEqual(itsWork);
    for (const w of stay) expect(w.stopped).toEqual([]);

    // Gone for good: after the delay the others take it.
    const t0 = performance.now();
    await back.member.close();
    c.crashed(back);
    await waitFor('survivors run everything', () => c.settled(stay), 30_000);
    const took = performance.now() - t0;
    console.log(`[membership] lost work moved to the survivors ${took.toFixed(0)} ms after the leave (delay 10000 ms)`);
    // The leader cannot hand it on before the delay ran out (a lower bound, whatever the machine's speed).
    expect(took).toBeGreaterThanOrEqual(10_000 - 100);
  }, 90_000);

  it('config offsets: a leader behind a member makes everyone reread and rejoin; a member behind catches up first', async () => {
    cluster = new Cluster(WORK);
    const c = cluster;
    c.configEnd = 5;
    c.leaderCatchesUp = false;
    const w1 = c.add('w1', 3);
    await waitFor('the first worker runs everything', () => c.settled([w1]), 30_000);
    // w2 has read further than the leader.
    const w2 = c.add('w2', 5);
    await waitFor('two workers balanced', () => c.settled([w1, w2]), 30_000);
    expect(w1.assignments.some((a) => a.error === 'config-mismatch')).toBe(true);
    expect(w2.assignments.some((a) => a.error === 'config-mismatch')).toBe(true);
    // Nothing stopped or started because of the mismatch itself: w1 only gave w2 its share.
    expect(w1.offset).toBe(5);
    const w3 = c.add('w3', 1);
    await waitFor('three workers balanced', () => c.settled([w1, w2, w3]), 30_000);
    // Its first assignment told it to catch up (it did, in onAssigned), so it reported 5 from then on.
    expect(w3.assignments[0]).toMatchObject({ error: null, catchUp: true, configOffset: 5 });
    expect(w3.assignments.at(-1)).toMatchObject({ catchUp: false, configOffset: 5 });
    expect(w3.offset).toBe(5);
  });
});
