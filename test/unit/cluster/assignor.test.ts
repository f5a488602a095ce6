import { describe, expect, it } from 'vitest';
import type { AssignResult, ConnectorWork, MemberAssignment, MemberReport, TaskId, WorkSet } from '../../../runtime/cluster/assignor.ts';
import { assign, taskIdKey } from '../../../runtime/cluster/assignor.ts';

const none = (): WorkSet => ({ connectors: [], tasks: [] });
const t = (connector: string, task: number): TaskId => ({ connector, task });

function ok(result: AssignResult): Map<string, MemberAssignment> {
  if (!result.ok) throw new Error(`expected an assignment, got ${result.error}`);
  return result.assignments;
}

/** What every member owns after applying its assignment. */
function apply(assignments: Map<string, MemberAssignment>): Map<string, WorkSet> {
  return new Map([...assignments].map(([id, a]) => [id, { connectors: a.connectors, tasks: a.tasks }]));
}

function reports(owned: Map<string, WorkSet>, configOffset = 10): MemberReport[] {
  return [...owned].map(([memberId, o]) => ({ memberId, configOffset, owned: o }));
}

/** Rebalance rounds until no follow-up is needed; returns the final ownership and every round's result. */
function converge(owned: Map<string, WorkSet>, work: ConnectorWork[], maxRounds = 5) {
  const rounds: Array<Map<string, MemberAssignment>> = [];
  let current = owned;
  for (let i = 0; i < maxRounds; i++) {
    const result = assign({ members: reports(current), work, configOffset: 10 });
    if (!result.ok) throw new Error('mismatch');
    rounds.push(result.assignments);
    current = apply(result.assignments);
    if (!result.followUp) return { owned: current, rounds };
  }
  throw new Error(`did not converge in ${maxRounds} rounds`);
}

function expectBalancedAndComplete(owned: Map<string, WorkSet>, work: ConnectorWork[]): void {
  const connectors = [...owned.values()].flatMap((o) => o.connectors).sort();
  const tasks = [...owned.values()].flatMap((o) => o.tasks.map(taskIdKey)).sort();
  expect(connectors).toEqual(work.map((w) => w.connector).sort());
  const expectedTasks = work.flatMap((w) => Array.from({ length: w.tasks }, (_, i) => taskIdKey(t(w.connector, i)))).sort();
  expect(tasks).toEqual(expectedTasks);
  const cCounts = [...owned.values()].map((o) => o.connectors.length);
  const tCounts = [...owned.values()].map((o) => o.tasks.length);
  expect(Math.max(...cCounts) - Math.min(...cCounts)).toBeLessThanOrEqual(1);
  expect(Math.max(...tCounts) - Math.min(...tCounts)).toBeLessThanOrEqual(1);
}

function revokedCount(round: Map<string, MemberAssignment>): number {
  return [...round.values()].reduce((n, a) => n + a.revoked.connectors.length + a.revoked.tasks.length, 0);
}

describe('assign', () => {
  const work: ConnectorWork[] = [
    { connector: 'a', tasks: 3 },
    { connector: 'b', tasks: 2 },
    { connector: 'c', tasks: 1 },
  ];

  it('spreads fresh work evenly in one round, with nothing to revoke', () => {
    const owned = new Map([
      ['w1', none()],
      ['w2', none()],
      ['w3', none()],
    ]);
    const result = assign({ members: reports(owned), work, configOffset: 10 });
    expect(result.ok && result.followUp).toBe(false);
    const a = ok(result);
    expect(revokedCount(a)).toBe(0);
    expectBalancedAndComplete(apply(a), work);
    for (const m of a.values()) {
      expect(m.assigned).toEqual({ connectors: m.connectors, tasks: m.tasks });
      expect(m.configOffset).toBe(10);
      expect(m.catchUp).toBe(false);
    }
    // A connector's tasks land on different workers.
    for (const m of a.values()) expect(new Set(m.tasks.map((x) => x.connector)).size).toBe(m.tasks.length);
  });

  it('a single member gets everything', () => {
    const a = ok(assign({ members: reports(new Map([['w1', none()]])), work, configOffset: 10 }));
    expect(a.get('w1')!.connectors).toEqual(['a', 'b', 'c']);
    expect(a.get('w1')!.tasks).toHaveLength(6);
  });

  it('no members: an empty assignment', () => {
    const result = assign({ members: [], work, configOffset: 10 });
    expect(result.ok && result.assignments.size).toBe(0);
  });

  it('a new member: only the work that moves is revoked, withheld for one round, then given to the newcomer', () => {
    const start = converge(
      new Map([
        ['w1', none()],
        ['w2', none()],
      ]),
      work,
    ).owned;
    const withNew = new Map(start).set('w3', none());
    const first = assign({ members: reports(withNew), work, configOffset: 10 });
    expect(first.ok && first.followUp).toBe(true);
    const round1 = ok(first);
    // 3 connectors / 6 tasks over 3: the newcomer needs 1 connector and 2 tasks, so exactly that moves.
    expect(revokedCount(round1)).toBe(3);
    expect(round1.get('w3')!.assigned).toEqual({ connectors: [], tasks: [] });
    for (const [id, a] of round1) {
      // Everything not revoked stays, and nothing is started in the revoking round.
      const before = start.get(id) ?? none();
      expect(a.connectors).toEqual(before.connectors.filter((c) => !a.revoked.connectors.includes(c)).sort());
      expect(a.assigned.connectors).toEqual([]);
      expect(a.assigned.tasks).toEqual([]);
    }
    const second = assign({ members: reports(apply(round1)), work, configOffset: 10 });
    expect(second.ok && second.followUp).toBe(false);
    const round2 = ok(second);
    expect(revokedCount(round2)).toBe(0);
    expect(round2.get('w3')!.assigned.connectors).toHaveLength(1);
    expect(round2.get('w3')!.assigned.tasks).toHaveLength(2);
    for (const id of ['w1', 'w2']) expect(round2.get(id)!.assigned).toEqual(none());
    expectBalancedAndComplete(apply(round2), work);
  });

  it('a member leaves: its work goes to the survivors at once, and nobody else stops anything', () => {
    const start = converge(
      new Map([
        ['w1', none()],
        ['w2', none()],
        ['w3', none()],
      ]),
      work,
    ).owned;
    const lost = start.get('w2')!;
    start.delete('w2');
    const result = assign({ members: reports(start), work, configOffset: 10 });
    expect(result.ok && result.followUp).toBe(false);
    const a = ok(result);
    expect(revokedCount(a)).toBe(0);
    const assigned = [...a.values()].flatMap((x) => [...x.assigned.connectors, ...x.assigned.tasks.map(taskIdKey)]).sort();
    expect(assigned).toEqual([...lost.connectors, ...lost.tasks.map(taskIdKey)].sort());
    expectBalancedAndComplete(apply(a), work);
  });

  it('a member that comes back gets work back by moving only what it needs', () => {
    const three = new Map([
      ['w1', none()],
      ['w2', none()],
      ['w3', none()],
    ]);
    const start = converge(three, work).owned;
    start.delete('w3');
    const two = converge(start, work).owned;
    two.set('w3', none());
    const { owned, rounds } = converge(two, work);
    expect(rounds).toHaveLength(2);
    expect(revokedCount(rounds[0])).toBe(3);
    expectBalancedAndComplete(owned, work);
  });

  it('a new connector is placed on the least loaded members; a removed one is revoked from its owner only', () => {
    const start = converge(
      new Map([
        ['w1', none()],
        ['w2', none()],
        ['w3', none()],
      ]),
      work,
    ).owned;
    const more = [...work, { connector: 'd', tasks: 3 }];
    const added = ok(assign({ members: reports(start), work: more, configOffset: 11 }));
    expect(revokedCount(added)).toBe(0);
    expectBalancedAndComplete(apply(added), more);

    const fewer = more.filter((w) => w.connector !== 'a');
    const removed = assign({ members: reports(apply(added)), work: fewer, configOffset: 12 });
    const r = ok(removed);
    const revoked = [...r.values()].flatMap((x) => [...x.revoked.connectors, ...x.revoked.tasks.map(taskIdKey)]).sort();
    // Everything of `a` stops; anything else that stops only moves to rebalance counts.
    for (const k of ['a', taskIdKey(t('a', 0)), taskIdKey(t('a', 1)), taskIdKey(t('a', 2))]) expect(revoked).toContain(k);
    const final = converge(apply(r), fewer).owned;
    expectBalancedAndComplete(final, fewer);
  });

  it('a lower task count revokes the tasks beyond it; a higher one assigns the new tasks', () => {
    const start = converge(
      new Map([
        ['w1', none()],
        ['w2', none()],
      ]),
      [{ connector: 'a', tasks: 4 }],
    ).owned;
    const lower = ok(assign({ members: reports(start), work: [{ connector: 'a', tasks: 2 }], configOffset: 11 }));
    const revoked = [...lower.values()].flatMap((x) => x.revoked.tasks.map(taskIdKey)).sort();
    expect(revoked).toEqual([taskIdKey(t('a', 2)), taskIdKey(t('a', 3))]);
    expectBalancedAndComplete(apply(lower), [{ connector: 'a', tasks: 2 }]);

    const higher = ok(assign({ members: reports(apply(lower)), work: [{ connector: 'a', tasks: 6 }], configOffset: 12 }));
    expect(revokedCount(higher)).toBe(0);
    const assigned = [...higher.values()].flatMap((x) => x.assigned.tasks.map(taskIdKey)).sort();
    expect(assigned).toEqual([2, 3, 4, 5].map((i) => taskIdKey(t('a', i))));
    expectBalancedAndComplete(apply(higher), [{ connector: 'a', tasks: 6 }]);
  });

  it('work reported by two members stays with one and is revoked from the other', () => {
    const owned = new Map<string, WorkSet>([
      ['w1', { connectors: ['a', 'b'], tasks: [t('a', 0), t('a', 1)] }],
      ['w2', { connectors: ['a'], tasks: [t('a', 0)] }],
    ]);
    const r = ok(assign({ members: reports(owned), work: [{ connector: 'a', tasks: 2 }, { connector: 'b', tasks: 0 }], configOffset: 10 }));
    // w2 owns less, so it keeps the duplicates; w1 drops them.
    expect(r.get('w1')!.revoked).toEqual({ connectors: ['a'], tasks: [t('a', 0)] });
    expect(r.get('w2')!.revoked).toEqual(none());
    const final = apply(r);
    expect(final.get('w1')).toEqual({ connectors: ['b'], tasks: [t('a', 1)] });
    expect(final.get('w2')).toEqual({ connectors: ['a'], tasks: [t('a', 0)] });
  });

  it('config offsets: a member ahead of the leader is a mismatch; members behind must catch up first', () => {
    const owned = new Map([
      ['w1', none()],
      ['w2', none()],
    ]);
    const mismatch = assign({
      members: [
        { memberId: 'w1', configOffset: 10, owned: none() },
        { memberId: 'w2', configOffset: 12, owned: none() },
      ],
      work,
      configOffset: 10,
    });
    expect(mismatch).toEqual({ ok: false, error: 'config-mismatch', configOffset: 12, leaderConfigOffset: 10 });

    const behind = ok(
      assign({
        members: [
          { memberId: 'w1', configOffset: 12, owned: none() },
          { memberId: 'w2', configOffset: 7, owned: none() },
        ],
        work,
        configOffset: 12,
      }),
    );
    expect(behind.get('w1')!.catchUp).toBe(false);
    expect(behind.get('w2')!.catchUp).toBe(true);
    expect(behind.get('w2')!.configOffset).toBe(12);
    expect(owned.size).toBe(2);
  });

  it('rejects duplicate member ids', () => {
    expect(() =>
      assign({
        members: [
          { memberId: 'w', configOffset: 0, owned: none() },
          { memberId: 'w', configOffset: 0, owned: none() },
        ],
        work,
        configOffset: 0,
      }),
    ).toThrow(/unique/);
  });
});

// ---- property-style ------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fewest items that must move for a balanced result, by trying every choice of which members get the larger share. */
function minimalMoves(holdings: number[], items: number): number {
  const m = holdings.length;
  const base = Math.floor(items / m);
  const extra = items % m;
  let best = Infinity;
  for (let mask = 0; mask < 1 << m; mask++) {
    let bits = 0;
    for (let i = 0; i < m; i++) if (mask & (1 << i)) bits++;
    if (bits !== extra) continue;
    let moves = 0;
    for (let i = 0; i < m; i++) moves += Math.max(0, holdings[i] - (mask & (1 << i) ? base + 1 : base));
    best = Math.min(best, moves);
  }
  return best;
}

describe('assign over random scenarios', () => {
  it('always converges within two rounds to a balanced, complete assignment with the fewest moves', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const random = rng(seed);
      const int = (n: number) => Math.floor(random() * n);
      // A random cluster history: a balanced start, then members and connectors come and go.
      const memberCount = 1 + int(6);
      let work: ConnectorWork[] = Array.from({ length: int(8) }, (_, i) => ({ connector: `c${i}`, tasks: int(6) }));
      let owned = new Map<string, WorkSet>(Array.from({ length: memberCount }, (_, i) => [`w${i}`, none()]));
      owned = converge(owned, work).owned;
      for (let step = 0; step < 4; step++) {
        const change = int(5);
        if (change === 0) owned.set(`w${memberCount + step}-${seed}`, none());
        else if (change === 1 && owned.size > 1) owned.delete([...owned.keys()][int(owned.size)]);
        else if (change === 2) work = [...work, { connector: `n${step}`, tasks: int(7) }];
        else if (change === 3 && work.length > 0) work = work.filter((_, i) => i !== int(work.length));
        else if (work.length > 0) {
          const i = int(work.length);
          work = work.map((w, j) => (j === i ? { ...w, tasks: int(8) } : w));
        }
        const context = `seed ${seed} step ${step}`;
        // Minimal movement in the first round: only what balance requires (beyond work that no longer exists).
        const exists = new Set(work.map((w) => w.connector));
        const taskExists = new Set(work.flatMap((w) => Array.from({ length: w.tasks }, (_, i) => taskIdKey(t(w.connector, i)))));
        const ids = [...owned.keys()].sort();
        const cHold = ids.map((id) => owned.get(id)!.connectors.filter((c) => exists.has(c)).length);
        const tHold = ids.map((id) => owned.get(id)!.tasks.filter((x) => taskExists.has(taskIdKey(x))).length);
        const { owned: next, rounds } = converge(owned, work);
        expect(rounds.length, context).toBeLessThanOrEqual(2);
        const first = rounds[0];
        const movedC = ids.reduce((n, id) => n + first.get(id)!.revoked.connectors.filter((c) => exists.has(c)).length, 0);
        const movedT = ids.reduce((n, id) => n + first.get(id)!.revoked.tasks.filter((x) => taskExists.has(taskIdKey(x))).length, 0);
        expect(movedC, context).toBe(minimalMoves(cHold, exists.size));
        expect(movedT, context).toBe(minimalMoves(tHold, taskExists.size));
        // Nothing is revoked in the second round, and nothing ever runs on two members at once.
        if (rounds[1]) expect(revokedCount(rounds[1]), context).toBe(0);
        for (const round of rounds) {
          const all = [...round.values()].flatMap((a) => [...a.connectors, ...a.tasks.map(taskIdKey)]);
          expect(new Set(all).size, context).toBe(all.length);
        }
        expectBalancedAndComplete(next, work);
        owned = next;
      }
    }
  });
});

describe('assign: withheld (lost) work', () => {
  it('assigns no withheld item and counts none in the shares; a member still reporting one keeps it', () => {
    const members = [
      { memberId: 'a', configOffset: 5, owned: { connectors: ['c1'], tasks: [{ connector: 'c1', task: 0 }] } },
      { memberId: 'b', configOffset: 5, owned: { connectors: [], tasks: [] } },
    ];
    const work = [{ connector: 'c1', tasks: 2 }, { connector: 'c2', tasks: 2 }];
    const withheld = { connectors: ['c2', 'c1'], tasks: [{ connector: 'c2', task: 0 }, { connector: 'c2', task: 1 }, { connector: 'c1', task: 0 }] };
    const r = assign({ members, work, configOffset: 5, withheld });
    if (!r.ok) throw new Error('unexpected mismatch');
    const all = [...r.assignments.values()];
    // c2 and its tasks go nowhere; c1 stays with a (which reports it); c1's task 1 is free work.
    expect(all.flatMap((x) => x.connectors).sort()).toEqual(['c1']);
    expect(all.flatMap((x) => x.tasks).map((t) => `${t.connector}-${t.task}`).sort()).toEqual(['c1-0', 'c1-1']);
    expect(all.flatMap((x) => [...x.revoked.connectors, ...x.revoked.tasks.map((t) => t.connector)])).toEqual([]);
    expect(r.assignments.get('b')!.assigned.tasks).toEqual([{ connector: 'c1', task: 1 }]);
  });
});
