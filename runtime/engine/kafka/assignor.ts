/**
 * A cooperative, sticky partition assignor for the classic group protocol (the KIP-429 model).
 *
 * Every member says in its subscription which partitions it still owns. The group leader keeps
 * partitions with their owners, gives unowned ones to the least loaded members, and moves
 * partitions only to even out the counts. A partition that must move from a member that owns it
 * is withheld from everyone in this round: its owner sees it gone, releases it (flushes, commits
 * offsets, closes it on the task) and rejoins, and the next round hands it to its new member. So
 * a partition is never owned by two members at once, and only moving partitions stop.
 */
import type { ClusterMetadata, ExtendedGroupProtocolSubscription, GroupPartitionsAssignments } from '@platformatic/kafka';
import type { TopicPartition } from '../../api/index.ts';
import { topicPartitionKey } from '../../api/index.ts';

/** The protocol name members agree on in JoinGroup; members of other protocols cannot share the group. */
export const COOPERATIVE_PROTOCOL = 'tributary-cooperative-sticky';

export interface MemberSubscription {
  memberId: string;
  topics: string[];
  owned: TopicPartition[];
}

/** The subscription's user data: the partitions this member owns. */
export function encodeOwned(owned: Iterable<TopicPartition>): Buffer {
  const byTopic = new Map<string, number[]>();
  for (const tp of owned) {
    let ps = byTopic.get(tp.topic);
    if (!ps) byTopic.set(tp.topic, (ps = []));
    ps.push(tp.partition);
  }
  return Buffer.from(JSON.stringify({ owned: [...byTopic] }));
}

export function decodeOwned(data: Buffer | string | undefined | null): TopicPartition[] {
  if (!data || data.length === 0) return [];
  try {
    const parsed = JSON.parse(data.toString()) as { owned?: Array<[string, number[]]> };
    const out: TopicPartition[] = [];
    for (const [topic, partitions] of parsed.owned ?? []) {
      for (const partition of partitions) if (typeof topic === 'string' && Number.isInteger(partition)) out.push({ topic, partition });
    }
    return out;
  } catch {
    return [];
  }
}

/** Assign the partitions of the members' topics (with these partition counts); see the module comment. */
export function cooperativeAssign(members: MemberSubscription[], partitionCounts: Map<string, number>): Map<string, TopicPartition[]> {
  const ids = members.map((m) => m.memberId).sort();
  const subscriptions = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
  const target = new Map<string, Map<string, TopicPartition>>(ids.map((id) => [id, new Map()]));
  const load = (id: string) => target.get(id)!.size;

  const claims = new Map<string, string[]>();
  for (const m of members) {
    for (const tp of m.owned) {
      const count = partitionCounts.get(tp.topic);
      if (count === undefined || tp.partition >= count || !subscriptions.get(m.memberId)!.has(tp.topic)) continue;
      const key = topicPartitionKey(tp);
      const list = claims.get(key);
      if (list) {
        if (!list.includes(m.memberId)) list.push(m.memberId);
      } else claims.set(key, [m.memberId]);
    }
  }
  const owner = new Map<string, string>();
  const contested = new Set<string>();
  for (const [key, claimers] of claims) {
    if (claimers.length === 1) owner.set(key, claimers[0]);
    else contested.add(key);
  }

  const topics = [...new Set(members.flatMap((m) => m.topics))].filter((t) => partitionCounts.has(t)).sort();
  const unowned: TopicPartition[] = [];
  for (const topic of topics) {
    const count = partitionCounts.get(topic)!;
    for (let partition = 0; partition < count; partition++) {
      const tp = { topic, partition };
      const key = topicPartitionKey(tp);
      const o = owner.get(key);
      if (o !== undefined) target.get(o)!.set(key, tp);
      else unowned.push(tp);
    }
  }
  for (const tp of unowned) {
    let best: string | undefined;
    for (const id of ids) {
      if (!subscriptions.get(id)!.has(tp.topic)) continue;
      if (best === undefined || load(id) < load(best)) best = id;
    }
    if (best !== undefined) target.get(best)!.set(topicPartitionKey(tp), tp);
  }

  // Even out: move one partition at a time from a fullest member to an emptiest one that may take it.
  for (;;) {
    const desc = [...ids].sort((a, b) => load(b) - load(a) || (a < b ? -1 : 1));
    const asc = [...desc].reverse();
    let moved = false;
    outer: for (const from of desc) {
      for (const to of asc) {
        if (load(from) - load(to) <= 1) break;
        const candidates = [...target.get(from)!].filter(([, tp]) => subscriptions.get(to)!.has(tp.topic));
        if (candidates.length === 0) continue;
        // Prefer a partition `from` does not own yet: it moves without being withheld.
        const pick = candidates.filter(([key]) => owner.get(key) !== from).at(-1) ?? candidates.at(-1)!;
        target.get(from)!.delete(pick[0]);
        target.get(to)!.set(pick[0], pick[1]);
        moved = true;
        break outer;
      }
    }
    if (!moved) break;
  }

  const out = new Map<string, TopicPartition[]>();
  for (const id of ids) {
    const mine: TopicPartition[] = [];
    for (const [key, tp] of target.get(id)!) {
      const o = owner.get(key);
      if (contested.has(key) || (o !== undefined && o !== id)) continue;
      mine.push(tp);
    }
    mine.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    out.set(id, mine);
  }
  return out;
}

/** `cooperativeAssign` in the shape @platformatic/kafka's group leader calls. */
export function cooperativeAssigner(
  _leader: string,
  members: Map<string, ExtendedGroupProtocolSubscription>,
  _topics: Set<string>,
  metadata: ClusterMetadata,
): GroupPartitionsAssignments[] {
  const subscriptions: MemberSubscription[] = [...members.values()].map((m) => ({
    memberId: m.memberId,
    topics: m.topics ?? [],
    owned: decodeOwned(m.metadata),
  }));
  const counts = new Map<string, number>();
  for (const [topic, t] of metadata.topics) if (t) counts.set(topic, t.partitionsCount);
  const plan = cooperativeAssign(subscriptions, counts);
  return [...members.keys()].map((memberId) => {
    const assignments = new Map<string, { topic: string; partitions: number[] }>();
    for (const tp of plan.get(memberId) ?? []) {
      let a = assignments.get(tp.topic);
      if (!a) assignments.set(tp.topic, (a = { topic: tp.topic, partitions: [] }));
      a.partitions.push(tp.partition);
    }
    return { memberId, assignments };
  });
}
