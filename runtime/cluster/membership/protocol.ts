/**
 * What workers say to each other through the group coordinator: member metadata in JoinGroup and
 * assignments in SyncGroup. The coordinator treats both as opaque bytes; we write JSON, versioned,
 * under a protocol type of our own (`tributary`), so a Kafka Connect worker can never join our
 * group by mistake (the coordinator refuses mixed protocol types) and the bytes read plainly in
 * any group tool.
 */
import type { MemberAssignment, TaskId, WorkSet } from '../assignor.ts';

export const PROTOCOL_TYPE = 'tributary';
/** The one protocol (assignment strategy) members offer: incremental cooperative, version 1. */
export const PROTOCOL_NAME = 'incremental-v1';
const VERSION = 1;

export interface MemberMetadata {
  workerId: string;
  restUrl: string;
  /** Offset of the config log this worker has read (-1: nothing). */
  configOffset: number;
  /** The work it runs now. */
  owned: WorkSet;
}

/** What a member receives in SyncGroup. */
export interface Assignment extends MemberAssignment {
  /** 'config-mismatch': the leader's config was behind a member's; read the config log to the end and rejoin. */
  error: 'config-mismatch' | null;
  /** The leader's member id and worker id, and its REST URL (where followers forward writes). */
  leaderId: string;
  leaderWorkerId: string;
  leaderUrl: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readWorkSet(v: unknown): WorkSet {
  const out: WorkSet = { connectors: [], tasks: [] };
  if (!isObject(v)) return out;
  if (Array.isArray(v.connectors)) for (const c of v.connectors) if (typeof c === 'string') out.connectors.push(c);
  if (Array.isArray(v.tasks)) {
    for (const t of v.tasks) {
      if (isObject(t) && typeof t.connector === 'string' && Number.isInteger(t.task)) out.tasks.push({ connector: t.connector, task: t.task as number });
    }
  }
  return out;
}

const workSet = (w: WorkSet): WorkSet => ({ connectors: [...w.connectors], tasks: w.tasks.map((t: TaskId) => ({ connector: t.connector, task: t.task })) });

export function encodeMetadata(m: MemberMetadata): Buffer {
  return Buffer.from(JSON.stringify({ version: VERSION, ...m, owned: workSet(m.owned) }));
}

/** Undefined when the bytes are not ours (the member then counts as owning nothing). */
export function decodeMetadata(bytes: Buffer | null | undefined): MemberMetadata | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    if (!isObject(v) || typeof v.workerId !== 'string') return undefined;
    return {
      workerId: v.workerId,
      restUrl: typeof v.restUrl === 'string' ? v.restUrl : '',
      configOffset: typeof v.configOffset === 'number' ? v.configOffset : -1,
      owned: readWorkSet(v.owned),
    };
  } catch {
    return undefined;
  }
}

export function encodeAssignment(a: Assignment): Buffer {
  return Buffer.from(JSON.stringify({ version: VERSION, ...a }));
}

export function decodeAssignment(bytes: Buffer | null | undefined): Assignment | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    if (!isObject(v)) return undefined;
    const all = readWorkSet(v);
    return {
      error: v.error === 'config-mismatch' ? 'config-mismatch' : null,
      leaderId: typeof v.leaderId === 'string' ? v.leaderId : '',
      leaderWorkerId: typeof v.leaderWorkerId === 'string' ? v.leaderWorkerId : '',
      leaderUrl: typeof v.leaderUrl === 'string' ? v.leaderUrl : '',
      connectors: all.connectors,
      tasks: all.tasks,
      revoked: readWorkSet(v.revoked),
      assigned: readWorkSet(v.assigned),
      configOffset: typeof v.configOffset === 'number' ? v.configOffset : -1,
      catchUp: v.catchUp === true,
    };
  } catch {
    return undefined;
  }
}
