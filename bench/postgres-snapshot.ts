/**
 * Issue 5's snapshot benchmark: a table of BENCH_SNAPSHOT_ROWS rows (default 5,000,000, ~200 B
 * each) read by a real worker's postgres-cdc snapshot into real Kafka (JSON converter without
 * schemas, as Debezium's anchor runs), with snapshot.max.threads 1 and 2 and both read methods
 * (COPY and SELECT). The clock runs from creating the connector until the source's committed
 * offset says the snapshot is complete, which the runtime writes only once Kafka acknowledged
 * every record before it: end-to-end delivery. Beside it, in the same run, the ceiling: the
 * server's `COPY table TO STDOUT` through psql to /dev/null. Medians of BENCH_SNAPSHOT_RUNS runs
 * (default 3). Worker CPU seconds and peak RSS from /proc. Also the connector alone: its poll()
 * driven in this process with the records dropped, which shows what the runtime is fed.
 *
 * The anchor, in the same run after ours: Debezium's initial snapshot of the same table
 * (bench/debezium.ts: Debezium 3.x on one Kafka Connect 4.x worker, -Xmx1g, snapshot.mode=initial,
 * pgoutput, its own slot, the same publication, JSON without schemas, the same batch size), timed
 * from creating the connector until its topic holds every row (end offset), BENCH_SNAPSHOT_DEBEZIUM_RUNS
 * runs (default 1: one is a few minutes at 5M rows) on one worker started once; 0 skips it. Prints a
 * table with the ratios and the load average (the machine is shared); never fails on a time.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { Admin } from '@platformatic/kafka';
import pg from 'pg';
import { PostgresCdcTask } from '../connectors/postgres-cdc/postgres-cdc-task.ts';
import { services } from '../test/infra/env.ts';
import { sourceContext } from '../test/unit/connectors/fake-context.ts';
import { freePortSync } from './ports.ts';
import { median, printTable, rssOf, spawnWorker, stopChild, waitHealthy } from './lib.ts';
import { createTopic, DEBEZIUM_LABEL, DebeziumWorker, debeziumPostgresConfig, deleteTopics, dropSlot, loadAverage, TopicCounter } from './debezium.ts';

const ROWS = Number(process.env.BENCH_SNAPSHOT_ROWS ?? 5_000_000);
const RUNS = Number(process.env.BENCH_SNAPSHOT_RUNS ?? 3);
const DEBEZIUM_RUNS = Number(process.env.BENCH_SNAPSHOT_DEBEZIUM_RUNS ?? 1);
const PG_BIN = '/usr/lib/postgresql/15/bin';
const VARIANTS: Array<{ threads: number; method: 'copy' | 'select' }> = (process.env.BENCH_SNAPSHOT_VARIANTS ?? 'copy:1,copy:2,select:1,select:2')
  .split(',').map((v) => { const [method, threads] = v.split(':'); return { method: method as 'copy' | 'select', threads: Number(threads) }; });

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Follows a standalone worker's offsets.log (reading only what was appended) for `connector`'s last committed offset. */
class OffsetFollower {
  private readonly file: string;
  private readonly needle: string;
  private position = 0;
  private partial = '';
  last: Record<string, unknown> | null = null;

  constructor(file: string, connector: string) {
    this.file = file;
    this.needle = `\\"${connector}\\"`;
  }

  poll(): Record<string, unknown> | null {
    if (!existsSync(this.file)) return null;
    const fd = openSync(this.file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.position) return this.last;
      const buf = Buffer.alloc(size - this.position);
      readSync(fd, buf, 0, buf.length, this.position);
      this.position = size;
      const lines = (this.partial + buf.toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        const space = line.indexOf(' ');
        if (space < 0 || !line.includes(this.needle)) continue;
        this.last = (JSON.parse(line.slice(space + 1)) as [string, Record<string, unknown>])[1];
      }
      return this.last;
    } finally {
      closeSync(fd);
    }
  }
}

interface Result { seconds: number; cpu: number; peakMb: number }

/** The connector alone, in this process: poll() until the snapshot is done, records dropped (what the runtime is fed). */
async function connectorOnly(table: string, publication: string, variant: { threads: number; method: string }, n: number): Promise<number> {
  const url = new URL(services.postgres.url);
  const slot = `bench_snap_alone_${Date.now().toString(36)}_${n}`;
  const task = new PostgresCdcTask();
  const ctx = sourceContext();
  await task.start({
    'database.hostname': url.hostname, 'database.port': url.port, 'database.user': url.username || 'postgres', 'database.dbname': url.pathname.slice(1),
    'topic.prefix': 'alone', 'slot.name': slot, 'publication.name': publication, 'publication.autocreate.mode': 'disabled',
    'table.include.list': `public.${table}`, 'snapshot.mode': 'initial_only', 'snapshot.max.threads': String(variant.threads),
    'snapshot.read.method': variant.method, 'max.batch.size': '8192', 'slot.drop.on.stop': 'true',
  }, ctx);
  const t0 = Date.now();
  try {
    while (ctx.progress.snapshotCompleted !== true) await task.poll(AbortSignal.timeout(10_000));
    return (Date.now() - t0) / 1000;
  } finally {
    await task.stop();
  }
}

async function snapshotRun(admin: pg.Client, table: string, publication: string, variant: { threads: number; method: string }, n: number): Promise<Result> {
  const suffix = `${Date.now().toString(36)}_${n}`;
  const slot = `bench_snap_slot_${suffix}`;
  const prefix = `bsnap_${suffix}`;
  const stateDir = `/tmp/bench-snapshot-${suffix}`;
  const url = new URL(services.postgres.url);
  const port = freePortSync();
  const worker = spawnWorker({
    TRIBUTARY_REST_PORT: String(port), TRIBUTARY_STATE_DIR: stateDir,
    TRIBUTARY_BOOTSTRAP_SERVERS: services.kafka.bootstrapServers, TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '200',
  });
  const kafka = new Admin({ clientId: `bench-snapshot-${suffix}`, bootstrapBrokers: [services.kafka.bootstrapServers] });
  try {
    await waitHealthy(`http://127.0.0.1:${port}`);
    const cpu0 = cpuSeconds(worker.pid!);
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/connectors`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-snapshot', config: {
        'connector.class': 'postgres-cdc', 'database.hostname': url.hostname, 'database.port': url.port, 'database.user': url.username || 'postgres',
        'database.dbname': url.pathname.slice(1), 'topic.prefix': prefix, 'slot.name': slot, 'publication.name': publication,
        'publication.autocreate.mode': 'disabled', 'table.include.list': `public.${table}`, 'snapshot.mode': 'initial_only',
        'snapshot.max.threads': String(variant.threads), 'snapshot.read.method': variant.method, 'slot.drop.on.stop': 'true',
        'max.batch.size': '8192', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false',
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable': 'false',
      } }),
    });
    if (!res.ok) throw new Error(`creating the connector: ${res.status} ${await res.text()}`);
    let peak = 0;
    const offsets = new OffsetFollower(`${stateDir}/offsets.log`, 'bench-snapshot');
    for (;;) {
      peak = Math.max(peak, rssOf(worker.pid!).rssMb);
      const o = offsets.poll();
      if (o && o.snapshot !== true) break;
      if (worker.exitCode !== null) throw new Error('the worker exited');
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - t0) / 1000;
    return { seconds, cpu: cpuSeconds(worker.pid!) - cpu0, peakMb: Math.max(peak, rssOf(worker.pid!).peakMb) };
  } finally {
    await stopChild(worker).catch(() => {});
    await kafka.deleteTopics({ topics: [`${prefix}.public.${table}`] }).catch(() => {});
    await kafka.close().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
    for (let i = 0; i < 50; i++) {
      const { rows } = await admin.query('select active_pid from pg_replication_slots where slot_name = $1', [slot]);
      if (rows.length === 0) break;
      if (rows[0].active_pid) { await new Promise((r) => setTimeout(r, 100)); continue; }
      await admin.query('select pg_drop_replication_slot($1)', [slot]).catch(() => {});
    }
  }
}

/** Debezium's initial snapshot of `table` on the running worker `w`: from creating the connector until its topic holds ROWS records. */
async function debeziumRun(w: DebeziumWorker, admin: pg.Client, table: string, publication: string, n: number): Promise<Result> {
  const suffix = `${Date.now().toString(36)}_${n}`;
  const slot = `bench_dbz_snap_slot_${suffix}`;
  const prefix = `bdbz_${suffix}`;
  const topic = `${prefix}.public.${table}`;
  const name = `bench-debezium-snapshot-${suffix}`;
  const brokers = services.kafka.bootstrapServers;
  const counter = new TopicCounter(brokers);
  try {
    await createTopic(brokers, topic, false);
    const cpu0 = w.cpuSeconds();
    const t0 = Date.now();
    await w.createConnector(name, debeziumPostgresConfig({ postgresUrl: services.postgres.url, topicPrefix: prefix, slot, publication, table, snapshotMode: 'initial' }));
    let peak = 0;
    let last = 0;
    let lastMoved = Date.now();
    for (let i = 0; ; i++) {
      peak = Math.max(peak, w.rss().rssMb);
      const count = await counter.count(topic);
      if (count >= ROWS) break;
      if (count !== last) { last = count; lastMoved = Date.now(); }
      if (Date.now() - lastMoved > 180_000) throw new Error(`Debezium's snapshot stuck at ${count} of ${ROWS} rows for 180 s; see ${w.worker.logFile}`);
      if (i % 20 === 0) await w.checkRunning(name);
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (Date.now() - t0) / 1000;
    return { seconds, cpu: w.cpuSeconds() - cpu0, peakMb: Math.max(peak, w.rss().peakMb) };
  } finally {
    await w.deleteConnector(name);
    await counter.close();
    await deleteTopics(brokers, [topic]);
    await dropSlot(admin, slot).catch(() => {});
  }
}

export async function run(): Promise<void> {
  const loadAtStart = loadAverage();
  const table = process.env.BENCH_SNAPSHOT_TABLE ?? `bench_snapshot_${ROWS}`;
  const publication = `bench_snap_pub_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: services.postgres.url });
  await admin.connect();
  try {
    // BENCH_SNAPSHOT_KEEP=1 keeps the table for the next run (loading 5M rows takes a while); its name carries the row count.
    const exists = (await admin.query('select 1 from pg_class where relname = $1', [table])).rows.length > 0;
    if (!exists) {
      console.log(`loading ${ROWS.toLocaleString('en-US')} rows into ${table} ...`);
      await admin.query(`create table ${table} (id bigint primary key, name text, email text, amount numeric(12,2), note text, updated_at timestamptz default now())`);
      await admin.query(`insert into ${table} select g, 'name ' || g, 'user' || g || '@example.com', g * 1.25, repeat('x', 120), now() from generate_series(1, ${ROWS}) g`);
      await admin.query(`vacuum analyze ${table}`);
    }
    const size = (await admin.query<{ s: string }>(`select pg_size_pretty(pg_table_size('${table}')) as s`)).rows[0].s;
    await admin.query(`create publication ${publication} for table ${table}`);

    const ceiling: number[] = [];
    const results = new Map<string, Result[]>();
    const alone = new Map<string, number[]>();
    for (let r = 0; r < RUNS; r++) {
      const c0 = Date.now();
      execFileSync(`${PG_BIN}/psql`, [services.postgres.url, '-Atq', '-c', `copy ${table} to stdout`], { stdio: ['ignore', 'ignore', 'inherit'] });
      ceiling.push((Date.now() - c0) / 1000);
      for (const v of VARIANTS) {
        const key = `${v.method}:${v.threads}`;
        const res = await snapshotRun(admin, table, publication, v, r);
        results.set(key, [...(results.get(key) ?? []), res]);
        console.log(`run ${r + 1}/${RUNS} ${key}: ${res.seconds.toFixed(2)} s, ${Math.round(ROWS / res.seconds).toLocaleString('en-US')} rows/s`);
        const a = await connectorOnly(table, publication, v, r);
        alone.set(key, [...(alone.get(key) ?? []), a]);
        console.log(`run ${r + 1}/${RUNS} ${key} connector alone: ${a.toFixed(2)} s, ${Math.round(ROWS / a).toLocaleString('en-US')} rows/s`);
      }
    }
    const dbz: Result[] = [];
    if (DEBEZIUM_RUNS > 0) {
      const w = await DebeziumWorker.start({ bootstrapServers: services.kafka.bootstrapServers, heapMb: 1024 });
      try {
        for (let r = 0; r < DEBEZIUM_RUNS; r++) {
          const res = await debeziumRun(w, admin, table, publication, r);
          dbz.push(res);
          console.log(`run ${r + 1}/${DEBEZIUM_RUNS} Debezium: ${res.seconds.toFixed(2)} s, ${Math.round(ROWS / res.seconds).toLocaleString('en-US')} rows/s`);
        }
      } finally {
        await w.stop();
      }
    }
    const ceilingS = median(ceiling);
    const dbzS = dbz.length ? median(dbz.map((x) => x.seconds)) : NaN;
    const vsDbz = (s: number) => (dbz.length ? `${(dbzS / s).toFixed(2)}x` : '');
    const rows: Array<Record<string, string | number>> = [];
    for (const v of VARIANTS) {
      const rs = results.get(`${v.method}:${v.threads}`)!;
      const s = median(rs.map((x) => x.seconds));
      rows.push({
        what: `tributary snapshot -> Kafka, ${v.method.toUpperCase()}, snapshot.max.threads=${v.threads}`, seconds: s, 'rows/s': Math.round(ROWS / s),
        'of ceiling': `${((100 * ceilingS) / s).toFixed(0)}%`, 'vs Debezium': vsDbz(s), 'worker CPU s': median(rs.map((x) => x.cpu)), 'peak RSS MB': median(rs.map((x) => x.peakMb)),
      });
    }
    for (const v of VARIANTS) {
      const s = median(alone.get(`${v.method}:${v.threads}`)!);
      rows.push({ what: `  connector alone (poll() in-process, no runtime), ${v.method.toUpperCase()}, threads=${v.threads}`, seconds: s, 'rows/s': Math.round(ROWS / s), 'of ceiling': `${((100 * ceilingS) / s).toFixed(0)}%`, 'vs Debezium': '', 'worker CPU s': '', 'peak RSS MB': '' });
    }
    if (dbz.length) {
      rows.push({
        what: `${DEBEZIUM_LABEL} (-Xmx1g), snapshot.mode=initial${dbz.length > 1 ? `, median of ${dbz.length}` : ''}`, seconds: dbzS, 'rows/s': Math.round(ROWS / dbzS),
        'of ceiling': `${((100 * ceilingS) / dbzS).toFixed(0)}%`, 'vs Debezium': '1.00x', 'worker CPU s': median(dbz.map((x) => x.cpu)), 'peak RSS MB': median(dbz.map((x) => x.peakMb)),
      });
    }
    rows.push({ what: 'ceiling: psql COPY table TO STDOUT -> /dev/null', seconds: ceilingS, 'rows/s': Math.round(ROWS / ceilingS), 'of ceiling': '100%', 'vs Debezium': vsDbz(ceilingS), 'worker CPU s': '', 'peak RSS MB': '' });
    printTable(`Postgres CDC snapshot: ${ROWS.toLocaleString('en-US')} rows (~200 B, table ${size}) to Kafka, medians of ${RUNS} runs`, rows);
    if (dbz.length) {
      const best = Math.min(...VARIANTS.map((v) => median(results.get(`${v.method}:${v.threads}`)!.map((x) => x.seconds))));
      console.log(`ours (best variant)/Debezium: ${(dbzS / best).toFixed(2)}x (goal 3x)`);
    }
    console.log(`${loadAtStart} at the start, ${loadAverage()} at the end (2 cores, shared)`);
  } finally {
    await admin.query(`drop publication if exists ${publication}`).catch(() => {});
    if (process.env.BENCH_SNAPSHOT_KEEP !== '1' && !process.env.BENCH_SNAPSHOT_TABLE) await admin.query(`drop table if exists ${table}`).catch(() => {});
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
