/**
 * A consumer group member behind `BusConsumer`: the group's membership and heartbeats come from
 * @platformatic/kafka's classic-protocol `Consumer`; partition assignment, positions, fetching,
 * pause/seek and the rebalance callback are done here.
 *
 * Rebalances are cooperative (see assignor.ts). The member reports the partitions it owns in
 * every JoinGroup; after a SyncGroup it computes what was assigned and revoked and, at the start
 * of the next `poll`, awaits `onAssign(assigned, revoked)` before returning records of newly
 * assigned partitions. Revoked partitions were withheld from every other member by the leader;
 * once `onAssign` returned (the runner flushed and committed them) the member rejoins, and only
 * then does the group hand them on. The callback therefore runs inside `poll`, never concurrently
 * with the runner's own work; a member that stops polling keeps its partitions (they are not
 * duplicated elsewhere) until it polls again or leaves.
 *
 * Fetching runs in the background: one fetch per leader broker at a time, on a connection pool of
 * its own (group requests such as JoinGroup block their connection), long-polling up to
 * `fetchMaxWaitMs`, and buffering at most `maxBufferedBytes` ahead of `poll`. A partition with no
 * committed offset starts at its earliest offset (Connect's `auto.offset.reset=earliest`), as
 * does one whose position fell out of the log.
 *
 * Subscriptions by name or by regex are resolved against the topic list every
 * `metadataRefreshMs` (the client has no regex subscription); a new or removed matching topic, or
 * a changed partition count, makes the member rejoin so the leader reassigns.
 */
import { ConnectionPool, Consumer, FetchIsolationLevels, IS_CONTROL, ListOffsetTimestamps } from '@platformatic/kafka';
import type { Admin, ConnectionOptions, ConsumerGroupJoinPayload, GroupProtocolSubscription, RecordsBatch, fetchV17 } from '@platformatic/kafka';
import type { SinkOffsets, TopicPartition } from '../../api/index.ts';
import { FatalError, RetriableError, topicPartitionKey } from '../../api/index.ts';
import type { Logger } from '../logging.ts';
import type { BusConsumer, ConsumedRecord, ConsumerOptions } from '../topic-bus.ts';
import { COOPERATIVE_PROTOCOL, cooperativeAssigner, encodeOwned } from './assignor.ts';
import { decodeHeaders } from './codec.ts';
import { errorResponse, isRetriable, message } from './errors.ts';

export interface ConsumerSettings {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  /** How long a fetch waits at the broker for data. */
  fetchMaxWaitMs: number;
  /** Bytes of one fetch response. */
  fetchMaxBytes: number;
  /** Bytes of one partition in one fetch response. */
  partitionMaxBytes: number;
  /** Bytes fetched ahead of `poll` before fetching pauses. */
  maxBufferedBytes: number;
  /** How often the topic list and partition counts are re-read. */
  metadataRefreshMs: number;
  /** `read_committed` skips records of aborted transactions and stops at the last stable offset. */
  isolationLevel: 'read_committed' | 'read_uncommitted';
}

type FetchResponse = fetchV17.FetchResponse;

interface PartitionState {
  tp: TopicPartition;
  key: string;
  /** Next offset `poll` hands out. */
  position: number;
  /** Next offset to ask the broker for. */
  fetchOffset: number;
  records: ConsumedRecord[];
  head: number;
  bytes: number;
  /** Bumped by seek and reset; a fetch response for an older epoch is dropped. */
  epoch: number;
  fetching: boolean;
  needsReset: boolean;
  revoking: boolean;
}

const OFFSET_OUT_OF_RANGE = 1;
const TIMESTAMP_LOG_APPEND_TIME = 0x08;
const RECORD_OVERHEAD = 64;
const ERROR_BACKOFF_MS = 500;

export class KafkaBusConsumer implements BusConsumer {
  private readonly client: Consumer;
  private readonly fetchPool: ConnectionPool;
  private readonly admin: Admin;
  private readonly options: ConsumerOptions;
  private readonly settings: ConsumerSettings;
  private readonly logger: Logger;
  private readonly onClose: () => void;

  /** Topics subscribed (tracked by the client, so sent in JoinGroup), with their partition counts. */
  private readonly subscription = new Map<string, number>();
  private subscriptionLoaded = false;
  /** The latest assignment from SyncGroup. */
  private groupAssignment = new Map<string, TopicPartition>();
  /** Partitions the runner was told it owns (by onAssign), with their fetch state. */
  private readonly owned = new Map<string, PartitionState>();
  /** Owned partitions lost when the member was fenced and rejoined under a new id: not committed. */
  private readonly lost = new Set<string>();
  private readonly paused = new Set<string>();
  private readonly inflightCommits = new Set<Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }>>();
  private changePending = false;
  private releasePending = false;
  private lastMemberId: string | null = null;
  private joined = false;
  private joining: Promise<void> | null = null;
  private closed = false;
  private cursor = 0;
  private bufferedBytes = 0;
  private dataWaiters: Array<() => void> = [];
  private fetchWaiter: (() => void) | null = null;
  private fetchLoop: Promise<void> | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private refreshing = false;
  private readonly warnedAt = new Map<string, number>();

  constructor(options: {
    consumer: ConsumerOptions;
    bootstrapBrokers: string[];
    connection: ConnectionOptions;
    admin: Admin;
    settings: ConsumerSettings;
    logger: Logger;
    onClose: () => void;
  }) {
    this.options = options.consumer;
    this.settings = options.settings;
    this.admin = options.admin;
    this.logger = options.logger;
    this.onClose = options.onClose;
    const clientId = this.options.memberId.replace(/\s+/g, '_') || 'tributary-consumer';
    const protocol = { name: COOPERATIVE_PROTOCOL, version: 0 } as GroupProtocolSubscription;
    // Read at every JoinGroup, so the leader always sees what this member owns right now.
    Object.defineProperty(protocol, 'metadata', { enumerable: true, get: () => encodeOwned(this.reportedOwned()) });
    const s = this.settings;
    this.client = new Consumer({
      ...options.connection,
      clientId,
      bootstrapBrokers: options.bootstrapBrokers,
      groupId: this.options.groupId,
      autocommit: false,
      sessionTimeout: s.sessionTimeoutMs,
      heartbeatInterval: s.heartbeatIntervalMs,
      rebalanceTimeout: s.rebalanceTimeoutMs,
      // JoinGroup may legitimately wait for the whole rebalance.
      requestTimeout: Math.max(30_000, s.rebalanceTimeoutMs + 5_000),
      protocols: [protocol],
      partitionAssigner: cooperativeAssigner,
      isolationLevel: this.isolation(),
      maxWaitTime: s.fetchMaxWaitMs,
      maxBytes: s.fetchMaxBytes,
      minBytes: 1,
    });
    this.fetchPool = new ConnectionPool(clientId, { ...options.connection, requestTimeout: Math.max(30_000, s.fetchMaxWaitMs + 10_000) });
    this.client.on('consumer:group:join', (e) => this.onJoin(e));
    this.client.on('error', (e: Error) => {
      // The client's background rejoin gave up: join again on the next poll.
      this.joined = false;
      if (!this.closed) this.warn('join', { err: message(e) }, 'consumer group rejoin failed; retrying');
    });
    this.client.on('consumer:heartbeat:error', (e) => this.logger.debug({ err: message(e.error) }, 'heartbeat failed'));
  }

  async poll(maxRecords: number, maxWaitMs: number, signal: AbortSignal): Promise<ConsumedRecord[]> {
    if (this.closed || signal.aborted) return [];
    const deadline = Date.now() + maxWaitMs;
    if (!this.joined) {
      try {
        if (!(await this.raceDeadline(this.ensureJoined(), deadline, signal))) return [];
      } catch (e) {
        if (!isRetriable(e)) throw new FatalError(`Could not join consumer group ${this.options.groupId}: ${message(e)}`, { cause: e });
        this.warn('join', { err: message(e) }, 'could not join consumer group; retrying');
        await this.raceDeadline(sleep(Math.min(ERROR_BACKOFF_MS, maxWaitMs)), deadline, signal);
        return [];
      }
    }
    this.startBackground();
    for (;;) {
      await this.applyChange();
      const out = this.drain(maxRecords);
      if (out.length > 0 || this.closed || signal.aborted) return out;
      if (this.changePending) continue;
      const wait = deadline - Date.now();
      if (wait <= 0) return out;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          const i = this.dataWaiters.indexOf(done);
          if (i >= 0) this.dataWaiters.splice(i, 1);
          resolve();
        };
        const timer = setTimeout(done, wait);
        signal.addEventListener('abort', done, { once: true });
        this.dataWaiters.push(done);
      });
    }
  }

  async commit(offsets: SinkOffsets): Promise<void> {
    const list: Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }> = [];
    for (const [key, o] of offsets) {
      if (!this.owned.has(key) || this.lost.has(key)) {
        this.logger.debug({ partition: key }, 'not committing an offset for a partition this member does not own');
        continue;
      }
      list.push({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 });
    }
    if (list.length === 0) return;
    this.inflightCommits.add(list);
    try {
      await this.client.commit({ offsets: list });
    } catch (e) {
      // A failed commit is safe to repeat: at worst records are delivered again.
      throw new RetriableError(`Committing offsets of consumer group ${this.options.groupId} failed: ${message(e)}`, { cause: e });
    } finally {
      this.inflightCommits.delete(list);
    }
  }

  assignment(): TopicPartition[] {
    return [...this.owned.values()].map((s) => ({ ...s.tp }));
  }

  pause(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.add(topicPartitionKey(tp));
  }

  resume(partitions: TopicPartition[]): void {
    for (const tp of partitions) this.paused.delete(topicPartitionKey(tp));
    this.wakeFetch();
    this.wakeData();
  }

  seek(offsets: SinkOffsets): void {
    for (const [key, o] of offsets) {
      const s = this.owned.get(key);
      if (!s) continue;
      this.clearBuffer(s);
      s.position = o.offset;
      s.fetchOffset = o.offset;
      s.needsReset = false;
      s.epoch++;
    }
    this.wakeFetch();
  }

  async lag(): Promise<Map<string, number>> {
    const tps = [...this.owned.values()].filter((s) => !s.revoking).map((s) => s.tp);
    const out = new Map<string, number>();
    if (tps.length === 0) return out;
    const [ends, committed] = await Promise.all([this.listOffsets(tps, ListOffsetTimestamps.LATEST), this.committedOffsets(tps)]);
    const missing = tps.filter((tp) => committed.get(topicPartitionKey(tp)) === undefined);
    const earliest = missing.length > 0 ? await this.listOffsets(missing, ListOffsetTimestamps.EARLIEST) : new Map<string, number>();
    for (const tp of tps) {
      const key = topicPartitionKey(tp);
      const end = ends.get(key);
      const from = committed.get(key) ?? earliest.get(key);
      if (end !== undefined && from !== undefined) out.set(key, Math.max(0, end - from));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.wakeFetch();
    this.wakeData();
    await this.fetchPool.close().catch(() => undefined);
    try {
      // Leaves the group (LeaveGroup), so the rest of the group rebalances at once.
      await this.client.close(true);
    } catch (e) {
      this.logger.warn({ err: message(e) }, 'closing the consumer failed');
    }
    await this.fetchLoop;
    this.onClose();
  }

  // ---- membership -------------------------------------------------------------------------------

  /** What this member still holds: the runner's partitions (until onAssign released them) and its latest assignment. */
  private reportedOwned(): TopicPartition[] {
    const keys = new Map<string, TopicPartition>();
    for (const [k, s] of this.owned) if (!this.lost.has(k)) keys.set(k, s.tp);
    for (const [k, tp] of this.groupAssignment) keys.set(k, tp);
    return [...keys.values()];
  }

  private ensureJoined(): Promise<void> {
    if (this.joined) return Promise.resolve();
    this.joining ??= (async () => {
      if (!this.subscriptionLoaded) await this.refreshSubscription(false);
      await this.client.joinGroup({});
      this.joined = true;
    })().finally(() => {
      this.joining = null;
    });
    return this.joining;
  }

  private onJoin(e: ConsumerGroupJoinPayload): void {
    if (this.closed) return;
    const next = new Map<string, TopicPartition>();
    for (const a of e.assignments ?? []) {
      for (const partition of a.partitions) next.set(topicPartitionKey({ topic: a.topic, partition }), { topic: a.topic, partition });
    }
    if (this.lastMemberId !== null && e.memberId !== this.lastMemberId) {
      // Fenced and rejoined as a new member: partitions held before may already be someone else's.
      for (const key of this.owned.keys()) if (!next.has(key)) this.lost.add(key);
      // The client retries a commit that failed for an unknown member after rejoining, with the same
      // offsets list: take the lost partitions out of it, so a zombie does not overwrite their new owner's progress.
      for (const list of this.inflightCommits) {
        for (let i = list.length - 1; i >= 0; i--) if (this.lost.has(topicPartitionKey(list[i]))) list.splice(i, 1);
      }
      this.logger.warn({ memberId: e.memberId, previous: this.lastMemberId }, 'rejoined the consumer group as a new member');
    }
    this.lastMemberId = e.memberId;
    for (const key of this.reportedOwned().map(topicPartitionKey)) if (!next.has(key)) this.releasePending = true;
    this.groupAssignment = next;
    this.changePending = true;
    this.logger.debug({ generation: e.generationId, leader: e.isLeader, assigned: [...next.keys()] }, 'consumer group assignment');
    this.wakeData();
    this.wakeFetch();
    // Not from inside the client's join callback: a join started there would be merged into the finishing one.
    setImmediate(() => this.maybeRejoin());
  }

  /** Rejoin once every partition the leader withheld from this member has been released, so it can move on. */
  private maybeRejoin(): void {
    if (!this.releasePending || this.closed) return;
    for (const key of this.owned.keys()) if (!this.groupAssignment.has(key) && !this.lost.has(key)) return;
    this.releasePending = false;
    this.rejoin('released partitions');
  }

  private rejoin(reason: string): void {
    if (this.closed) return;
    this.logger.debug({ reason }, 'rejoining the consumer group');
    this.client.joinGroup({}).catch((e: unknown) => {
      this.joined = false;
      if (!this.closed) this.warn('join', { err: message(e) }, 'consumer group rejoin failed; retrying on next poll');
    });
  }

  /** Tell the runner what changed since the last assignment it saw (see the module comment). */
  private async applyChange(): Promise<void> {
    while (this.changePending && !this.closed) {
      this.changePending = false;
      const revoked = [...this.owned.values()].filter((s) => !this.groupAssignment.has(s.key));
      const assigned = [...this.groupAssignment.entries()].filter(([k]) => !this.owned.has(k)).map(([, tp]) => tp);
      let positions = new Map<string, number>();
      if (assigned.length > 0) {
        try {
          positions = await this.startingOffsets(assigned);
        } catch (e) {
          this.changePending = true;
          if (!isRetriable(e)) throw new FatalError(`Could not read committed offsets of ${this.options.groupId}: ${message(e)}`, { cause: e });
          this.warn('offsets', { err: message(e) }, 'could not read committed offsets; retrying');
          await sleep(ERROR_BACKOFF_MS);
          return;
        }
        if (this.changePending) continue;
      }
      for (const tp of assigned) {
        const key = topicPartitionKey(tp);
        const at = positions.get(key) ?? 0;
        this.owned.set(key, {
          tp, key, position: at, fetchOffset: at, records: [], head: 0, bytes: 0, epoch: 0, fetching: false, needsReset: false, revoking: false,
        });
      }
      for (const s of revoked) {
        s.revoking = true;
        this.clearBuffer(s);
      }
      try {
        if (this.options.onAssign && (assigned.length > 0 || revoked.length > 0)) {
          await this.options.onAssign(assigned, revoked.map((s) => ({ ...s.tp })));
        }
      } finally {
        for (const s of revoked) {
          this.owned.delete(s.key);
          this.lost.delete(s.key);
        }
        this.wakeFetch();
        this.maybeRejoin();
      }
    }
  }

  // ---- subscription -----------------------------------------------------------------------------

  private startBackground(): void {
    if (this.closed) return;
    this.fetchLoop ??= this.runFetchLoop();
    if (!this.refreshTimer) {
      this.refreshTimer = setInterval(() => {
        if (this.refreshing || this.closed) return;
        this.refreshing = true;
        this.refreshSubscription(true)
          .catch((e: unknown) => this.warn('metadata', { err: message(e) }, 'could not refresh the subscribed topics'))
          .finally(() => {
            this.refreshing = false;
          });
      }, this.settings.metadataRefreshMs);
      this.refreshTimer.unref();
    }
  }

  /** Resolve the subscription to existing topics and their partition counts; rejoin when it changed. */
  private async refreshSubscription(rejoin: boolean): Promise<void> {
    const { topics = [], topicsRegex } = this.options;
    let wanted = topics;
    if (topicsRegex || topics.some((t) => !this.subscription.has(t))) {
      const all = new Set(await this.admin.listTopics());
      wanted = [...all].filter((t) => topics.includes(t) || (topicsRegex !== undefined && fullMatch(topicsRegex, t))).sort();
    }
    const counts = new Map<string, number>();
    if (wanted.length > 0) {
      let md;
      try {
        md = await this.client.metadata({ topics: wanted, forceUpdate: true });
      } catch (e) {
        // A subscribed topic may have been deleted; keep the ones that still exist.
        const all = new Set(await this.admin.listTopics());
        if (wanted.every((t) => all.has(t))) throw e;
        wanted = wanted.filter((t) => all.has(t));
        md = await this.client.metadata({ topics: wanted, forceUpdate: true });
      }
      for (const t of wanted) {
        const m = md.topics.get(t);
        if (m) counts.set(t, m.partitionsCount);
      }
    }
    this.subscriptionLoaded = true;
    const same = counts.size === this.subscription.size && [...counts].every(([t, n]) => this.subscription.get(t) === n);
    if (same) return;
    for (const t of this.subscription.keys()) if (!counts.has(t)) this.client.topics.untrack(t);
    for (const t of counts.keys()) if (!this.subscription.has(t)) this.client.topics.track(t);
    this.subscription.clear();
    for (const [t, n] of counts) this.subscription.set(t, n);
    this.logger.debug({ topics: Object.fromEntries(counts) }, 'subscription changed');
    if (rejoin) this.rejoin('subscription changed');
  }

  // ---- fetching ---------------------------------------------------------------------------------

  private fetchable(s: PartitionState): boolean {
    return !s.revoking && !s.fetching && this.groupAssignment.has(s.key) && !this.lost.has(s.key) && !this.paused.has(s.key);
  }

  private async runFetchLoop(): Promise<void> {
    while (!this.closed) {
      const ready = this.bufferedBytes < this.settings.maxBufferedBytes ? [...this.owned.values()].filter((s) => this.fetchable(s)) : [];
      if (ready.length === 0) {
        await new Promise<void>((resolve) => {
          this.fetchWaiter = resolve;
        });
        continue;
      }
      try {
        const resets = ready.filter((s) => s.needsReset);
        if (resets.length > 0) await this.resetOffsets(resets);
        else await this.fetchOnce(ready);
      } catch (e) {
        if (this.closed) break;
        this.warn('fetch', { err: message(e) }, 'fetch failed; retrying');
        this.client.clearMetadata();
        await sleep(ERROR_BACKOFF_MS);
      }
    }
  }

  private async fetchOnce(states: PartitionState[]): Promise<void> {
    if (states.length === 0) return;
    const topics = [...new Set(states.map((s) => s.tp.topic))];
    const md = await this.client.metadata({ topics });
    const idToTopic = new Map<string, string>();
    const byNode = new Map<number, Map<string, fetchV17.FetchRequestTopic>>();
    const requested = new Map<string, { epoch: number; offset: number }>();
    for (const s of states) {
      const t = md.topics.get(s.tp.topic);
      const leader = t?.partitions[s.tp.partition]?.leader;
      if (!t || leader === undefined || leader < 0) continue;
      idToTopic.set(t.id, s.tp.topic);
      let topicsOfNode = byNode.get(leader);
      if (!topicsOfNode) byNode.set(leader, (topicsOfNode = new Map()));
      let req = topicsOfNode.get(t.id);
      if (!req) topicsOfNode.set(t.id, (req = { topicId: t.id, partitions: [] }));
      req.partitions.push({
        partition: s.tp.partition,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(s.fetchOffset),
        lastFetchedEpoch: -1,
        partitionMaxBytes: this.settings.partitionMaxBytes,
      });
      requested.set(s.key, { epoch: s.epoch, offset: s.fetchOffset });
      s.fetching = true;
    }
    if (byNode.size === 0) {
      this.client.clearMetadata();
      await sleep(ERROR_BACKOFF_MS);
      return;
    }
    try {
      await Promise.all([...byNode].map(([node, reqs]) => this.fetchFrom(node, [...reqs.values()], idToTopic, requested)));
    } finally {
      for (const s of states) s.fetching = false;
    }
  }

  private async fetchFrom(
    node: number,
    topics: fetchV17.FetchRequestTopic[],
    idToTopic: Map<string, string>,
    requested: Map<string, { epoch: number; offset: number }>,
  ): Promise<void> {
    let response: FetchResponse | undefined;
    let failed = false;
    try {
      response = await this.client.fetch({
        node,
        topics,
        maxWaitTime: this.settings.fetchMaxWaitMs,
        minBytes: 1,
        maxBytes: this.settings.fetchMaxBytes,
        isolationLevel: this.isolation(),
        connectionPool: this.fetchPool,
      });
    } catch (e) {
      if (this.closed) return;
      // Partition-level errors fail the whole call; the partitions that did answer are in the response.
      response = errorResponse<FetchResponse>(e, (r) => Array.isArray(r?.responses));
      if (!response) throw e;
      failed = true;
    }
    let got = false;
    let stale = false;
    for (const topicResponse of response.responses) {
      const topic = idToTopic.get(topicResponse.topicId);
      if (topic === undefined) continue;
      for (const p of topicResponse.partitions) {
        const key = topicPartitionKey({ topic, partition: p.partitionIndex });
        const s = this.owned.get(key);
        const asked = requested.get(key);
        if (!s || !asked || s.epoch !== asked.epoch || s.fetchOffset !== asked.offset || s.revoking) continue;
        if (p.errorCode === OFFSET_OUT_OF_RANGE) {
          this.logger.debug({ partition: key, offset: asked.offset, node, logStart: p.logStartOffset, end: p.highWatermark }, 'fetch offset out of range');
          s.needsReset = true;
          continue;
        }
        if (p.errorCode !== 0) {
          stale = true;
          continue;
        }
        if (p.records && p.records.length > 0 && this.append(s, p.records)) got = true;
      }
    }
    if (got) this.wakeData();
    if (stale || failed) {
      this.client.clearMetadata();
      if (stale) await sleep(ERROR_BACKOFF_MS);
    }
  }

  /** Buffer the records of these batches at or after the partition's fetch offset. */
  private append(s: PartitionState, batches: RecordsBatch[]): boolean {
    const { topic, partition } = s.tp;
    let added = false;
    for (const batch of batches) {
      const base = Number(batch.firstOffset);
      const next = base + batch.lastOffsetDelta + 1;
      if ((batch.attributes & IS_CONTROL) === 0) {
        const logAppend = (batch.attributes & TIMESTAMP_LOG_APPEND_TIME) !== 0;
        for (const r of batch.records) {
          const offset = base + r.offsetDelta;
          if (offset < s.fetchOffset) continue;
          const record: ConsumedRecord = {
            topic,
            kafkaPartition: partition,
            kafkaOffset: offset,
            key: undefined,
            value: undefined,
            keyBytes: r.key,
            valueBytes: r.value,
            timestamp: Number(logAppend ? batch.maxTimestamp : batch.firstTimestamp + r.timestampDelta),
          };
          if (r.headers.length > 0) record.headers = decodeHeaders(r.headers);
          s.records.push(record);
          const bytes = (r.key?.length ?? 0) + (r.value?.length ?? 0) + RECORD_OVERHEAD;
          s.bytes += bytes;
          this.bufferedBytes += bytes;
          added = true;
        }
      }
      if (next > s.fetchOffset) s.fetchOffset = next;
    }
    return added;
  }

  private async resetOffsets(states: PartitionState[]): Promise<void> {
    const epochs = new Map(states.map((s) => [s.key, s.epoch]));
    const earliest = await this.listOffsets(states.map((s) => s.tp), ListOffsetTimestamps.EARLIEST);
    if (states.some((s) => !earliest.has(s.key))) await sleep(ERROR_BACKOFF_MS);
    for (const s of states) {
      const at = earliest.get(s.key);
      if (at === undefined || s.epoch !== epochs.get(s.key)) continue;
      this.logger.warn({ partition: s.key, from: s.fetchOffset, to: at }, 'offset out of range; resetting to the earliest offset');
      this.clearBuffer(s);
      s.position = at;
      s.fetchOffset = at;
      s.needsReset = false;
      s.epoch++;
    }
  }

  /** Up to `max` buffered records, taking partitions in turn. */
  private drain(max: number): ConsumedRecord[] {
    const out: ConsumedRecord[] = [];
    const states = [...this.owned.values()];
    const n = states.length;
    if (n === 0) return out;
    this.cursor = (this.cursor + 1) % n;
    for (let i = 0; i < n && out.length < max; i++) {
      const s = states[(this.cursor + i) % n];
      if (s.revoking || this.lost.has(s.key) || this.paused.has(s.key) || !this.groupAssignment.has(s.key)) continue;
      while (s.head < s.records.length && out.length < max) {
        const r = s.records[s.head++];
        const bytes = (r.keyBytes?.length ?? 0) + (r.valueBytes?.length ?? 0) + RECORD_OVERHEAD;
        s.bytes -= bytes;
        this.bufferedBytes -= bytes;
        if (r.kafkaOffset < s.position) continue;
        out.push(r);
        s.position = r.kafkaOffset + 1;
      }
      if (s.head === s.records.length) {
        s.records = [];
        s.head = 0;
      }
    }
    if (out.length > 0) this.wakeFetch();
    return out;
  }

  private clearBuffer(s: PartitionState): void {
    this.bufferedBytes -= s.bytes;
    s.bytes = 0;
    s.records = [];
    s.head = 0;
  }

  // ---- offsets ----------------------------------------------------------------------------------

  /** Where newly assigned partitions start: the group's committed offset, else the earliest offset. */
  private async startingOffsets(tps: TopicPartition[]): Promise<Map<string, number>> {
    const committed = await this.committedOffsets(tps);
    const missing = tps.filter((tp) => !committed.has(topicPartitionKey(tp)));
    if (missing.length > 0) {
      for (const [k, v] of await this.listOffsets(missing, ListOffsetTimestamps.EARLIEST)) committed.set(k, v);
    }
    return committed;
  }

  private async committedOffsets(tps: TopicPartition[]): Promise<Map<string, number>> {
    const byTopic = groupByTopic(tps);
    const res = await this.client.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
    const out = new Map<string, number>();
    for (const [topic, partitions] of byTopic) {
      const offsets = res.get(topic) ?? [];
      for (const partition of partitions) {
        const o = offsets[partition];
        if (o !== undefined && o >= 0n) out.set(topicPartitionKey({ topic, partition }), Number(o));
      }
    }
    return out;
  }

  private async listOffsets(tps: TopicPartition[], timestamp: bigint): Promise<Map<string, number>> {
    const byTopic = groupByTopic(tps);
    const res = await this.client.listOffsets({
      topics: [...byTopic.keys()],
      partitions: Object.fromEntries(byTopic),
      timestamp,
      isolationLevel: this.isolation(),
    });
    const out = new Map<string, number>();
    for (const [topic, partitions] of byTopic) {
      const offsets = res.get(topic) ?? [];
      for (const partition of partitions) {
        const o = offsets[partition];
        if (o !== undefined && o >= 0n) out.set(topicPartitionKey({ topic, partition }), Number(o));
      }
    }
    return out;
  }

  // ---- small helpers ----------------------------------------------------------------------------

  private isolation(): number {
    return this.settings.isolationLevel === 'read_committed' ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED;
  }

  private wakeData(): void {
    for (const w of this.dataWaiters.splice(0)) w();
  }

  private wakeFetch(): void {
    const w = this.fetchWaiter;
    this.fetchWaiter = null;
    w?.();
  }

  /** Resolves true when `p` settles before the deadline or the abort, false otherwise. */
  private async raceDeadline(p: Promise<unknown>, deadline: number, signal: AbortSignal): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([p.then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Warn at most every 30 s per kind, so a broker outage does not flood the log. */
  private warn(kind: string, fields: Record<string, unknown>, text: string): void {
    const now = Date.now();
    if (now - (this.warnedAt.get(kind) ?? 0) < 30_000) {
      this.logger.debug({ ...fields, group: this.options.groupId }, text);
      return;
    }
    this.warnedAt.set(kind, now);
    this.logger.warn({ ...fields, group: this.options.groupId }, text);
  }
}

function groupByTopic(tps: TopicPartition[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const tp of tps) {
    let ps = out.get(tp.topic);
    if (!ps) out.set(tp.topic, (ps = []));
    ps.push(tp.partition);
  }
  return out;
}

export function fullMatch(re: RegExp, s: string): boolean {
  const m = new RegExp(re.source, re.flags.replace(/[gy]/g, '')).exec(s);
  return m !== null && m.index === 0 && m[0].length === s.length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
