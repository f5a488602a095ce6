/**
 * One worker's membership in the worker group, through Kafka's group coordinator (the classic
 * protocol: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup) under our own protocol
 * type. @platformatic/kafka's Consumer only speaks the `consumer` protocol type, so this drives
 * the group APIs itself on a connection of its own to the coordinator.
 *
 * How a round goes: every member sends its metadata (worker id, REST URL, the config offset it
 * has read, the work it runs). The member the coordinator names leader asks `leaderState()` for
 * the work (it should read the config log to its end first), runs the assignor (assignor.ts) and
 * sends every member its assignment in SyncGroup. Each member then
 *   1. awaits `onRevoked(revoked, generation)` when something was revoked (stop that work), then
 *   2. awaits `onAssigned(assignment, generation, leaderUrl)` (start `assignment.assigned`; when
 *      `assignment.catchUp`, read the config log up to `assignment.configOffset` first; on
 *      `assignment.error === 'config-mismatch'` read the config log to its end: the member
 *      rejoins by itself after the callback).
 * A member that stopped revoked work rejoins at once, so the next round hands that work on.
 *
 * Concurrency: callbacks are awaited one at a time and never overlap a join; heartbeats go on
 * during them (every `heartbeatIntervalMs`), so slow callbacks do not cost the membership. A
 * rebalance announced by a heartbeat is joined once the running callback returned. A member the
 * coordinator no longer knows (its session expired) first gets `onRevoked` for everything it
 * owns, since that work may already run elsewhere, and joins afresh.
 *
 * `close()` leaves the group (LeaveGroup), so the others rebalance at once; it does not call the
 * callbacks (the owner stops its own work). `abandon()` drops the connections without leaving, as
 * a crashed process would: the others get the work after `sessionTimeoutMs`.
 */
import { Connection, findCoordinatorV6, heartbeatV4, joinGroupV9, leaveGroupV5, syncGroupV5 } from '@platformatic/kafka';
import type { Logger } from '../../api/index.ts';
import { hasProtocolError, message } from '../../engine/kafka/errors.ts';
import type { KafkaConnectionOptions } from '../../engine/kafka-bus.ts';
import { defaultLogger } from '../../store/logging.ts';
import type { ConnectorWork, MemberReport, WorkSet } from '../assignor.ts';
import { assign } from '../assignor.ts';
import type { Assignment, MemberMetadata } from './protocol.ts';
import { PROTOCOL_NAME, PROTOCOL_TYPE, decodeAssignment, decodeMetadata, encodeAssignment, encodeMetadata } from './protocol.ts';

export interface LeaderState {
  /** Offset of the config log `work` was read from. */
  configOffset: number;
  work: ConnectorWork[];
}

export interface GroupMemberOptions {
  bootstrapBrokers: string[];
  groupId: string;
  workerId: string;
  restUrl: string;
  connection?: KafkaConnectionOptions;
  /** Kafka Connect's defaults: 10000, 3000, 60000. */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  /** Pause between failed attempts to reach the coordinator. */
  retryBackoffMs?: number;
  /**
   * How long the leader holds back the work of a worker that left the group (it may be
   * restarting) before handing it to the others: Kafka Connect's scheduled.rebalance.max.delay.ms
   * (default 300000 there). 0 reassigns at once.
   */
  lostWorkDelayMs?: number;
  logger?: Logger;
  /** The config offset this worker has read, sent in every JoinGroup. */
  configOffset(): number;
  /** Called on the leader only: read the config log to its end and return the work. */
  leaderState(): Promise<LeaderState>;
  onAssigned(assignment: Assignment, generation: number, leaderUrl: string): void | Promise<void>;
  onRevoked(revoked: WorkSet, generation: number): void | Promise<void>;
}

interface Coordinator {
  connection: Connection;
  nodeId: number;
  host: string;
  port: number;
}

const COORDINATOR_ERRORS = ['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS'];

export class GroupMember {
  private readonly o: GroupMemberOptions;
  private readonly logger: Logger;
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly retryBackoffMs: number;
  private coordinator: Coordinator | null = null;
  private finding: Promise<Coordinator> | null = null;
  private memberId = '';
  private generation = -1;
  private owned: WorkSet = { connectors: [], tasks: [] };
  private current: Assignment | null = null;
  private needsJoin = true;
  private fenced = false;
  private closed = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeating = false;
  private wake: (() => void) | null = null;
  /** Leader only: what each worker runs after the last round it computed, by worker id. */
  private lastRound = new Map<string, WorkSet>();
  /** Leader only: work of workers that left, held back until `deadline` or their return. */
  private readonly lost = new Map<string, { work: WorkSet; deadline: number }>();
  private lostTimer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private readonly connections = new Set<Connection>();

  constructor(options: GroupMemberOptions) {
    this.o = options;
    this.logger = (options.logger ?? defaultLogger).child({ group: options.groupId, worker: options.workerId });
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 60_000;
    this.retryBackoffMs = options.retryBackoffMs ?? 500;
  }

  /** Join the group and keep the membership until close; returns at once. */
  start(): void {
    if (this.loop) throw new Error('the group member was already started');
    this.loop = this.run();
  }

  /** The latest assignment, or null before the first one. */
  assignment(): Assignment | null {
    return this.current;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  get id(): string {
    return this.memberId;
  }

  /** Ask for a rebalance (new connectors or task counts on the leader, a config change on a follower). */
  requestRejoin(): void {
    this.needsJoin = true;
    this.stopHeartbeats();
    this.wakeLoop();
  }

  /** Leave the group (the others rebalance at once) and release the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.stopHeartbeats();
    this.wakeLoop();
    const coordinator = this.coordinator;
    if (this.memberId && coordinator) {
      // On a connection of its own: the group connection may be held by a JoinGroup waiting for a rebalance.
      const connection = this.newConnection();
      try {
        await connection.connect(coordinator.host, coordinator.port);
        await leaveGroupV5.api.async(connection, this.o.groupId, [{ memberId: this.memberId, reason: 'worker shutting down' }]);
        this.logger.info({ memberId: this.memberId }, 'left the worker group');
      } catch (e) {
        this.logger.warn({ err: message(e) }, 'leaving the worker group failed; the others rebalance after the session timeout');
      }
    }
    await this.closeConnections();
    await this.loop?.catch(() => {});
  }

  /** Stop without leaving, as a crashed worker would (sockets destroyed, no LeaveGroup). */
  async abandon(): Promise<void> {
    this.closed = true;
    this.stopHeartbeats();
    for (const c of this.connections) c.socket?.destroy();
    this.wakeLoop();
    await this.loop?.catch(() => {});
    await this.closeConnections();
  }

  // ---- the loop ---------------------------------------------------------------------------------

  private async run(): Promise<void> {
    while (!this.closed) {
      if (!this.needsJoin) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      try {
        if (this.fenced) {
          this.fenced = false;
          await this.revokeAll();
        }
        this.needsJoin = false;
        const result = await this.joinAndSync();
        if (!result || this.closed) continue;
        this.startHeartbeats();
        await this.apply(result.assignment, result.generation);
      } catch (e) {
        if (this.closed) break;
        this.needsJoin = true;
        this.logger.warn({ err: message(e) }, 'joining the worker group failed; retrying');
        await sleep(this.retryBackoffMs);
      }
    }
  }

  private async apply(assignment: Assignment, generation: number): Promise<void> {
    const revoked = assignment.revoked;
    if (revoked.connectors.length > 0 || revoked.tasks.length > 0) {
      await this.o.onRevoked(revoked, generation);
      const goneC = new Set(revoked.connectors);
      const goneT = new Set(revoked.tasks.map((t) => `${t.connector}\0${t.task}`));
      this.owned = {
        connectors: this.owned.connectors.filter((c) => !goneC.has(c)),
        tasks: this.owned.tasks.filter((t) => !goneT.has(`${t.connector}\0${t.task}`)),
      };
      // Hand the revoked work on: the next round gives it to its new member.
      this.needsJoin = true;
    }
    if (assignment.error === null) this.owned = { connectors: [...assignment.connectors], tasks: assignment.tasks.map((t) => ({ ...t })) };
    this.current = assignment;
    await this.o.onAssigned(assignment, generation, assignment.leaderUrl);
    if (assignment.error !== null) this.needsJoin = true;
    if (this.needsJoin) this.stopHeartbeats();
  }

  private async revokeAll(): Promise<void> {
    const all = this.owned;
    this.owned = { connectors: [], tasks: [] };
    if (all.connectors.length > 0 || all.tasks.length > 0) {
      this.logger.warn({ connectors: all.connectors.length, tasks: all.tasks.length }, 'the worker group no longer knows this member; stopping its work before rejoining');
      await this.o.onRevoked(all, this.generation);
    }
  }

  // ---- JoinGroup and SyncGroup ------------------------------------------------------------------

  private metadata(): MemberMetadata {
    return { workerId: this.o.workerId, restUrl: this.o.restUrl, configOffset: this.o.configOffset(), owned: this.owned };
  }

  /** One round; undefined when it must be retried at once (a new rebalance began, a member id was handed out). */
  private async joinAndSync(): Promise<{ assignment: Assignment; generation: number } | undefined> {
    const { connection } = await this.getCoordinator();
    let joined: joinGroupV9.JoinGroupResponse;
    try {
      joined = await joinGroupV9.api.async(
        connection,
        this.o.groupId,
        this.sessionTimeoutMs,
        this.rebalanceTimeoutMs,
        this.memberId,
        null,
        PROTOCOL_TYPE,
        [{ name: PROTOCOL_NAME, metadata: encodeMetadata(this.metadata()) }],
        null,
      );
    } catch (e) {
      return this.handleGroupError(e, 'join');
    }
    this.memberId = joined.memberId ?? this.memberId;
    this.generation = joined.generationId;
    const isLeader = joined.leader === this.memberId;
    let assignments: syncGroupV5.SyncGroupRequestAssignment[] = [];
    if (isLeader) assignments = await this.computeAssignments(joined);
    let synced: syncGroupV5.SyncGroupResponse;
    try {
      synced = await syncGroupV5.api.async(connection, this.o.groupId, this.generation, this.memberId, null, PROTOCOL_TYPE, PROTOCOL_NAME, assignments);
    } catch (e) {
      return this.handleGroupError(e, 'sync');
    }
    const assignment = decodeAssignment(synced.assignment);
    if (!assignment) throw new Error(`the leader sent an assignment this worker cannot read (generation ${this.generation})`);
    this.logger.info(
      {
        generation: this.generation,
        leader: isLeader,
        connectors: assignment.connectors.length,
        tasks: assignment.tasks.length,
        revoked: assignment.revoked.connectors.length + assignment.revoked.tasks.length,
        error: assignment.error ?? undefined,
      },
      'joined the worker group',
    );
    return { assignment, generation: this.generation };
  }

  private async computeAssignments(joined: joinGroupV9.JoinGroupResponse): Promise<syncGroupV5.SyncGroupRequestAssignment[]> {
    const members = joined.members.map((m) => ({ memberId: m.memberId, meta: decodeMetadata(m.metadata) }));
    const leaderMeta = members.find((m) => m.memberId === this.memberId)?.meta;
    const reports: MemberReport[] = members.map((m) => ({
      memberId: m.memberId,
      configOffset: m.meta?.configOffset ?? -1,
      owned: m.meta?.owned ?? { connectors: [], tasks: [] },
    }));
    const state = await this.o.leaderState();
    const withheld = this.withheldWork(members.map((m) => m.meta?.workerId ?? m.memberId));
    const result = assign({ members: reports, work: state.work, configOffset: state.configOffset, withheld });
    if (result.ok) {
      this.lastRound = new Map();
      for (const m of members) {
        const a = result.assignments.get(m.memberId);
        if (a) this.lastRound.set(m.meta?.workerId ?? m.memberId, { connectors: a.connectors, tasks: a.tasks });
      }
    }
    const common = { leaderId: this.memberId, leaderWorkerId: this.o.workerId, leaderUrl: leaderMeta?.restUrl ?? this.o.restUrl };
    const empty = (): WorkSet => ({ connectors: [], tasks: [] });
    return members.map((m) => {
      let a: Assignment;
      if (!result.ok) {
        this.logger.warn({ leaderOffset: result.leaderConfigOffset, memberOffset: result.configOffset }, 'a member has read more of the config log than the leader; everyone rereads it and rejoins');
        const owned = m.meta?.owned ?? empty();
        a = { ...common, error: 'config-mismatch', connectors: owned.connectors, tasks: owned.tasks, revoked: empty(), assigned: empty(), configOffset: result.configOffset, catchUp: true };
      } else {
        a = { ...common, error: null, ...result.assignments.get(m.memberId)! };
      }
      return { memberId: m.memberId, assignment: encodeAssignment(a) };
    });
  }

  /**
   * Lost work (leader): the work of workers that were in the last round but are not in this one
   * is held back for `lostWorkDelayMs`, so a restarting worker gets it back without the others
   * starting and stopping it meanwhile. A rejoin is scheduled for the deadline, when whatever is
   * still withheld goes to the members present.
   */
  private withheldWork(present: string[]): WorkSet {
    const delay = this.o.lostWorkDelayMs ?? 0;
    const now = Date.now();
    const here = new Set(present);
    for (const [worker, work] of this.lastRound) {
      if (here.has(worker) || this.lost.has(worker) || delay <= 0) continue;
      if (work.connectors.length === 0 && work.tasks.length === 0) continue;
      this.lost.set(worker, { work, deadline: now + delay });
      this.logger.info({ worker, connectors: work.connectors.length, tasks: work.tasks.length, delayMs: delay }, 'a worker left the group; holding its work back in case it returns');
    }
    for (const [worker, entry] of this.lost) if (here.has(worker) || entry.deadline <= now) this.lost.delete(worker);
    const withheld: WorkSet = { connectors: [], tasks: [] };
    for (const { work } of this.lost.values()) {
      withheld.connectors.push(...work.connectors);
      withheld.tasks.push(...work.tasks);
    }
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
    if (this.lost.size > 0) {
      const next = Math.min(...[...this.lost.values()].map((e) => e.deadline));
      this.lostTimer = setTimeout(() => {
        this.lostTimer = null;
        if (!this.closed) this.requestRejoin();
      }, Math.max(0, next - now) + 10);
      this.lostTimer.unref();
    }
    return withheld;
  }

  /** What a failed JoinGroup or SyncGroup means; throws when the coordinator must be found again. */
  private handleGroupError(e: unknown, what: string): undefined {
    const err = e as { findBy?: (p: string, v: unknown) => Record<string, unknown> | null };
    const required = err.findBy?.('apiId', 'MEMBER_ID_REQUIRED');
    if (required) {
      this.memberId = typeof required.memberId === 'string' ? required.memberId : '';
      this.needsJoin = true;
      return undefined;
    }
    if (hasProtocolError(e, 'UNKNOWN_MEMBER_ID') || hasProtocolError(e, 'FENCED_INSTANCE_ID')) {
      this.memberId = '';
      this.fenced = true;
      this.needsJoin = true;
      return undefined;
    }
    if (hasProtocolError(e, 'REBALANCE_IN_PROGRESS') || hasProtocolError(e, 'ILLEGAL_GENERATION')) {
      this.needsJoin = true;
      return undefined;
    }
    if (COORDINATOR_ERRORS.some((id) => hasProtocolError(e, id))) this.dropCoordinator();
    if (hasProtocolError(e, 'INCONSISTENT_GROUP_PROTOCOL')) {
      throw new Error(
        `The group ${this.o.groupId} is in use by clients of another kind (not Tributary workers of this version); give the workers another group.id.`,
        { cause: e },
      );
    }
    this.dropCoordinator();
    throw new Error(`${what} failed: ${message(e)}`, { cause: e });
  }

  // ---- heartbeats -------------------------------------------------------------------------------

  private startHeartbeats(): void {
    this.stopHeartbeats();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeating || this.closed || this.needsJoin) return;
    this.heartbeating = true;
    const generation = this.generation;
    try {
      const { connection } = await this.getCoordinator();
      await heartbeatV4.api.async(connection, this.o.groupId, generation, this.memberId, null);
    } catch (e) {
      if (this.closed || generation !== this.generation) return;
      if (hasProtocolError(e, 'REBALANCE_IN_PROGRESS')) {
        this.logger.info({ generation }, 'the worker group is rebalancing');
        this.requestRejoin();
      } else if (hasProtocolError(e, 'UNKNOWN_MEMBER_ID') || hasProtocolError(e, 'ILLEGAL_GENERATION') || hasProtocolError(e, 'FENCED_INSTANCE_ID')) {
        this.logger.warn({ generation, err: message(e) }, 'this member was removed from the worker group');
        if (!hasProtocolError(e, 'ILLEGAL_GENERATION')) this.memberId = '';
        this.fenced = true;
        this.requestRejoin();
      } else {
        // Coordinator moved or unreachable: find it again at the next beat; the session is still ours until it times out.
        this.logger.debug({ err: message(e) }, 'heartbeat failed');
        this.dropCoordinator();
      }
    } finally {
      this.heartbeating = false;
    }
  }

  // ---- coordinator ------------------------------------------------------------------------------

  private newConnection(): Connection {
    const c = new Connection(`tributary-worker-${this.o.workerId}`.replace(/\s+/g, '_'), {
      ...this.o.connection,
      // JoinGroup waits for the whole rebalance.
      requestTimeout: this.rebalanceTimeoutMs + 5_000,
      connectTimeout: this.o.connection?.connectTimeout ?? 5_000,
    });
    c.on('error', () => {});
    this.connections.add(c);
    return c;
  }

  private getCoordinator(): Promise<Coordinator> {
    if (this.coordinator && this.coordinator.connection.isConnected()) return Promise.resolve(this.coordinator);
    this.finding ??= this.findCoordinator().finally(() => {
      this.finding = null;
    });
    return this.finding;
  }

  private async findCoordinator(): Promise<Coordinator> {
    this.dropCoordinator();
    let lastError: unknown;
    for (const broker of this.o.bootstrapBrokers) {
      const [host, port] = splitHostPort(broker);
      const bootstrap = this.newConnection();
      try {
        await bootstrap.connect(host, port);
        const res = await findCoordinatorV6.api.async(bootstrap, 0, [this.o.groupId]);
        const c = res.coordinators.find((x) => x.key === this.o.groupId) ?? res.coordinators[0];
        if (!c) throw new Error('FindCoordinator returned no coordinator');
        let connection = bootstrap;
        if (c.host !== host || c.port !== port) {
          await this.release(bootstrap);
          connection = this.newConnection();
          await connection.connect(c.host, c.port);
        }
        connection.on('close', () => {
          if (this.coordinator?.connection === connection) this.coordinator = null;
        });
        if (this.closed) {
          await this.release(connection);
          throw new Error('the group member is closed');
        }
        this.coordinator = { connection, nodeId: c.nodeId, host: c.host, port: c.port };
        return this.coordinator;
      } catch (e) {
        lastError = e;
        await this.release(bootstrap);
      }
    }
    throw new Error(`Could not find the coordinator of group ${this.o.groupId}: ${message(lastError)}`, { cause: lastError });
  }

  private dropCoordinator(): void {
    const c = this.coordinator;
    this.coordinator = null;
    if (c) void this.release(c.connection);
  }

  private async release(c: Connection): Promise<void> {
    this.connections.delete(c);
    await c.close().catch(() => {});
  }

  private async closeConnections(): Promise<void> {
    this.coordinator = null;
    await Promise.all([...this.connections].map((c) => this.release(c)));
  }

  private wakeLoop(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

function splitHostPort(broker: string): [string, number] {
  const i = broker.lastIndexOf(':');
  if (i < 0) return [broker, 9092];
  return [broker.slice(0, i).replace(/^\[|\]$/g, ''), Number(broker.slice(i + 1))];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
