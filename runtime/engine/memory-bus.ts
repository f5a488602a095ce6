/**
 * In-process topics for standalone mode without Kafka.
 *
 * Each topic partition is a bounded in-memory log. A record stays until every consumer group
 * subscribed to its topic has committed past it; only then is it "durable" for its producer (so a
 * source offset is committed only after every sink flushed the record) and trimmed. Producers
 * wait while a partition holds `capacity` records (backpressure). With no subscribed group,
 * records are kept (and producers eventually wait) rather than dropped: nothing is lost when a
 * sink starts after its source.
 *
 * Records pass as objects, not bytes: converters would be a round trip to the same value.
 * Committed group offsets are persisted through `GroupOffsetPersistence` (the standalone offset
 * store), and a partition's offsets continue from the highest committed offset after a restart, so
 * offsets keep growing and sinks that name files by offset never reuse a name.
 *
 * Backpressure counts what is held, not only what is unread: a sink's records stay on the topic
 * until it commits, and a small bound keeps them young (records that outlive V8's young
 * generation are copied and promoted, which cost a fast pipeline a third of its CPU at 8,192).
 * But a sink that holds records back until a batch is complete (an S3 object of `flush.size`
 * records) commits nothing until it has read that many: once every subscribed group has read
 * all but half the capacity, producers may go on, and the topic then holds what that sink holds.
 */
import type { SinkOffsets, TopicPartition } from '../api/index.ts';
import { topicPartitionKey } from '../api/index.ts';
import type { BusConsumer, BusProducer, BusRecord, ConsumedRecord, ConsumerOptions, SendResult, TopicBus } from './topic-bus.ts';

export interface GroupOffsetPersistence {
  load(): Promise<Map<string, SinkOffsets>>;
  save(groupId: string, offsets: SinkOffsets): Promise<void>;
  remove(groupId: string): Promise<void>;
}

interface DurableWaiter {
  offset: number;
  resolve(): void;
}

class MemoryPartition {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  /** Offset of the oldest record held (the ring's head). */
  base: number;
  /**
   * The records held, in a ring whose size is a power of two: appending and trimming never copy
   * or reallocate it (but for doubling when full). A queue kept as a growing array that is now
   * and then sliced leaves dead copies behind; once old enough to be promoted, a dead copy's
   * slots still point at the young records and the scavenger treats them as roots, so records
   * long consumed survive and get promoted until the next full GC.
   */
  private ring: Array<ConsumedRecord | undefined> = new Array(1024).fill(undefined);
  private mask = 1023;
  /** Ring index of the record at `base`. */
  private head = 0;
  private count = 0;
  durableWaiters: DurableWaiter[] = [];
  roomWaiters: Array<() => void> = [];
  readWaiters: Array<() => void> = [];

  constructor(topic: string, partition: number, startOffset: number) {
    this.topic = topic;
    this.partition = partition;
    this.key = topicPartitionKey({ topic, partition });
    this.base = startOffset;
  }

  get end(): number {
    return this.base + this.count;
  }

  append(record: BusRecord): number {
    const offset = this.end;
    if (this.count === this.ring.length) this.grow();
    // Stored in the exact shape of a SinkRecord (one hidden class, no source fields), so sink
    // runners hand it to put() as it is: one object per record, shared read-only by every group.
    this.ring[(this.head + this.count) & this.mask] = {
      topic: this.topic,
      kafkaPartition: this.partition,
      kafkaOffset: offset,
      key: record.key,
      keySchema: record.keySchema,
      value: record.value,
      valueSchema: record.valueSchema,
      timestamp: record.timestamp,
      headers: record.headers,
      originalTopic: this.topic,
      originalKafkaPartition: this.partition,
      originalKafkaOffset: offset,
    } as ConsumedRecord;
    this.count++;
    return offset;
  }

  read(from: number, max: number, out: ConsumedRecord[]): number {
    const start = Math.max(from, this.base);
    const n = Math.max(0, Math.min(max, this.end - start));
    const first = this.head + (start - this.base);
    for (let k = 0; k < n; k++) out.push(this.ring[(first + k) & this.mask]!);
    return n;
  }

  trimTo(floor: number): void {
    if (floor <= this.base) return;
    const n = Math.min(floor, this.end) - this.base;
    // Drop the references now: records kept reachable survive every scavenge, and copying them
    // was most of the pipeline's GC time.
    for (let k = 0; k < n; k++) this.ring[(this.head + k) & this.mask] = undefined;
    this.head = (this.head + n) & this.mask;
    this.count -= n;
    this.base += n;
  }

  private grow(): void {
    const next: Array<ConsumedRecord | undefined> = new Array(this.ring.length * 2).fill(undefined);
    for (let k = 0; k < this.count; k++) next[k] = this.ring[(this.head + k) & this.mask];
    // The old ring is garbage now; empty it so that, if it was promoted, its slots keep no young record alive.
    this.ring.fill(undefined);
    this.ring = next;
    this.mask = next.length - 1;
    this.head = 0;
  }

  wake(list: Array<() => void>): void {
    const ws = list.splice(0);
    for (const w of ws) w();
  }
}

class MemoryGroup {
  readonly id: string;
  readonly committed = new Map<string, number>();
  readonly members = new Map<string, MemoryConsumer>();

  constructor(id: string) {
    this.id = id;
  }

  matches(topic: string): boolean {
    for (const m of this.members.values()) if (m.subscribes(topic)) return true;
    return this.retainedTopics.has(topic) || [...this.retainedRegexes].some((r) => fullMatch(r, topic));
  }

  /** Subscriptions outlive members (a paused or stopped sink still holds its data) until the group is deleted. */
  readonly retainedTopics = new Set<string>();
  readonly retainedRegexes = new Set<RegExp>();
}

function fullMatch(re: RegExp, s: string): boolean {
  const m = re.exec(s);
  return m !== null && m.index === 0 && m[0].length === s.length;
}

function hashKey(key: unknown): number {
  const s = typeof key === 'string' ? key : Buffer.isBuffer(key) ? key.toString('latin1') : JSON.stringify(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class MemoryBus implements TopicBus {
  readonly kind = 'memory' as const;
  readonly needsBytes = false;
  private readonly partitionsPerTopic: number;
  private readonly capacity: number;
  private readonly persistence: GroupOffsetPersistence | undefined;
  private readonly topics = new Map<string, MemoryPartition[]>();
  private readonly groups = new Map<string, MemoryGroup>();
  private startOffsets = new Map<string, number>();
  private roundRobin = 0;

  constructor(options: { partitionsPerTopic?: number; capacity?: number; persistence?: GroupOffsetPersistence } = {}) {
    this.partitionsPerTopic = options.partitionsPerTopic ?? 1;
    this.capacity = options.capacity ?? 2048;
    this.persistence = options.persistence;
  }

  /** Restore committed group offsets; call before producers and consumers are created. */
  async start(): Promise<void> {
    if (!this.persistence) return;
    for (const [groupId, offsets] of await this.persistence.load()) {
      const g = this.group(groupId);
      for (const [k, v] of offsets) {
        g.committed.set(k, v.offset);
        g.retainedTopics.add(v.topic);
        this.startOffsets.set(k, Math.max(this.startOffsets.get(k) ?? 0, v.offset));
      }
    }
  }

  private group(id: string): MemoryGroup {
    let g = this.groups.get(id);
    if (!g) {
      g = new MemoryGroup(id);
      this.groups.set(id, g);
    }
    return g;
  }

  partitionsOf(topic: string): MemoryPartition[] {
    let ps = this.topics.get(topic);
    if (!ps) {
      ps = [];
      for (let p = 0; p < this.partitionsPerTopic; p++) {
        const key = topicPartitionKey({ topic, partition: p });
        ps.push(new MemoryPartition(topic, p, this.startOffsets.get(key) ?? 0));
      }
      this.topics.set(topic, ps);
      for (const g of this.groups.values()) if (g.matches(topic)) this.rebalance(g);
    }
    return ps;
  }

  /** Lowest offset some subscribed group still needs; records below it are durable and trimmed. */
  private floor(part: MemoryPartition): number {
    let floor = Infinity;
    for (const g of this.groups.values()) {
      if (!g.matches(part.topic)) continue;
      floor = Math.min(floor, g.committed.get(part.key) ?? part.base);
    }
    return floor === Infinity ? part.base : floor;
  }

  private settle(part: MemoryPartition): void {
    const floor = this.floor(part);
    part.trimTo(floor);
    let n = 0;
    while (n < part.durableWaiters.length && part.durableWaiters[n].offset < floor) n++;
    if (n > 0) for (const w of part.durableWaiters.splice(0, n)) w.resolve();
    if (part.end - part.base < this.capacity) part.wake(part.roomWaiters);
  }

  /** Whether producers must wait for room in `part` (see the header). */
  private full(part: MemoryPartition): boolean {
    if (part.end - part.base < this.capacity) return false;
    return part.end - this.readFloor(part) >= Math.max(1, this.capacity >> 1);
  }

  /** Lowest read position of the subscribed groups (a group without a reader of `part`: its committed offset). */
  private readFloor(part: MemoryPartition): number {
    let floor = Infinity;
    for (const g of this.groups.values()) {
      if (!g.matches(part.topic)) continue;
      let pos: number | undefined;
      for (const m of g.members.values()) if ((pos = m.positionOf(part.key)) !== undefined) break;
      floor = Math.min(floor, pos ?? g.committed.get(part.key) ?? part.base);
    }
    return floor === Infinity ? part.base : Math.max(floor, part.base);
  }

  choosePartition(record: BusRecord, count: number): number {
    if (record.kafkaPartition !== undefined) {
      if (record.kafkaPartition < 0 || record.kafkaPartition >= count) {
        throw new RangeError(`Partition ${record.kafkaPartition} does not exist for topic ${record.topic} (it has ${count}).`);
      }
      return record.kafkaPartition;
    }
    if (count === 1) return 0;
    if (record.key === undefined || record.key === null) return this.roundRobin++ % count;
    return hashKey(record.key) % count;
  }

  producer(_clientId: string): BusProducer {
    return {
      send: (records, signal) => this.send(records, signal),
      close: async () => {},
    };
  }

  private async send(records: BusRecord[], signal?: AbortSignal): Promise<SendResult> {
    const last = new Map<MemoryPartition, number>();
    for (const r of records) {
      const parts = this.partitionsOf(r.topic);
      const part = parts[this.choosePartition(r, parts.length)];
      while (this.full(part)) {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        await new Promise<void>((resolve) => {
          // Remove the abort listener once woken: producers wait here thousands of times with
          // the same task signal, and listeners left behind would pile up on it.
          const done = () => {
            signal?.removeEventListener('abort', done);
            resolve();
          };
          part.roomWaiters.push(done);
          signal?.addEventListener('abort', done, { once: true });
        });
      }
      last.set(part, part.append(r));
    }
    const waits: Promise<void>[] = [];
    for (const [part, offset] of last) {
      part.wake(part.readWaiters);
      if (offset < this.floor(part)) continue;
      waits.push(new Promise<void>((resolve) => part.durableWaiters.push({ offset, resolve })));
    }
    return { durable: waits.length === 0 ? Promise.resolve() : Promise.all(waits).then(() => undefined) };
  }

  consumer(options: ConsumerOptions): BusConsumer {
    const g = this.group(options.groupId);
    for (const t of options.topics ?? []) g.retainedTopics.add(t);
    if (options.topicsRegex) g.retainedRegexes.add(options.topicsRegex);
    const c = new MemoryConsumer(this, g, options);
    g.members.set(options.memberId, c);
    for (const t of options.topics ?? []) this.partitionsOf(t);
    this.rebalance(g);
    return c;
  }

  /** Spread the partitions of subscribed topics over the group's members, round-robin by member id. */
  rebalance(g: MemoryGroup): void {
    const members = [...g.members.keys()].sort();
    const parts: MemoryPartition[] = [];
    for (const [topic, ps] of this.topics) if (g.matches(topic)) parts.push(...ps);
    parts.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    const plan = new Map<string, MemoryPartition[]>(members.map((m) => [m, []]));
    parts.forEach((p, i) => plan.get(members[i % members.length])?.push(p));
    for (const [m, ps] of plan) g.members.get(m)?.reassign(ps);
    for (const p of parts) this.settle(p);
  }

  leave(g: MemoryGroup, memberId: string): void {
    g.members.delete(memberId);
    this.rebalance(g);
  }

  async commit(g: MemoryGroup, offsets: SinkOffsets): Promise<void> {
    for (const [k, v] of offsets) g.committed.set(k, v.offset);
    if (this.persistence) await this.persistence.save(g.id, this.groupSnapshot(g));
    for (const v of offsets.values()) {
      const part = this.topics.get(v.topic)?.[v.partition];
      if (part) this.settle(part);
    }
  }

  private groupSnapshot(g: MemoryGroup): SinkOffsets {
    const out: SinkOffsets = new Map();
    for (const [k, offset] of g.committed) {
      const i = k.lastIndexOf('-');
      out.set(k, { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset });
    }
    return out;
  }

  committedOffset(g: MemoryGroup, part: MemoryPartition): number {
    return g.committed.get(part.key) ?? part.base;
  }

  async groupOffsets(groupId: string): Promise<SinkOffsets> {
    const g = this.groups.get(groupId);
    return g ? this.groupSnapshot(g) : new Map();
  }

  async alterGroupOffsets(groupId: string, offsets: Array<{ topic: string; partition: number; offset: number | null }>): Promise<void> {
    const g = this.group(groupId);
    if (g.members.size > 0) throw new Error(`Consumer group ${groupId} has active members; stop the connector first.`);
    for (const o of offsets) {
      const key = topicPartitionKey(o);
      if (o.offset === null) g.committed.delete(key);
      else g.committed.set(key, o.offset);
    }
    if (this.persistence) await this.persistence.save(g.id, this.groupSnapshot(g));
  }

  async deleteGroup(groupId: string): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return;
    if (g.members.size > 0) throw new Error(`Consumer group ${groupId} has active members.`);
    this.groups.delete(groupId);
    if (this.persistence) await this.persistence.remove(groupId);
    for (const ps of this.topics.values()) for (const p of ps) this.settle(p);
  }

  async close(): Promise<void> {
    for (const ps of this.topics.values()) for (const p of ps) {
      p.wake(p.roomWaiters);
      p.wake(p.readWaiters);
    }
  }
}

class MemoryConsumer implements BusConsumer {
  private readonly bus: MemoryBus;
  private readonly group: MemoryGroup;
  private readonly options: ConsumerOptions;
  private assigned: MemoryPartition[] = [];
  private readonly positions = new Map<string, number>();
  private readonly paused = new Set<string>();
  private pendingChange: { assigned: TopicPartition[]; revoked: TopicPartition[] } | null = null;
  private closed = false;
  private cursor = 0;

  constructor(bus: MemoryBus, group: MemoryGroup, options: ConsumerOptions) {
    this.bus = bus;
    this.group = group;
    this.options = options;
  }

  /** Where this member reads `key` next, if the partition is assigned to it. */
  positionOf(key: string): number | undefined {
    return this.positions.get(key);
  }

  subscribes(topic: string): boolean {
    if (this.options.topics?.includes(topic)) return true;
    return this.options.topicsRegex !== undefined && fullMatch(this.options.topicsRegex, topic);
  }

  reassign(parts: MemoryPartition[]): void {
    const before = new Set(this.assigned.map((p) => p.key));
    const after = new Set(parts.map((p) => p.key));
    const assigned = parts.filter((p) => !before.has(p.key));
    const revoked = this.assigned.filter((p) => !after.has(p.key));
    if (assigned.length === 0 && revoked.length === 0) return;
    this.assigned = parts;
    for (const p of revoked) this.positions.delete(p.key);
    for (const p of assigned) this.positions.set(p.key, this.bus.committedOffset(this.group, p));
    const prev = this.pendingChange ?? { assigned: [], revoked: [] };
    this.pendingChange = {
      assigned: [...prev.assigned, ...assigned.map((p) => ({ topic: p.topic, partition: p.partition }))],
      revoked: [...prev.revoked, ...revoked.map((p) => ({ topic: p.topic, partition: p.partition }))],
    };
    for (const p of parts) p.wake(p.readWaiters);
  }

  async poll(maxRecords: number, maxWaitMs: number, signal: AbortSignal): Promise<ConsumedRecord[]> {
    if (this.pendingChange && this.options.onAssign) {
      const change = this.pendingChange;
      this.pendingChange = null;
      await this.options.onAssign(change.assigned, change.revoked);
    }
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const out: ConsumedRecord[] = [];
      const n = this.assigned.length;
      for (let i = 0; i < n && out.length < maxRecords; i++) {
        const part = this.assigned[(this.cursor + i) % n];
        if (this.paused.has(part.key)) continue;
        const pos = this.positions.get(part.key) ?? part.base;
        const got = part.read(pos, maxRecords - out.length, out);
        if (got > 0) {
          this.positions.set(part.key, Math.max(pos, part.base) + got);
          // A full partition may have room now (see MemoryBus.full).
          if (part.roomWaiters.length > 0) part.wake(part.roomWaiters);
        }
      }
      this.cursor++;
      if (out.length > 0 || this.closed || signal.aborted || this.pendingChange) return out;
      const wait = deadline - Date.now();
      if (wait <= 0) return out;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        const parts = this.assigned;
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
        for (const p of parts) p.readWaiters.push(done);
        if (parts.length === 0) this.waitForAssignment = done;
      });
    }
  }

  /** Wakes a poll that waits with nothing assigned, when an assignment arrives. */
  private waitForAssignment: (() => void) | null = null;

  async commit(offsets: SinkOffsets): Promise<void> {
    await this.bus.commit(this.group, offsets);
  }

  assignment(): TopicPartition[] {
    return this.assigned.map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  pause(partitions: TopicPartition[]): void {
    for (const p of partitions) this.paused.add(topicPartitionKey(p));
  }

  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) this.paused.delete(topicPartitionKey(p));
    for (const p of this.assigned) p.wake(p.readWaiters);
  }

  seek(offsets: SinkOffsets): void {
    for (const [k, v] of offsets) if (this.positions.has(k)) this.positions.set(k, v.offset);
  }

  async lag(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const p of this.assigned) out.set(p.key, p.end - this.bus.committedOffset(this.group, p));
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.bus.leave(this.group, this.options.memberId);
    for (const p of this.assigned) p.wake(p.readWaiters);
    this.waitForAssignment?.();
  }
}
