/**
 * A group of `tributary start --mode distributed` worker processes on the test Kafka, and the
 * checks distributed tests share. Records of the demo connector's sequence shape carry
 * `{task, seq}`, so a topic tells exactly what was lost (a gap) or repeated (a duplicate).
 */
import { expect } from 'vitest';
import { kafkaBrokers, uniqueName } from '../infra/env.ts';
import { readTopic } from './kafka-topic.ts';
import { freePort, http, startWorkerProcess, type WorkerProcess } from './worker-process.ts';

export interface TaskStatus {
  id: number;
  state: string;
  worker_id: string;
}

export interface ConnectorStatus {
  connector: { state: string; worker_id: string };
  tasks: TaskStatus[];
}

export const brokers = kafkaBrokers();

export class TestCluster {
  readonly group = uniqueName('dist');
  readonly ports: number[] = [];
  readonly workers: Array<WorkerProcess | undefined> = [];
  private readonly env: Record<string, string>;

  constructor(env: Record<string, string> = {}) {
    this.env = {
      TRIBUTARY_MODE: 'distributed',
      TRIBUTARY_BOOTSTRAP_SERVERS: brokers.join(','),
      TRIBUTARY_GROUP_ID: this.group,
      TRIBUTARY_SESSION_TIMEOUT_MS: '6000',
      TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
      TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '500',
      ...env,
    };
  }

  /** Start workers w0..w(n-1) on free ports (kept for restarts). */
  async start(n: number): Promise<void> {
    while (this.ports.length < n) this.ports.push(await freePort());
    await Promise.all(Array.from({ length: n }, (_, i) => this.startWorker(i)));
  }

  async startWorker(i: number): Promise<WorkerProcess> {
    const w = await startWorkerProcess({ port: this.ports[i], env: { ...this.env, TRIBUTARY_WORKER_ID: `w${i}` } });
    this.workers[i] = w;
    return w;
  }

  async kill9(i: number): Promise<void> {
    await this.workers[i]?.kill9();
    this.workers[i] = undefined;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w?.stop()));
  }

  url(i: number): string {
    return `http://127.0.0.1:${this.ports[i]}`;
  }

  async status(i: number, name: string): Promise<ConnectorStatus> {
    const res = await http('GET', `${this.url(i)}/connectors/${name}/status`);
    if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Connector and all `tasks` tasks RUNNING, none on worker `notOn`. */
  async allRunning(i: number, name: string, tasks: number, notOn?: string): Promise<boolean> {
    const s = await this.status(i, name);
    return s.connector.state === 'RUNNING' && s.connector.worker_id !== notOn && s.tasks.length === tasks && s.tasks.every((t) => t.state === 'RUNNING' && t.worker_id !== notOn);
  }

  /** Committed offsets per task of a sequence source: task -> next seq. */
  async committedSeqs(i: number, name: string): Promise<Map<number, number>> {
    const res = await http('GET', `${this.url(i)}/connectors/${name}/offsets`);
    expect(res.status).toBe(200);
    return new Map((res.body.offsets as Array<{ partition: { task: number }; offset: { seq: number } }>).map((o) => [o.partition.task, o.offset.seq]));
  }
}

export function sequenceSource(topic: string, tasks: number, extra: Record<string, string> = {}): Record<string, string> {
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

/** Per task, how often each seq is in the topic. */
export async function seqCounts(topic: string, readCommitted = false): Promise<Map<number, Map<number, number>>> {
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
export function checkNoGaps(counts: Map<number, Map<number, number>>, tasks: number): Map<number, number[]> {
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

export function tasksPerWorker(...statuses: Array<{ tasks: TaskStatus[] }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of statuses) for (const t of s.tasks) out.set(t.worker_id, (out.get(t.worker_id) ?? 0) + 1);
  return out;
}
