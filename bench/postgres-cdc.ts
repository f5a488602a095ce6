/**
 * Issue 5's streaming benchmark (workload of /work/shared/reference/benchmarks.md, scaled by
 * BENCH_CDC_BLOCKS, default 1000 blocks of 1000 changes): a real worker streams the changes of
 * the `bench` table from Postgres to real Kafka (JSON converter without schemas, as Debezium's
 * anchor runs). The clock runs from the first commit of the load until the slot's confirmed LSN
 * passes the last transaction: the connector confirms only what Kafka acknowledged, so that is
 * end-to-end delivery. Beside it, the ceiling: pg_recvlogical draining the same changes from a
 * second slot to /dev/null. Worker CPU seconds and peak RSS from /proc.
 *
 * Not measured here (yet): Debezium on Kafka Connect (the anchor), p50/p99 commit-to-Kafka
 * latency, the 5M-row snapshot. Prints a table; never fails on a time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parseLsn } from '../connectors/postgres-cdc/lsn.ts';
import { services } from '../test/infra/env.ts';
import { freePortSync } from './ports.ts';
import { printTable, rssOf, spawnWorker, stopChild, waitHealthy } from './lib.ts';

const BLOCKS = Number(process.env.BENCH_CDC_BLOCKS ?? 1000);
const PG_BIN = '/usr/lib/postgresql/15/bin';

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100/s)
}

export async function run(): Promise<void> {
  const suffix = `${Date.now().toString(36)}`;
  const table = `bench_${suffix}`;
  const slot = `bench_slot_${suffix}`;
  const ceilingSlot = `bench_ceiling_${suffix}`;
  const publication = `bench_pub_${suffix}`;
  const prefix = `bench_${suffix}`;
  const admin = new pg.Client({ connectionString: services.postgres.url });
  await admin.connect();
  const url = new URL(services.postgres.url);
  const port = freePortSync();
  const worker = spawnWorker({
    TRIBUTARY_REST_PORT: String(port), TRIBUTARY_STATE_DIR: `/tmp/bench-cdc-${suffix}`,
    TRIBUTARY_BOOTSTRAP_SERVERS: services.kafka.bootstrapServers, TRIBUTARY_OFFSET_FLUSH_INTERVAL_MS: '200',
  });
  try {
    await admin.query(`create table ${table} (id bigint primary key, name text, email text, amount numeric(12,2), note text, updated_at timestamptz default now())`);
    await admin.query(`create publication ${publication} for table ${table}`);
    await admin.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [ceilingSlot]);
    await waitHealthy(`http://127.0.0.1:${port}`);
    const res = await fetch(`http://127.0.0.1:${port}/connectors`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-cdc', config: {
        'connector.class': 'postgres-cdc', 'database.hostname': url.hostname, 'database.port': url.port, 'database.user': url.username || 'postgres',
        'database.dbname': url.pathname.slice(1), 'topic.prefix': prefix, 'slot.name': slot, 'publication.name': publication,
        'publication.autocreate.mode': 'disabled', 'table.include.list': `public.${table}`, 'snapshot.mode': 'never', 'tombstones.on.delete': 'false',
        'max.batch.size': '8192', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false',
        'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable': 'false',
      } }),
    });
    if (!res.ok) throw new Error(`creating the connector: ${res.status} ${await res.text()}`);
    for (;;) {
      const { rows } = await admin.query('select active from pg_replication_slots where slot_name = $1', [slot]);
      if (rows[0]?.active) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu0 = cpuSeconds(worker.pid!);
    const t0 = Date.now();
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
    const loadedAt = Date.now();
    const target = parseLsn(lastLsn);
    let peak = 0;
    for (;;) {
      peak = Math.max(peak, rssOf(worker.pid!).rssMb);
      const { rows } = await admin.query('select confirmed_flush_lsn::text as l from pg_replication_slots where slot_name = $1', [slot]);
      if (rows[0]?.l && parseLsn(rows[0].l) >= target) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = Date.now();
    const cpu = cpuSeconds(worker.pid!) - cpu0;
    const peakMb = Math.max(peak, rssOf(worker.pid!).peakMb);
    const changes = BLOCKS * 1000;

    const end = (await admin.query('select pg_current_wal_lsn()::text as l')).rows[0].l;
    const c0 = Date.now();
    execFileSync(`${PG_BIN}/pg_recvlogical`, ['-d', services.postgres.url, '--slot', ceilingSlot, '--start', '--endpos', end, '-o', 'proto_version=1', '-o', `publication_names=${publication}`, '-f', '/dev/null', '--no-loop']);
    const ceilingS = (Date.now() - c0) / 1000;

    const secs = (done - t0) / 1000;
    printTable(`Postgres CDC streaming: ${changes.toLocaleString('en-US')} changes (60% insert, 30% update, 10% delete, ~200 B rows) to Kafka`, [
      { what: 'tributary postgres-cdc -> Kafka (first commit to last change confirmed)', seconds: secs, 'changes/s': Math.round(changes / secs), 'worker CPU s': cpu, 'peak RSS MB': peakMb },
      { what: '  of which the load itself (client inserting)', seconds: (loadedAt - t0) / 1000, 'changes/s': Math.round(changes / ((loadedAt - t0) / 1000)), 'worker CPU s': 0, 'peak RSS MB': 0 },
      { what: 'ceiling: pg_recvlogical pgoutput -> /dev/null (drain after load)', seconds: ceilingS, 'changes/s': Math.round(changes / ceilingS), 'worker CPU s': 0, 'peak RSS MB': 0 },
    ]);
    console.log(`drain after the load finished: ${((done - loadedAt) / 1000).toFixed(2)} s`);
  } finally {
    await stopChild(worker).catch(() => {});
    for (const s of [slot, ceilingSlot]) {
      for (let i = 0; i < 50; i++) {
        const { rows } = await admin.query('select active_pid from pg_replication_slots where slot_name = $1', [s]);
        if (rows.length === 0) break;
        if (rows[0].active_pid) { await admin.query('select pg_terminate_backend($1)', [rows[0].active_pid]).catch(() => {}); await new Promise((r) => setTimeout(r, 100)); continue; }
        await admin.query('select pg_drop_replication_slot($1)', [s]).catch(() => {});
      }
    }
    await admin.query(`drop publication if exists ${publication}`).catch(() => {});
    await admin.query(`drop table if exists ${table}`).catch(() => {});
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
