/**
 * Debezium's Postgres connector on one Kafka Connect 4.x distributed worker, the anchor of issue
 * 5's benchmarks (bench/postgres-cdc.ts, bench/postgres-snapshot.ts). The worker is
 * bench/connect-cluster.ts's (Connect's jars from Maven Central); Debezium's connector and its
 * dependencies come from Maven Central too (bench/debezium/pom.xml, resolved once into
 * bench/.cache/debezium/plugins/debezium-connector-postgres, the worker's plugin.path).
 *
 * Also what both benchmarks measure the same way for both systems: how many records a topic holds
 * (its end offset), and the latency from a change's commit to Kafka: the broker's append time of
 * each record (the benchmarks create the topics with message.timestamp.type=LogAppendTime) minus
 * the commit time the change event carries in `source.ts_ms` (both connectors put the
 * transaction's commit timestamp there).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin, Consumer, FetchIsolationLevels, ListOffsetTimestamps } from '@platformatic/kafka';
import type pg from 'pg';
import { resolveWithMaven } from '../test/infra/common.ts';
import { ConnectCluster, CONNECT_VERSION } from './connect-cluster.ts';
import type { ConnectWorker } from './connect-cluster.ts';
import { rssOf } from './lib.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const POM = join(BENCH_DIR, 'debezium', 'pom.xml');
const PLUGIN_PATH = join(BENCH_DIR, '.cache', 'debezium', 'plugins');
const PLUGIN_DIR = join(PLUGIN_PATH, 'debezium-connector-postgres');
export const DEBEZIUM_VERSION = /<debezium\.version>([^<]+)</.exec(readFileSync(POM, 'utf8'))?.[1] ?? '3.x';
export const DEBEZIUM_LABEL = `Debezium ${DEBEZIUM_VERSION.replace(/\.Final$/, '')} on Kafka Connect ${CONNECT_VERSION}`;

/** utime + stime of a process, in seconds (clock ticks of 1/100 s), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export interface DebeziumWorkerOptions {
  bootstrapServers: string;
  /** Maximum (and initial) heap, MB; default 1024. */
  heapMb?: number;
  log?: (line: string) => void;
}

/** One Kafka Connect worker with Debezium's Postgres connector on its plugin.path. */
export class DebeziumWorker {
  readonly cluster: ConnectCluster;
  readonly worker: ConnectWorker;

  private constructor(cluster: ConnectCluster, worker: ConnectWorker) {
    this.cluster = cluster;
    this.worker = worker;
  }

  static async start(o: DebeziumWorkerOptions): Promise<DebeziumWorker> {
    const log = o.log ?? console.log;
    await resolveWithMaven('debezium', POM, PLUGIN_DIR, log);
    const cluster = new ConnectCluster({
      bootstrapServers: o.bootstrapServers,
      groupId: `bench-debezium-${Date.now().toString(36)}`,
      heapMb: o.heapMb ?? 1024,
      properties: { 'plugin.path': PLUGIN_PATH, 'offset.flush.interval.ms': '1000' },
    });
    await cluster.prepare(log);
    try {
      const worker = await cluster.startWorker();
      const plugins = (await (await fetch(`${worker.url}/connector-plugins`)).json()) as Array<{ class: string }>;
      if (!plugins.some((p) => p.class === 'io.debezium.connector.postgresql.PostgresConnector')) {
        throw new Error(`Kafka Connect did not load Debezium's PostgresConnector from ${PLUGIN_PATH}; see ${worker.logFile}`);
      }
      return new DebeziumWorker(cluster, worker);
    } catch (error) {
      await cluster.stopAll();
      throw error;
    }
  }

  get pid(): number {
    return this.worker.child.pid!;
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  rss(): { rssMb: number; peakMb: number } {
    return rssOf(this.pid);
  }

  async createConnector(name: string, config: Record<string, string>): Promise<void> {
    const res = await fetch(`${this.worker.url}/connectors`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, config }),
    });
    if (!res.ok) throw new Error(`creating Debezium connector ${name}: ${res.status} ${await res.text()}`);
  }

  /** Throws when the connector or its task FAILED (with Connect's trace), so a benchmark does not wait forever. */
  async checkRunning(name: string): Promise<void> {
    const res = await fetch(`${this.worker.url}/connectors/${name}/status`);
    if (!res.ok) return;
    const s = (await res.json()) as { connector: { state: string; trace?: string }; tasks: Array<{ state: string; trace?: string }> };
    const failed = [s.connector, ...s.tasks].find((x) => x.state === 'FAILED');
    if (failed) throw new Error(`Debezium connector ${name} FAILED: ${(failed.trace ?? '').split('\n').slice(0, 3).join(' | ')}`);
  }

  async deleteConnector(name: string): Promise<void> {
    await fetch(`${this.worker.url}/connectors/${name}`, { method: 'DELETE' }).catch(() => {});
    // The task stops (and closes its replication connection) after the DELETE answers.
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${this.worker.url}/connectors/${name}`).catch(() => null);
      if (!res || res.status === 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await this.cluster.stopAll();
  }
}

/** Debezium's config for the benchmarks' table: pgoutput, the given slot and (existing) publication, JSON without schemas as ours. */
export function debeziumPostgresConfig(o: {
  postgresUrl: string; topicPrefix: string; slot: string; publication: string; table: string; snapshotMode: 'no_data' | 'initial' | 'initial_only';
}): Record<string, string> {
  const url = new URL(o.postgresUrl);
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector', 'tasks.max': '1', 'plugin.name': 'pgoutput',
    'database.hostname': url.hostname, 'database.port': url.port || '5432', 'database.user': url.username || 'postgres',
    ...(url.password ? { 'database.password': decodeURIComponent(url.password) } : {}),
    'database.dbname': url.pathname.slice(1), 'topic.prefix': o.topicPrefix, 'slot.name': o.slot, 'publication.name': o.publication,
    'publication.autocreate.mode': 'disabled', 'table.include.list': `public.${o.table}`, 'snapshot.mode': o.snapshotMode,
    'tombstones.on.delete': 'false',
    // The same batch as ours (max.batch.size 8192); Debezium wants its queue larger than a batch.
    'max.batch.size': '8192', 'max.queue.size': '32768',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable': 'false',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false',
  };
}

/** Creates `topic` with one partition; `logAppendTime` makes the broker stamp each record with the time it appended it. */
export async function createTopic(brokers: string, topic: string, logAppendTime = true): Promise<void> {
  const admin = new Admin({ clientId: `bench-create-${topic}`, bootstrapBrokers: [brokers] });
  try {
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1, configs: logAppendTime ? [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] : [] });
  } finally {
    await admin.close();
  }
}

export async function deleteTopics(brokers: string, topics: string[]): Promise<void> {
  const admin = new Admin({ clientId: `bench-delete-${Date.now()}`, bootstrapBrokers: [brokers] });
  try {
    await admin.deleteTopics({ topics }).catch(() => {});
  } finally {
    await admin.close().catch(() => {});
  }
}

/** Follows how many records single-partition topics hold (end offset), with one admin client. */
export class TopicCounter {
  private readonly admin: Admin;

  constructor(brokers: string) {
    this.admin = new Admin({ clientId: `bench-count-${Date.now()}`, bootstrapBrokers: [brokers] });
  }

  async count(topic: string): Promise<number> {
    try {
      const listed = await this.admin.listOffsets({ topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: ListOffsetTimestamps.LATEST }] }] });
      return Number(listed[0]?.partitions[0]?.offset ?? 0);
    } catch {
      return 0; // not created yet
    }
  }

  async close(): Promise<void> {
    await this.admin.close().catch(() => {});
  }
}

/**
 * Commit-to-Kafka latency of every record of a single-partition topic: the broker's append time
 * (LogAppendTime batches carry it as their max timestamp) minus the event's `source.ts_ms`.
 * Read with raw fetches after the run, so the reading does not compete with the connector.
 */
export async function commitLatencies(brokers: string, topic: string): Promise<{ count: number; p50: number; p99: number; max: number }> {
  const consumer = new Consumer({ clientId: `bench-latency-${Date.now()}`, groupId: `bench-latency-${Date.now()}`, bootstrapBrokers: [brokers] });
  const lat: number[] = [];
  try {
    const meta = await consumer.metadata({ topics: [topic] });
    const t = meta.topics.get(topic)!;
    const end = (await consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.LATEST })).get(topic)?.[0] ?? 0n;
    let position = 0n;
    while (position < end) {
      const response = await consumer.fetch({
        node: t.partitions[0]!.leader,
        topics: [{ topicId: t.id, partitions: [{ partition: 0, fetchOffset: position, partitionMaxBytes: 8 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
        maxWaitTime: 100, minBytes: 1, maxBytes: 8 << 20, isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
      });
      const batches = response.responses[0]!.partitions[0]!.records ?? [];
      if (batches.length === 0) throw new Error(`no records at ${topic} offset ${position} below its end ${end}`);
      for (const b of batches) {
        const logAppend = (b.attributes & 0x08) !== 0;
        for (const r of b.records) {
          const offset = b.firstOffset + BigInt(r.offsetDelta);
          if (offset < position || offset >= end || !r.value) continue;
          const at = Number(logAppend ? b.maxTimestamp : b.firstTimestamp + r.timestampDelta);
          const committed = (JSON.parse(r.value.toString('utf8')) as { source?: { ts_ms?: number } }).source?.ts_ms;
          if (typeof committed === 'number') lat.push(at - committed);
        }
        const next = b.firstOffset + BigInt(b.lastOffsetDelta) + 1n;
        if (next > position) position = next;
      }
    }
  } finally {
    await consumer.close(true);
  }
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { count: lat.length, p50: q(0.5), p99: q(0.99), max: lat.length ? lat[lat.length - 1] : NaN };
}

/** Drops a replication slot, ending a backend still holding it. */
export async function dropSlot(admin: pg.Client, slot: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const { rows } = await admin.query('select active_pid from pg_replication_slots where slot_name = $1', [slot]);
    if (rows.length === 0) return;
    if (rows[0].active_pid) {
      await admin.query('select pg_terminate_backend($1)', [rows[0].active_pid]).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    await admin.query('select pg_drop_replication_slot($1)', [slot]).catch(() => {});
  }
}

/** "load average 7.51 7.50 7.68 (2 cores)", for the benchmarks' output: the machine is shared. */
export function loadAverage(): string {
  const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ');
  return `load average ${a} ${b} ${c}`;
}
