// A dedicated PostgreSQL cluster ("tributary", port 5433) with wal_level=logical, made with Debian's
// postgresql-common tools so that the machine's own cluster is never touched:
// `node test/infra/postgres.ts up|down|status`.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  ServiceError, cacheDir, errorText, isMain, isMissingCommand, isPortOpen, logHint, removeFile, run, runCli,
  seconds, waitFor, withLock, withTimeout,
} from './common.ts';
import type { EnsureOptions, Log } from './common.ts';
import { HOST, POSTGRES_DATABASE, postgresInfo, postgresPort } from './endpoints.ts';
import type { PostgresInfo } from './endpoints.ts';

export { postgresInfo };
export type { PostgresInfo };

const SERVICE = 'postgres';
const CLUSTER = 'tributary';
const START_TIMEOUT_MS = 60_000;

export interface PostgresStatus extends PostgresInfo {
  running: boolean;
  startedByUs: boolean;
  cluster: string;
}

const port = postgresPort;
const DATABASE = POSTGRES_DATABASE;

function adminUrl(): string {
  return `postgres://postgres@${HOST}:${port()}/postgres`;
}

function startedMarker(): string {
  return join(cacheDir('postgres'), 'started-by-us');
}

/** The newest PostgreSQL major version installed under /usr/lib/postgresql. */
function majorVersion(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres'))) : [];
  if (versions.length === 0) {
    throw new ServiceError(SERVICE, `no PostgreSQL server under ${root} (Debian: apt-get install postgresql)`);
  }
  return versions.sort((a, b) => Number(b) - Number(a))[0];
}

interface ClusterRow {
  version: string;
  name: string;
  port: number;
  online: boolean;
  logFile: string;
}

async function listClusters(): Promise<ClusterRow[]> {
  let result;
  try {
    result = await run('pg_lsclusters', ['--no-header']);
  } catch (error) {
    if (isMissingCommand(error)) throw new ServiceError(SERVICE, '`pg_lsclusters` not found: the Debian postgresql-common tools are needed (apt-get install postgresql)');
    throw error;
  }
  if (result.code !== 0) throw new ServiceError(SERVICE, `pg_lsclusters failed: ${result.output.trim()}`);
  return result.output.split('\n').filter((l) => l.trim()).map((line) => {
    const [version, name, portText, status, , , logFile] = line.trim().split(/\s+/);
    return { version, name, port: Number(portText), online: status.startsWith('online'), logFile: logFile ?? '' };
  });
}

function clusterLog(version: string): string {
  return `/var/log/postgresql/postgresql-${version}-${CLUSTER}.log`;
}

/** The settings we own: one file in the cluster's conf.d and the whole pg_hba.conf. Returns whether anything changed. */
function writeConfig(version: string, wantedPort: number): boolean {
  const dir = `/etc/postgresql/${version}/${CLUSTER}`;
  const files: Array<[string, string]> = [
    [join(dir, 'conf.d', 'tributary.conf'), [
      '# Written by test/infra/postgres.ts; edit that file, not this one.',
      `port = ${wantedPort}`,
      "listen_addresses = '127.0.0.1'",
      'wal_level = logical',
      'max_replication_slots = 20',
      'max_wal_senders = 20',
      'max_connections = 200',
      // A disposable test database: crash safety buys nothing here and costs time on 2 cores.
      // synchronous_commit stays on: logical decoding reads only flushed WAL, so with it off a
      // change could be invisible to a slot for up to wal_writer_delay after its commit.
      'fsync = off',
      'full_page_writes = off',
      '',
    ].join('\n')],
    [join(dir, 'pg_hba.conf'), [
      '# Written by test/infra/postgres.ts: a local test cluster, trust for local and loopback, replication included.',
      '# TYPE  DATABASE     USER  ADDRESS        METHOD',
      'local   all          all                  trust',
      'local   replication  all                  trust',
      'host    all          all   127.0.0.1/32   trust',
      'host    replication  all   127.0.0.1/32   trust',
      'host    all          all   ::1/128        trust',
      'host    replication  all   ::1/128        trust',
      '',
    ].join('\n')],
  ];
  let changed = false;
  for (const [file, text] of files) {
    if (existsSync(file) && readFileSync(file, 'utf8') === text) continue;
    writeFileSync(file, text);
    changed = true;
  }
  // postgresql.conf's own `port` is what pg_lsclusters shows; keep it in step with conf.d.
  const mainConf = join(dir, 'postgresql.conf');
  const conf = readFileSync(mainConf, 'utf8');
  const updated = conf.replace(/^port\s*=\s*\d+/m, `port = ${wantedPort}`);
  if (updated !== conf) {
    writeFileSync(mainConf, updated);
    changed = true;
  }
  return changed;
}

async function ctl(version: string, action: 'start' | 'stop' | 'restart'): Promise<void> {
  // Stop and restart use pg_ctlcluster's default "fast" mode.
  const args = ['--skip-systemctl-redirect', version, CLUSTER, action];
  let result;
  try {
    result = await run('pg_ctlcluster', args, { timeoutMs: 120_000 });
  } catch (error) {
    if (isMissingCommand(error)) throw new ServiceError(SERVICE, '`pg_ctlcluster` not found: the Debian postgresql-common tools are needed (apt-get install postgresql)');
    throw error;
  }
  if (result.code !== 0) {
    throw new ServiceError(SERVICE, `pg_ctlcluster ${version} ${CLUSTER} ${action} failed: ${result.output.trim().split('\n').slice(-2).join(' | ')}${logHint(clusterLog(version))}`);
  }
}

type Probe = { ok: true; walLevel: string } | { ok: false; reason: string };

/** `select 1` and `show wal_level` against the cluster's postgres database. */
export async function postgresProbe(url = adminUrl(), timeoutMs = 3000): Promise<Probe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await withTimeout('postgres connect', timeoutMs, client.connect());
    await client.query('select 1');
    const { rows } = await client.query<{ wal_level: string }>('show wal_level');
    return { ok: true, walLevel: rows[0].wal_level };
  } catch (error) {
    return { ok: false, reason: errorText(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function ensureDatabase(): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (rowCount === 0) {
      await client.query(`create database ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created by a concurrent run
      });
    }
  } finally {
    await client.end();
  }
}

async function waitUntilAnswering(version: string): Promise<void> {
  const outcome = await waitFor({ timeoutMs: START_TIMEOUT_MS, intervalMs: 200, ready: async () => (await postgresProbe(adminUrl(), 2000)).ok });
  if (outcome !== 'ready') {
    throw new ServiceError(SERVICE, `startup timed out after ${START_TIMEOUT_MS / 1000}s${logHint(clusterLog(version))}`);
  }
}

export async function postgresStatus(): Promise<PostgresStatus> {
  const probe = await postgresProbe();
  let cluster = CLUSTER;
  try {
    cluster = `${majorVersion()}/${CLUSTER}`;
  } catch {
    // reported by ensurePostgres
  }
  return { ...postgresInfo(), running: probe.ok, startedByUs: existsSync(startedMarker()), cluster };
}

/**
 * Creates (once) and starts the dedicated cluster unless it is already running; resolves once it
 * answers `select 1` with wal_level=logical and the `tributary` database exists.
 */
export async function ensurePostgres(opts: EnsureOptions = {}): Promise<PostgresInfo> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const info = postgresInfo();
  const wantedPort = port();
  const started = Date.now();

  return withLock(SERVICE, async () => {
    const version = majorVersion();
    const clusters = await listClusters();
    let ours = clusters.find((c) => c.version === version && c.name === CLUSTER);
    const clash = clusters.find((c) => c.port === wantedPort && c.online && !(c.version === version && c.name === CLUSTER));
    if (clash) {
      throw new ServiceError(SERVICE, `port ${wantedPort} is used by the PostgreSQL cluster ${clash.version}/${clash.name}; set TRIBUTARY_TEST_PG_PORT to another port`);
    }

    let action = 'already running';
    if (!ours) {
      if (await isPortOpen(HOST, wantedPort)) {
        throw new ServiceError(SERVICE, `port ${wantedPort} on ${HOST} is taken by another program; stop it or set TRIBUTARY_TEST_PG_PORT`);
      }
      let result;
      try {
        result = await run('pg_createcluster', ['--start-conf=manual', '-p', String(wantedPort), version, CLUSTER], { timeoutMs: 120_000 });
      } catch (error) {
        if (isMissingCommand(error)) throw new ServiceError(SERVICE, '`pg_createcluster` not found: the Debian postgresql-common tools are needed (apt-get install postgresql-common)');
        throw error;
      }
      if (result.code !== 0) throw new ServiceError(SERVICE, `pg_createcluster ${version} ${CLUSTER} failed: ${result.output.trim().split('\n').slice(-2).join(' | ')}`);
      ours = { version, name: CLUSTER, port: wantedPort, online: false, logFile: clusterLog(version) };
      action = 'created';
    }

    const changed = writeConfig(version, wantedPort);
    if (ours.online && (changed || !(await postgresProbe()).ok)) {
      // Ours by name, so a restart to apply our own settings is fair; only remember it as
      // ours-to-stop if we had started it.
      await ctl(version, 'restart');
      action = 'restarted with new settings';
    } else if (!ours.online) {
      if (await isPortOpen(HOST, wantedPort)) {
        throw new ServiceError(SERVICE, `port ${wantedPort} on ${HOST} is taken by another program; stop it or set TRIBUTARY_TEST_PG_PORT`);
      }
      await ctl(version, 'start');
      writeFileSync(startedMarker(), `${version}/${CLUSTER}\n`);
      action = action === 'created' ? 'created and started' : 'started';
    }

    await waitUntilAnswering(version);
    const probe = await postgresProbe();
    if (probe.ok && probe.walLevel !== 'logical') {
      throw new ServiceError(SERVICE, `the cluster on port ${wantedPort} runs with wal_level=${probe.walLevel}, not logical; restart it: pg_ctlcluster ${version} ${CLUSTER} restart`);
    }
    await ensureDatabase();
    const timing = action === 'already running' ? '' : ` in ${seconds(started)}`;
    log(`postgres: cluster ${version}/${CLUSTER} ${action}${timing}, listening on ${info.url} (wal_level=logical)`);
    return info;
  });
}

/** Stops the cluster if we started it; the machine's own clusters are never touched. */
export async function stopPostgres(opts: EnsureOptions = {}): Promise<void> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const marker = startedMarker();
  if (!existsSync(marker)) {
    log((await postgresProbe()).ok ? `postgres: left running: cluster ${CLUSTER} on port ${port()} was not started by us` : 'postgres: not running');
    return;
  }
  const version = majorVersion();
  const ours = (await listClusters()).find((c) => c.version === version && c.name === CLUSTER);
  if (ours?.online) await ctl(version, 'stop');
  removeFile(marker);
  log(ours?.online ? `postgres: stopped cluster ${version}/${CLUSTER}` : 'postgres: not running');
}

if (isMain(import.meta.url)) {
  await runCli({
    name: SERVICE,
    up: () => ensurePostgres(),
    down: () => stopPostgres(),
    status: async (json) => {
      const status = await postgresStatus();
      if (json) console.log(JSON.stringify(status));
      else console.log(`postgres: ${status.running ? 'running' : 'not running'} on ${status.url} (cluster ${status.cluster})${status.startedByUs ? ' (started by us)' : ''}`);
    },
  });
}
