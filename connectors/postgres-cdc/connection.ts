/** Connections to the captured database, and what its errors mean for the runtime. */
import pg from 'pg';
import { FatalError, RetriableError, sleep } from '../../runtime/api/index.ts';
import type { Logger } from '../../runtime/api/index.ts';
import type { PostgresCdcConfig } from './config.ts';

/** Session settings that fix the text form of values (type-mapping.ts relies on them). */
const SESSION_OPTIONS = '-c DateStyle=ISO -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex';

export function clientConfig(cfg: PostgresCdcConfig, replication = false): pg.ClientConfig {
  const sslmode = cfg['database.sslmode'];
  const ssl = sslmode === 'require' ? { rejectUnauthorized: false } : sslmode === 'verify-ca' || sslmode === 'verify-full' ? { rejectUnauthorized: true } : undefined;
  const out: pg.ClientConfig & { replication?: string } = {
    host: cfg['database.hostname'],
    port: cfg['database.port'],
    user: cfg['database.user'],
    password: cfg['database.password'] ?? undefined,
    database: cfg['database.dbname'],
    ssl,
    connectionTimeoutMillis: cfg['database.connect.timeout.ms'],
    keepAlive: true,
    options: SESSION_OPTIONS,
    application_name: replication ? 'tributary-cdc-stream' : 'tributary-cdc',
  };
  if (replication) out.replication = 'database';
  return out;
}

/** Every raw value as its text: the same form pgoutput sends, so one converter serves both. */
export const TEXT_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

export async function connect(cfg: PostgresCdcConfig, replication = false): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(cfg, replication));
  // A connection lost later surfaces through the next query; never as an unhandled 'error' event.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw classify(e, cfg, replication ? 'opening the replication connection' : 'connecting');
  }
  return client;
}

const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', '40001', '40P01']);

/** A pg or socket error as a FatalError (the user must act) or a RetriableError (try again). */
export function classify(e: unknown, cfg: PostgresCdcConfig, doing: string): Error {
  if (e instanceof FatalError || e instanceof RetriableError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const where = `${cfg['database.user']}@${cfg['database.hostname']}:${cfg['database.port']}/${cfg['database.dbname']}`;
  const msg = err.message ?? String(e);
  switch (code) {
    case '28P01':
      return new FatalError(`Authentication failed for ${where} while ${doing}: wrong password (${msg}). Fix database.password.`, { cause: e });
    case '28000':
      return new FatalError(`Postgres refused ${where} while ${doing}: ${msg}. Check database.user and pg_hba.conf (a replication connection needs a "replication" entry).`, { cause: e });
    case '3D000':
      return new FatalError(`Database ${cfg['database.dbname']} does not exist (${msg}). Fix database.dbname.`, { cause: e });
    case '42501':
      return new FatalError(`User ${cfg['database.user']} lacks a privilege needed while ${doing}: ${msg}. Logical replication needs a role WITH REPLICATION (ALTER ROLE ${cfg['database.user']} WITH REPLICATION) and SELECT on the captured tables.`, { cause: e });
    case '55000':
      return new FatalError(`Postgres is not ready for logical replication while ${doing}: ${msg}. Set wal_level = logical in postgresql.conf and restart the server.`, { cause: e });
    case '55006':
      return new FatalError(`The replication slot ${cfg['slot.name']} is in use by another process (${msg}). Stop the other consumer or give this connector its own slot.name.`, { cause: e });
  }
  if (TRANSIENT_CODES.has(code) || code.startsWith('08') || /Connection terminated|timeout|ECONNRESET|socket hang up/i.test(msg)) {
    return new RetriableError(`Postgres at ${where} is unreachable while ${doing}: ${msg}`, { cause: e });
  }
  return new FatalError(`Postgres error while ${doing} (${where}): ${msg}${code ? ` [${code}]` : ''}`, { cause: e });
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Drop the replication slot once no process streams from it (waits up to `waitMs` for the last
 * one to let go). Returns whether it dropped one; failures are logged, not thrown.
 */
export async function dropSlot(cfg: PostgresCdcConfig, logger: Logger, why: string, waitMs = 10_000): Promise<boolean> {
  let client: pg.Client | undefined;
  try {
    client = await connect(cfg);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { rows } = await client.query<{ active: boolean }>('select active from pg_replication_slots where slot_name = $1', [cfg['slot.name']]);
      if (rows.length === 0) return false;
      if (!rows[0]!.active) {
        await client.query('select pg_drop_replication_slot($1)', [cfg['slot.name']]);
        logger.info({ slot: cfg['slot.name'] }, `dropped replication slot ${cfg['slot.name']} (${why})`);
        return true;
      }
      if (Date.now() > deadline) {
        logger.warn({ slot: cfg['slot.name'] }, `replication slot ${cfg['slot.name']} is still in use; not dropped (${why}). Drop it with pg_drop_replication_slot once nothing streams from it.`);
        return false;
      }
      await sleep(100);
    }
  } catch (e) {
    logger.warn({ err: (e as Error).message }, `could not drop the replication slot ${cfg['slot.name']} (${why})`);
    return false;
  } finally {
    await client?.end().catch(() => {});
  }
}
