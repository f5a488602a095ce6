// Redis for integration tests: the machine's own Redis on 127.0.0.1:6379 when it runs (normally),
// else one we start and later stop: `node test/infra/redis.ts up|down|status`.
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  ServiceError, cacheDir, isMain, isMissingCommand, isPortOpen, livePid, logHint, removeFile, run, runCli,
  seconds, terminate, waitFor, withLock,
} from './common.ts';
import type { EnsureOptions, Log } from './common.ts';
import { HOST, redisInfo, redisPort } from './endpoints.ts';
import type { RedisInfo } from './endpoints.ts';

export { redisInfo };
export type { RedisInfo };

const SERVICE = 'redis';
const START_TIMEOUT_MS = 20_000;
const LOG_FILE = '/var/log/redis/ci.log';

export interface RedisStatus extends RedisInfo {
  running: boolean;
  startedByUs: boolean;
  pid?: number;
}

const port = redisPort;

function pidFile(): string {
  return join(cacheDir('redis'), 'redis.pid');
}

/** The Redis protocol's PING, over a raw socket: '+PONG', an error reply such as '-NOAUTH', or undefined. */
export function redisPing(host = HOST, p = port(), timeoutMs = 1500): Promise<string | undefined> {
  return new Promise((done) => {
    const socket = connect({ host, port: p });
    let reply = '';
    const finish = (value: string | undefined) => {
      socket.destroy();
      done(value);
    };
    socket.setTimeout(timeoutMs, () => finish(undefined));
    socket.once('error', () => finish(undefined));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.split('\r\n')[0]);
    });
    socket.once('end', () => finish(reply || undefined));
  });
}

function ourPid(): number | undefined {
  return livePid(pidFile(), 'redis-server');
}

export async function redisStatus(): Promise<RedisStatus> {
  const pid = ourPid();
  const running = (await redisPing()) === '+PONG';
  return { ...redisInfo(), running, startedByUs: pid !== undefined, ...(pid !== undefined ? { pid } : {}) };
}

/** Uses the Redis that answers PING on the port, or starts one (without persistence) and records that we did. */
export async function ensureRedis(opts: EnsureOptions = {}): Promise<RedisInfo> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const info = redisInfo();
  const p = port();
  const started = Date.now();

  const answer = await redisPing();
  if (answer === '+PONG') {
    log(`redis: already running, listening on ${info.url}${ourPid() !== undefined ? ' (started by us)' : ''}`);
    return info;
  }

  return withLock(SERVICE, async () => {
    const again = await redisPing();
    if (again === '+PONG') {
      log(`redis: already running, listening on ${info.url}`);
      return info;
    }
    if (again !== undefined) {
      throw new ServiceError(SERVICE, `the Redis on ${HOST}:${p} answers PING with "${again}" (it needs a password?); tests expect an open Redis, or set TRIBUTARY_TEST_REDIS_PORT`);
    }
    if (await isPortOpen(HOST, p)) {
      throw new ServiceError(SERVICE, `port ${p} on ${HOST} is taken by a program that does not answer as Redis; stop it or set TRIBUTARY_TEST_REDIS_PORT`);
    }
    mkdirSync('/var/lib/redis', { recursive: true });
    mkdirSync('/var/log/redis', { recursive: true });
    let result;
    try {
      result = await run('redis-server', [
        '--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(p), '--save', '', '--appendonly', 'no',
        '--dir', '/var/lib/redis', '--logfile', LOG_FILE, '--pidfile', pidFile(),
      ], { timeoutMs: 30_000 });
    } catch (error) {
      if (isMissingCommand(error)) throw new ServiceError(SERVICE, '`redis-server` not found and no Redis answers on 127.0.0.1:6379 (Debian: apt-get install redis-server)');
      throw error;
    }
    if (result.code !== 0) throw new ServiceError(SERVICE, `redis-server failed to start: ${result.output.trim().split('\n').pop()}${logHint(LOG_FILE)}`);

    const outcome = await waitFor({ timeoutMs: START_TIMEOUT_MS, intervalMs: 100, ready: async () => (await redisPing()) === '+PONG' });
    if (outcome !== 'ready') throw new ServiceError(SERVICE, `startup timed out after ${START_TIMEOUT_MS / 1000}s${logHint(LOG_FILE)}`);
    log(`redis: started redis-server (pid ${ourPid() ?? '?'}) in ${seconds(started)}, listening on ${info.url}`);
    return info;
  });
}

/** Stops Redis only if we started it (our pid file); the machine's own Redis stays up. */
export async function stopRedis(opts: EnsureOptions = {}): Promise<void> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const pid = ourPid();
  if (pid === undefined) {
    removeFile(pidFile());
    log((await redisPing()) === '+PONG' ? `redis: left running: the Redis on ${redisInfo().url} was not started by us` : 'redis: not running');
    return;
  }
  await terminate(pid, 10_000);
  removeFile(pidFile());
  log(`redis: stopped (pid ${pid})`);
}

if (isMain(import.meta.url)) {
  await runCli({
    name: SERVICE,
    up: () => ensureRedis(),
    down: () => stopRedis(),
    status: async (json) => {
      const status = await redisStatus();
      if (json) console.log(JSON.stringify(status));
      else console.log(`redis: ${status.running ? 'running' : 'not running'} on ${status.url}${status.startedByUs ? ` (started by us, pid ${status.pid})` : ''}`);
    },
  });
}
