/**
 * Issue 5's streaming benchmark (workload of /work/shared/reference/benchmarks.md, scaled by
 * BENCH_CDC_BLOCKS, default 1000 blocks of 1000 changes: 60% insert, 30% update, 10% delete, in
 * transactions of 1000 rows, loaded as fast as the client goes). Three systems, one after the
 * other, in one run:
 * - ours: a real worker streams the changes of a `bench_*` table from Postgres to real Kafka (JSON
 *   converter without schemas, as Debezium's anchor runs);
 * - the ceiling: pg_recvlogical draining the same changes from a second slot (created before the
 *   load) with pgoutput to /dev/null;
 * - Debezium (bench/debezium.ts) on one Kafka Connect 4.x worker (-Xmx1g), with the equivalent
 *   config (pgoutput, its own slot and publication, snapshot.mode=no_data, the same batch size and
 *   converters), streaming the same load into a second table of the same shape. Skipped with
 *   BENCH_CDC_DEBEZIUM=0.
 * For ours and Debezium's the clock runs from the first commit of the load until the topic holds
 * every change (its end offset; both run without tombstones). Ours also reports when the slot's
 * confirmed LSN passed the last transaction (it confirms only what Kafka acknowledged). Latency
 * p50/p99 from commit to Kafka: the broker's append time (topics created with LogAppendTime) minus
 * the event's source.ts_ms (the commit time), over every record, read after the run; the load
 * outpaces both connectors, so it is mostly the backlog. Worker CPU seconds (during the load and
 * drain) and peak RSS from /proc. Prints a table with the ratios and the load average (the
 * machine is shared); never fails on a time. BENCH_CDC_BATCH sets our connector's max.batch.size
 * (default 8192, as Debezium's in bench/debezium.ts).
 */
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { parseLsn } from '../connectors/postgres-cdc/lsn.ts';
import { services } from '../test/infra/env.ts';
import { freePortSync } from './ports.ts';
import { printTable, rssOf, spawnWorker, stopChild, waitHealthy } from './lib.ts';
import {
  commitLatencies, cpuSeconds, createTopic, DEBEZIUM_LABEL, DebeziumWorker, debeziumPostgresConfig, deleteTopics, dropSlot, loadAverage, TopicCounter,
} from './debezium.ts';

const BLOCKS = Number(process.env.BENCH_CDC_BLOCKS ?? 1000);
const DEBEZIUM = process.env.BENCH_CDC_DEBEZIUM !== '0';
const PG_BIN = '/usr/lib/postgresql/15/bin';
const COLUMNS = 'id bigint primary key, name text, email text, amount numeric(12,2), note text, updated_at timestamptz default now()';

/** The workload: BLOCKS transactions of 1000 changes. Returns when the client finished and the LSN of the last one. */
async function load(admin: pg.Client, table: string): Promise<{ loadedAt: number; lastLsn: string }> {
  const inserts = Math.round(BLOCKS * 0.6);
  const updates = Math.round(BLOCKS * 0.3);
  let lastLsn = '';
  for (let b = 0; b < BLOCKS; b++) {
    let sql: string;
    if (b < inserts) sql = `insert into ${table} select g, 'name ' || g, 'user' || g || '@example.com', g * 1.25, repeat('x', 120), now() from generate_series(${b * 1000 + 1}, ${b * 1000 + 1000}) g`;
    else if (b < inserts + updates) { const u = b - inserts; sql = `update ${table} set amount = amount + 1, updated_at = now() where id > ${u * 1000} and id <= ${u * 1000 + 1000}`; }
    else { const d = b - inserts - updates; const lo = Math.floor(inserts * 1000 / 2) + d * 1000; sql = `delete from ${table} where id > ${lo} and id <= ${lo + 1000}`; }
    if (b === BLOCKS - 1) {
      await admin.query('begin');
      await admin.query(sql);
      lastLsn = (await admin.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l;
      await admin.query('commit');
    } else {
      await admin.query(sql);
    }
  }
  return { loadedAt: Date.now(), lastLsn };
}

/**
 * Waits until a connector streams from `slot`: its walsender is in state `streaming`. An active
 * slot alone is not enough: the slot is active while CREATE_REPLICATION_SLOT still waits for
 * running transactions, and Debezium cancels that after a timeout and creates it again later, past
 * a load that would then never reach it.
 */
async function waitStreaming(admin: pg.Client, slot: string, failed: () => Promise<void> = async () => {}): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (let i = 0; ; i++) {
    const { rows } = await admin.query(
      'select r.state from pg_replication_slots s join pg_stat_replication r on r.pid = s.active_pid where s.slot_name = $1', [slot]);
    if (rows[0]?.state === 'streaming') return;
    if (i % 20 === 0) await failed();
    if (Date.now() > deadline) throw new Error(`no connector streaming from slot ${slot} within 300 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Figures { seconds: number; loadSeconds: number; cpu: number; peakMb: number; p50: number; p99: number; confirmedSeconds?: number; idleMb?: number }

export async function run(): Promise<void> {
  const suffix = `${Date.now().toString(36)}`;
  const table = `bench_${suffix}`;
  const slot = `bench_slot_${suffix}`;
  const ceilingSlot = `bench_ceiling_${suffix}`;
  const publication = `bench_pub_${suffix}`;
  const prefix = `bench_${suffix}`;
  const topic = `${prefix}.public.${table}`;
  const dbzTable = `bench_dbz_${suffix}`;
  const dbzSlot = `bench_dbz_slot_${suffix}`;
  const dbzPublication = `bench_dbz_pub_${suffix}`;
  const dbzPrefix = `bench_dbz_${suffix}`;
  const dbzTopic = `${dbzPrefix}.public.${dbzTable}`;
  const brokers = services.kafka.bootstrapServers;
  const changes = BLOCKS * 1000;
  const admin = new pg.Client({ connectionString: services.postgres.url });
  await admin.connect();
  const counter = new TopicCounter(brokers);
  const url = new URL(services.postgres.url);
  const port = freePortSync();
  const worker = spawnWorker({
    TRIBUTARY_REST_PORT: String(port), TRIBUTARY_STATE_DIR: `/tmp/bench-cdc-${suffix}`,
    TRIBUTARY_BOOTSTRAP_SERVERS: brokers, TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '200',
  });
  let debezium: DebeziumWorker | undefined;
  const loadAtStart = loadAverage();
  try {
    await admin.query(`create table ${table} (${COLUMNS})`);
    await admin.query(`create publication ${publication} for table ${table}`);
    await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [ceilingSlot]);
    await createTopic(brokers, topic);
    await waitHealthy(`http://127.0.0.1:${port}`);
    const res = await fetch(`http://127.0.0.1:${port}/connectors`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-cdc', config: {
        'connector.class': 'postgres-cdc', 'database.hostname': url.hostname, 'database.port': url.port, 'database.user': url.username || 'postgres',
        'database.dbname': url.pathname.slice(1), 'topic.prefix': prefix, 'slot.name': slot, 'publication.name': publication,
        'publication.autocreate.mode': 'disabled', 'table.include.list': `public.${table}`, 'snapshot.mode': 'never', 'tombstones.on.delete': 'false',
        'max.batch.size': process.env.BENCH_CDC_BATCH ?? '8192', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false',
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable': 'false',
      } }),
    });
    if (!res.ok) throw new Error(`creating the connector: ${res.status} ${await res.text()}`);
    await waitStreaming(admin, slot);
    const idleMb = rssOf(worker.pid!).rssMb;
    const cpu0 = cpuSeconds(worker.pid!);
    const t0 = Date.now();
    const { loadedAt, lastLsn } = await load(admin, table);
    const target = parseLsn(lastLsn);
    let peak = 0;
    let inKafkaAt = 0;
    let confirmedAt = 0;
    while (!inKafkaAt || !confirmedAt) {
      peak = Math.max(peak, rssOf(worker.pid!).rssMb);
      if (!inKafkaAt && (await counter.count(topic)) >= changes) inKafkaAt = Date.now();
      const { rows } = await admin.query('select confirmed_flush_lsn::text as l from pg_replication_slots where slot_name = $1', [slot]);
      if (!confirmedAt && rows[0]?.l && parseLsn(rows[0].l) >= target) confirmedAt = Date.now();
      if (worker.exitCode !== null) throw new Error('the worker exited');
      await new Promise((r) => setTimeout(r, 20));
    }
    const cpu = cpuSeconds(worker.pid!) - cpu0;
    const peakMb = Math.max(peak, rssOf(worker.pid!).peakMb);
    await stopChild(worker);
    const ourLatency = await commitLatencies(brokers, topic);
    const ours: Figures = {
      seconds: (inKafkaAt - t0) / 1000, confirmedSeconds: (confirmedAt - t0) / 1000, loadSeconds: (loadedAt - t0) / 1000,
      cpu, peakMb, idleMb, p50: ourLatency.p50, p99: ourLatency.p99,
    };
    console.log(`ours: ${changes.toLocaleString('en-US')} changes in Kafka after ${ours.seconds.toFixed(2)} s (${ourLatency.count.toLocaleString('en-US')} records read for latency)`);

    const end = (await admin.query('select pg_current_wal_lsn()::text as l')).rows[0].l;
    const c0 = Date.now();
    execFileSync(`${PG_BIN}/pg_recvlogical`, ['-d', services.postgres.url, '--slot', ceilingSlot, '--start', '--endpos', end, '-o', 'proto_version=1', '-o', `publication_names=${publication}`, '-f', '/dev/null', '--no-loop']);
    const ceilingS = (Date.now() - c0) / 1000;
    await dropSlot(admin, ceilingSlot);

    let dbz: Figures | undefined;
    if (DEBEZIUM) {
      await admin.query(`create table ${dbzTable} (${COLUMNS})`);
      await admin.query(`create publication ${dbzPublication} for table ${dbzTable}`);
      await createTopic(brokers, dbzTopic);
      debezium = await DebeziumWorker.start({ bootstrapServers: brokers, heapMb: 1024 });
      const w = debezium;
      await w.createConnector('bench-debezium', debeziumPostgresConfig({
        postgresUrl: services.postgres.url, topicPrefix: dbzPrefix, slot: dbzSlot, publication: dbzPublication, table: dbzTable, snapshotMode: 'no_data',
      }));
      await waitStreaming(admin, dbzSlot, () => w.checkRunning('bench-debezium'));
      const dIdleMb = w.rss().rssMb;
      const dCpu0 = w.cpuSeconds();
      const d0 = Date.now();
      const dLoad = await load(admin, dbzTable);
      let dPeak = 0;
      let last = 0;
      let lastMoved = Date.now();
      for (let i = 0; ; i++) {
        dPeak = Math.max(dPeak, w.rss().rssMb);
        const n = await counter.count(dbzTopic);
        if (n >= changes) break;
        if (n !== last) { last = n; lastMoved = Date.now(); }
        if (Date.now() - lastMoved > 180_000) throw new Error(`Debezium stuck at ${n} of ${changes} changes for 180 s; see ${w.worker.logFile}`);
        if (i % 50 === 0) await w.checkRunning('bench-debezium');
        await new Promise((r) => setTimeout(r, 20));
      }
      const dDone = Date.now();
      const dCpu = w.cpuSeconds() - dCpu0;
      const dPeakMb = Math.max(dPeak, w.rss().peakMb);
      await w.deleteConnector('bench-debezium');
      await w.stop();
      debezium = undefined;
      const dLatency = await commitLatencies(brokers, dbzTopic);
      dbz = { seconds: (dDone - d0) / 1000, loadSeconds: (dLoad.loadedAt - d0) / 1000, cpu: dCpu, peakMb: dPeakMb, idleMb: dIdleMb, p50: dLatency.p50, p99: dLatency.p99 };
      console.log(`Debezium: ${changes.toLocaleString('en-US')} changes in Kafka after ${dbz.seconds.toFixed(2)} s (${dLatency.count.toLocaleString('en-US')} records read for latency)`);
    }

    const rate = (s: number) => Math.round(changes / s);
    const row = (what: string, f: Figures) => ({
      what, seconds: f.seconds, 'changes/s': rate(f.seconds), 'p50 ms': f.p50, 'p99 ms': f.p99, 'CPU s': f.cpu, 'idle RSS MB': f.idleMb ?? 0, 'peak RSS MB': f.peakMb,
    });
    const rows: Array<Record<string, string | number>> = [row('tributary postgres-cdc -> Kafka (first commit to every change in the topic)', ours)];
    rows.push({ what: '  the same, until the slot confirmed the last transaction', seconds: ours.confirmedSeconds!, 'changes/s': rate(ours.confirmedSeconds!), 'p50 ms': '', 'p99 ms': '', 'CPU s': '', 'idle RSS MB': '', 'peak RSS MB': '' });
    rows.push({ what: '  the load itself (client inserting), ours', seconds: ours.loadSeconds, 'changes/s': rate(ours.loadSeconds), 'p50 ms': '', 'p99 ms': '', 'CPU s': '', 'idle RSS MB': '', 'peak RSS MB': '' });
    if (dbz) {
      rows.push(row(`${DEBEZIUM_LABEL} (-Xmx1g) -> Kafka`, dbz));
      rows.push({ what: '  the load itself (client inserting), Debezium\'s', seconds: dbz.loadSeconds, 'changes/s': rate(dbz.loadSeconds), 'p50 ms': '', 'p99 ms': '', 'CPU s': '', 'idle RSS MB': '', 'peak RSS MB': '' });
    }
    rows.push({ what: 'ceiling: pg_recvlogical pgoutput -> /dev/null (drain after load)', seconds: ceilingS, 'changes/s': rate(ceilingS), 'p50 ms': '', 'p99 ms': '', 'CPU s': '', 'idle RSS MB': '', 'peak RSS MB': '' });
    printTable(`Postgres CDC streaming: ${changes.toLocaleString('en-US')} changes (60% insert, 30% update, 10% delete, ~200 B rows) to Kafka`, rows);
    const ratios = [`ours/ceiling ${(ceilingS / ours.seconds).toFixed(2)} (goal 0.70)`];
    if (dbz) ratios.unshift(`ours/Debezium throughput ${(dbz.seconds / ours.seconds).toFixed(2)}x (goal 1.5x)`);
    if (dbz) ratios.push(`our peak RSS/Debezium's ${(ours.peakMb / dbz.peakMb).toFixed(2)} (goal 0.25)`);
    console.log(ratios.join(', '));
    console.log(`drain after the load finished: ours ${((inKafkaAt - loadedAt) / 1000).toFixed(2)} s${dbz ? `, Debezium ${(dbz.seconds - dbz.loadSeconds).toFixed(2)} s` : ''}`);
    console.log(`${loadAtStart} at the start, ${loadAverage()} at the end (2 cores, shared)`);
  } finally {
    await stopChild(worker).catch(() => {});
    if (debezium) await debezium.stop().catch(() => {});
    await counter.close();
    for (const s of [slot, ceilingSlot, dbzSlot]) await dropSlot(admin, s).catch(() => {});
    for (const p of [publication, dbzPublication]) await admin.query(`drop publication if exists ${p}`).catch(() => {});
    for (const t of [table, dbzTable]) await admin.query(`drop table if exists ${t}`).catch(() => {});
    await deleteTopics(brokers, [topic, dbzTopic]);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
