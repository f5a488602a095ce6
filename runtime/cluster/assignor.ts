/**
 * The group leader's assignment of connectors and tasks to workers: balanced, sticky and
 * incremental (Kafka Connect's incremental cooperative model, KIP-415). A pure function: the
 * membership layer calls it with what every member reported in JoinGroup and the work read from
 * the leader's config log.
 *
 * Rules:
 * - Balanced: connectors and tasks are balanced separately (as Connect does); the counts of any
 *   two members differ by at most one once every revocation of the round has been carried out.
 * - Sticky: a member keeps what it owns, up to its share. The larger shares (`ceil(n/m)`) go to
 *   the members that own the most, so the number of moves is the minimum a balanced result allows.
 * - Incremental: each member is told what to stop (`revoked`) and what to start (`assigned`);
 *   nothing else it runs is touched. Work revoked from one member is withheld from everyone in
 *   the same round: the member stops it and rejoins, and the next round (where it is unowned)
 *   gives it to the member short of its share. So no work ever runs on two members at once.
 *   `followUp` says whether such a second round is needed.
 * - Work that no longer exists (a deleted connector, a task beyond a lowered count) is revoked
 *   from whoever reports it. Work reported by two members (a zombie after a network split) stays
 *   with the member that owns the least and is revoked from the others.
 * - Config offsets, as Kafka Connect: every member reports the offset of the config log it has
 *   read, the leader assigns from the config it read. If some member has read further than the
 *   leader, the leader's view may lack connectors: it must read its config log to the end and
 *   assign again; if it still is behind, the result is `config-mismatch` for everyone (no work
 *   changes, every member rejoins after reading its config to the end). Members behind the leader
 *   get an assignment with `catchUp: true`: before starting anything assigned they must read the
 *   config log up to `configOffset` (and leave the group if they cannot within a timeout, so the
 *   work goes elsewhere). Stopping revoked work needs no catching up.
 */

export interface ConnectorWork {
  connector: string;
  /** Committed task count; 0 for a stopped connector or one without task configs yet. */
  tasks: number;
}

export interface TaskId {
  connector: string;
  task: number;
}

export interface WorkSet {
  connectors: string[];
  tasks: TaskId[];
}

export interface MemberReport {
  memberId: string;
  /** Offset of the config log this member has read (-1: nothing). */
  configOffset: number;
  /** What it runs now (its last assignment, minus what it stopped). */
  owned: WorkSet;
}

export interface AssignInput {
  members: readonly MemberReport[];
  /** Every connector with its committed task count, from the leader's config log. */
  work: readonly ConnectorWork[];
  /** Offset of the config log the leader read `work` from. */
  configOffset: number;
  /**
   * Work of members that left without handing it on (lost work), held back for a while in case
   * they come back (Connect's scheduled.rebalance.max.delay.ms): not assigned to anyone this round.
   */
  withheld?: WorkSet;
}

export interface MemberAssignment {
  /** What the member runs after this round: owned - revoked + assigned. */
  connectors: string[];
  tasks: TaskId[];
  /** Stop these now. */
  revoked: WorkSet;
  /** Start these (after catching up to `configOffset` when `catchUp`). */
  assigned: WorkSet;
  configOffset: number;
  /** The member has read less of the config log than the leader: read up to `configOffset` first. */
  catchUp: boolean;
}

export type AssignResult =
  | {
      ok: true;
      configOffset: number;
      assignments: Map<string, MemberAssignment>;
      /** Work was revoked to move elsewhere: the members that stopped it rejoin, and the next round places it. */
      followUp: boolean;
    }
  | {
      ok: false;
      error: 'config-mismatch';
      /** The highest config offset a member reported; the leader must read at least this far. */
      configOffset: number;
      leaderConfigOffset: number;
    };

export const taskIdKey = (t: TaskId): string => `${t.connector}\0${t.task}`;

function compareTasks(a: TaskId, b: TaskId): number {
  return a.connector < b.connector ? -1 : a.connector > b.connector ? 1 : a.task - b.task;
}

interface Balanced {
  kept: Map<string, string[]>;
  revoked: Map<string, string[]>;
  assigned: Map<string, string[]>;
  moved: boolean;
}

/**
 * Balance one kind of item (connector names or task keys, in a deterministic order) over the
 * members (sorted ids), given what each reports owning.
 */
function balance(
  ids: readonly string[],
  items: readonly string[],
  owned: Map<string, string[]>,
  groupOf: (item: string) => string = (item) => item,
  withheld: ReadonlySet<string> = new Set(),
): Balanced {
  const exists = new Set(items);
  const kept = new Map<string, string[]>();
  const revoked = new Map<string, string[]>();
  const assigned = new Map<string, string[]>();
  for (const id of ids) {
    kept.set(id, []);
    revoked.set(id, []);
    assigned.set(id, []);
  }
  // Claims on existing items, each item with one claimant: the member that owns the least.
  const claimants = new Map<string, string[]>();
  for (const id of ids) {
    const seen = new Set<string>();
    for (const item of owned.get(id) ?? []) {
      if (seen.has(item)) continue;
      seen.add(item);
      if (!exists.has(item)) {
        revoked.get(id)!.push(item);
        continue;
      }
      let list = claimants.get(item);
      if (!list) claimants.set(item, (list = []));
      list.push(id);
    }
  }
  // Withheld items nobody claims are left out: neither counted in the shares nor assigned.
  const pool = withheld.size === 0 ? items : items.filter((item) => !withheld.has(item) || claimants.has(item));
  const holding = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const item of pool) {
    const list = claimants.get(item);
    if (!list) continue;
    let keeper = list[0];
    for (const id of list) {
      const n = (owned.get(id) ?? []).length;
      const best = (owned.get(keeper) ?? []).length;
      if (n < best || (n === best && id < keeper)) keeper = id;
    }
    holding.get(keeper)!.push(item);
    for (const id of list) if (id !== keeper) revoked.get(id)!.push(item);
  }

  // Shares: the larger ones to the members holding the most.
  const m = ids.length;
  const base = Math.floor(pool.length / m);
  let extra = pool.length % m;
  const byHolding = [...ids].sort((a, b) => holding.get(b)!.length - holding.get(a)!.length || (a < b ? -1 : 1));
  const share = new Map<string, number>();
  for (const id of byHolding) {
    if (extra > 0) {
      share.set(id, base + 1);
      extra--;
    } else {
      share.set(id, base);
    }
  }

  let moved = false;
  const unowned = new Set(pool.filter((item) => !claimants.has(item)));
  for (const id of ids) {
    const mine = holding.get(id)!;
    const q = share.get(id)!;
    kept.set(id, mine.slice(0, q));
    if (mine.length > q) {
      // Revoke the last ones in item order; they are withheld until their member has stopped them.
      revoked.get(id)!.push(...mine.slice(q));
      moved = true;
    }
  }
  // Unowned items go to members short of their share: the least loaded first, then the one with
  // the fewest items of the same group (a connector's tasks spread over the workers).
  const load = (id: string) => kept.get(id)!.length + assigned.get(id)!.length;
  const sameGroup = (id: string, group: string) =>
    kept.get(id)!.filter((i) => groupOf(i) === group).length + assigned.get(id)!.filter((i) => groupOf(i) === group).length;
  for (const item of pool) {
    if (!unowned.has(item)) continue;
    const group = groupOf(item);
    let target: string | undefined;
    for (const id of ids) {
      if (load(id) >= share.get(id)!) continue;
      if (target === undefined || load(id) < load(target) || (load(id) === load(target) && sameGroup(id, group) < sameGroup(target, group))) {
        target = id;
      }
    }
    // Everyone is at their share only while revoked items are withheld; then the least loaded takes it.
    if (target === undefined) for (const id of ids) if (target === undefined || load(id) < load(target)) target = id;
    assigned.get(target!)!.push(item);
  }
  return { kept, revoked, assigned, moved };
}

/** Compute every member's assignment; see the module comment for the rules. */
export function assign(input: AssignInput): AssignResult {
  const maxOffset = input.members.reduce((max, m) => Math.max(max, m.configOffset), -1);
  if (maxOffset > input.configOffset) {
    return { ok: false, error: 'config-mismatch', configOffset: maxOffset, leaderConfigOffset: input.configOffset };
  }
  const ids = input.members.map((m) => m.memberId).sort();
  if (new Set(ids).size !== ids.length) throw new Error('assign: member ids must be unique');
  const work = [...input.work].sort((a, b) => (a.connector < b.connector ? -1 : a.connector > b.connector ? 1 : 0));
  const connectorItems = work.map((w) => w.connector);
  const taskIds = new Map<string, TaskId>();
  for (const w of work) {
    for (let i = 0; i < w.tasks; i++) {
      const t = { connector: w.connector, task: i };
      taskIds.set(taskIdKey(t), t);
    }
  }
  // Interleave connectors' tasks (task 0 of each, then task 1 of each, ...) so fresh work spreads evenly.
  const taskItems = [...taskIds.values()].sort((a, b) => a.task - b.task || compareTasks(a, b)).map(taskIdKey);

  const ownedConnectors = new Map<string, string[]>();
  const ownedTasks = new Map<string, string[]>();
  const reportedTasks = new Map<string, TaskId>();
  for (const m of input.members) {
    ownedConnectors.set(m.memberId, [...m.owned.connectors]);
    ownedTasks.set(
      m.memberId,
      m.owned.tasks.map((t) => {
        const k = taskIdKey(t);
        reportedTasks.set(k, { connector: t.connector, task: t.task });
        return k;
      }),
    );
  }
  if (ids.length === 0) return { ok: true, configOffset: input.configOffset, assignments: new Map(), followUp: false };

  const c = balance(ids, connectorItems, ownedConnectors, undefined, new Set(input.withheld?.connectors ?? []));
  const t = balance(ids, taskItems, ownedTasks, (k) => k.slice(0, k.lastIndexOf('\0')), new Set((input.withheld?.tasks ?? []).map(taskIdKey)));
  const toTask = (k: string): TaskId => ({ ...(taskIds.get(k) ?? reportedTasks.get(k)!) });
  const assignments = new Map<string, MemberAssignment>();
  for (const m of input.members) {
    const id = m.memberId;
    assignments.set(id, {
      connectors: [...c.kept.get(id)!, ...c.assigned.get(id)!].sort(),
      tasks: [...t.kept.get(id)!, ...t.assigned.get(id)!].map(toTask).sort(compareTasks),
      revoked: { connectors: [...c.revoked.get(id)!].sort(), tasks: t.revoked.get(id)!.map(toTask).sort(compareTasks) },
      assigned: { connectors: [...c.assigned.get(id)!].sort(), tasks: t.assigned.get(id)!.map(toTask).sort(compareTasks) },
      configOffset: input.configOffset,
      catchUp: m.configOffset < input.configOffset,
    });
  }
  return { ok: true, configOffset: input.configOffset, assignments, followUp: c.moved || t.moved };
}
