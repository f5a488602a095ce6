// Shared plumbing for the test-service modules (kafka.ts, s3.ts, postgres.ts, redis.ts): paths,
// port probes, pid files, detached processes, Maven resolution and the one-line failure contract.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const INFRA_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(INFRA_DIR, '..', '..');
export const CACHE_DIR = join(INFRA_DIR, '.cache');

export type Log = (line: string) => void;

export interface EnsureOptions {
  /** Where the one "listening on" line (and progress) goes; defaults to stdout. */
  log?: Log;
}

/** A failure with one line of meaning: which service, and why. The CLI prints it and exits 1. */
export class ServiceError extends Error {
  readonly service: string;
  constructor(service: string, message: string) {
    super(message);
    this.name = 'ServiceError';
    this.service = service;
  }
  get line(): string {
    return `${this.service}: ${this.message}`;
  }
}

export function cacheDir(...parts: string[]): string {
  const dir = join(CACHE_DIR, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A path as a person would type it from the repository root. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel || '.';
}

export function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`${name}=${raw} is not a TCP port`);
  }
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export function seconds(sinceMs: number): string {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)}s`;
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (open: boolean) => {
      socket.destroy();
      done(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Rejects with a plain Error after `ms`; the probe that lost the race is left to fail on its own. */
export async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error as one short line (a reason inside a one-line failure message). */
export function errorText(error: unknown): string {
  const oneLine = (text: string) => {
    const flat = text.replace(/\s+/g, ' ').trim();
    return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
  };
  if (error instanceof AggregateError && error.errors.length > 0) return errorText(error.errors[0]);
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const own = error.message || error.name;
    return oneLine(cause instanceof Error && cause.message && !own.includes(cause.message) ? `${own} (${cause.message})` : own);
  }
  return oneLine(String(error));
}

// ---- processes and pid files ----

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** The pid recorded in `pidFile` if that process is still alive and its command line contains `marker`. */
export function livePid(pidFile: string, marker: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0].trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  return commandLineOf(pid).includes(marker) ? pid : undefined;
}

/** The port recorded on the second line of a pid file by spawnDetached. */
export function recordedPort(pidFile: string): number | undefined {
  try {
    const port = Number(readFileSync(pidFile, 'utf8').split('\n')[1]);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/**
 * Starts a long-running process in its own process group, detached from ours, with stdout and
 * stderr appended to `outFile`, and records its pid and the port it serves. It outlives the caller (a second test run
 * reuses it).
 */
export function spawnDetached(command: string, args: string[], opts: { outFile: string; pidFile: string; port: number; cwd?: string; env?: NodeJS.ProcessEnv }): number {
  const out = openSync(opts.outFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid}\n${opts.port}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
export async function terminate(pid: number, graceMs: number): Promise<'stopped' | 'killed'> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'stopped';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  while (isAlive(pid)) await sleep(50);
  return 'killed';
}

export interface RunResult {
  code: number;
  output: string;
}

/** Runs a command to completion, stdout and stderr merged. A missing executable rejects with ENOENT. */
export function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

export function isMissingCommand(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export function tail(path: string, lines = 5): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-lines);
  } catch {
    return [];
  }
}

/**
 * "; last lines of <log>: a | b | c", for a failure message that must stay on one line. Stack
 * frames are skipped: the exception's own message is what says why.
 */
export function logHint(path: string, lines = 3): string {
  const meaningful = tail(path, 400).filter((l) => !/^\s+(at |\.\.\. \d+ more)/.test(l));
  const last = meaningful.slice(-lines).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l));
  return last.length > 0 ? `; last lines of ${shown(path)}: ${last.join(' | ')}` : `; see ${shown(path)}`;
}

/**
 * Polls `ready` until it returns true. `gone` is asked between polls and, when it returns a reason,
 * ends the wait at once (e.g. the process we started has exited).
 */
export async function waitFor(opts: { timeoutMs: number; intervalMs?: number; ready: () => Promise<boolean>; gone?: () => string | undefined }): Promise<'ready' | 'timeout' | string> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await opts.ready()) return 'ready';
    const reason = opts.gone?.();
    if (reason) return reason;
    if (Date.now() >= deadline) return 'timeout';
    await sleep(opts.intervalMs ?? 250);
  }
}

// ---- a lock so that two `up`s (say `npm test` in two shells) do not start the same service twice ----

export async function withLock<T>(service: string, work: () => Promise<T>, timeoutMs = 240_000): Promise<T> {
  const lockDir = join(cacheDir('locks'), `${service}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), `${process.pid}\n`);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // being written or removed right now
      }
      const age = existsSync(lockDir) ? Date.now() - statSync(lockDir).mtimeMs : 0;
      if ((Number.isInteger(holder) && !isAlive(holder)) || (Number.isNaN(holder) && age > 5000)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ServiceError(service, `another process (pid ${holder}) has been starting it for over ${timeoutMs / 1000}s; remove ${shown(lockDir)} if that is wrong`);
      await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

// ---- Java and Maven ----

export function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Fails with one line unless a Java 17+ runtime is there. */
export async function requireJava(service: string): Promise<string> {
  const java = javaCommand();
  let result: RunResult;
  try {
    result = await run(java, ['-version'], { timeoutMs: 30_000 });
  } catch (error) {
    if (isMissingCommand(error)) {
      throw new ServiceError(service, `\`${java}\` not found: install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME`);
    }
    throw new ServiceError(service, `\`${java} -version\` failed: ${errorText(error)}`);
  }
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.output);
  const major = match ? (match[1] === '1' ? Number(match[2]) : Number(match[1])) : NaN;
  if (result.code !== 0 || !(major >= 17)) {
    throw new ServiceError(service, `needs Java 17 or newer, but \`${java} -version\` says: ${result.output.split('\n')[0] || `exit ${result.code}`}`);
  }
  return java;
}

let mavenQueue: Promise<unknown> = Promise.resolve();

/**
 * Copies the runtime dependencies of `pomPath` into `libsDir` with a pinned dependency plugin,
 * unless `libsDir` already holds a complete copy for this exact POM (then nothing is downloaded and
 * Maven is not even started). Resolutions run one at a time: Maven 3.8's local repository is not
 * safe for two processes writing the same artifact.
 */
export function resolveWithMaven(service: string, pomPath: string, libsDir: string, log: Log): Promise<void> {
  const next = mavenQueue.then(() => resolveNow(service, pomPath, libsDir, log));
  mavenQueue = next.catch(() => undefined);
  return next;
}

async function resolveNow(service: string, pomPath: string, libsDir: string, log: Log): Promise<void> {
  const stamp = join(libsDir, '.resolved');
  const pomHash = createHash('sha256').update(readFileSync(pomPath)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === pomHash && readdirSync(libsDir).some((f) => f.endsWith('.jar'))) return;

  rmSync(libsDir, { recursive: true, force: true });
  mkdirSync(libsDir, { recursive: true });
  const mavenLog = join(dirname(libsDir), 'maven.log');
  const started = Date.now();
  log(`${service}: resolving ${shown(pomPath)} from Maven Central into ${shown(libsDir)} (first run only)`);
  let result: RunResult;
  try {
    result = await run('mvn', [
      '-B', '-q', '-f', pomPath,
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      '-DincludeScope=runtime', `-DoutputDirectory=${libsDir}`,
    ], { timeoutMs: 15 * 60_000 });
  } catch (error) {
    if (isMissingCommand(error)) throw new ServiceError(service, '`mvn` not found: install Apache Maven (Debian: apt-get install maven) to fetch the server jars');
    throw new ServiceError(service, `could not run mvn: ${errorText(error)}`);
  }
  writeFileSync(mavenLog, result.output);
  if (result.code !== 0) {
    const text = result.output.replace(/\x1b\[[0-9;]*m/g, '');
    const unreachable = /(Unknown ?host [^\s:]+|UnknownHostException[^\s]*|Connection refused|Network is unreachable|connect timed out|Connection timed out|No route to host)/i.exec(text);
    const missing = /Could not find artifact (\S+)/.exec(text) ?? /Failure to find (\S+)/.exec(text) ?? /(\S+:\S+) was not found in/.exec(text);
    const firstError = text.split('\n').find((l) => l.startsWith('[ERROR]'))?.slice(0, 240);
    const why = unreachable
      ? `Maven Central unreachable (${unreachable[1]})`
      : missing
        ? `artifact not resolved: ${missing[1]} is not in Maven Central`
        : `mvn exited ${result.code}${firstError ? `: ${firstError}` : ''}`;
    rmSync(libsDir, { recursive: true, force: true });
    throw new ServiceError(service, `${why}; full output in ${shown(mavenLog)}`);
  }
  writeFileSync(stamp, `${pomHash}\n`);
  log(`${service}: jars resolved in ${seconds(started)}`);
}

// ---- the command line shared by every module ----

export function isMain(importMetaUrl: string): boolean {
  return process.argv[1] !== undefined && importMetaUrl === pathToFileURL(resolve(process.argv[1])).href;
}

export interface ServiceCli {
  name: string;
  up: () => Promise<unknown>;
  down: () => Promise<unknown>;
  status: (json: boolean) => Promise<unknown>;
}

/** `node test/infra/<x>.ts up|down|status [--json]`: failures print one line and exit 1. */
export async function runCli(cli: ServiceCli): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    if (command === 'up') await cli.up();
    else if (command === 'down') await cli.down();
    else if (command === 'status') await cli.status(rest.includes('--json'));
    else {
      process.stderr.write(`usage: node ${shown(process.argv[1] ?? cli.name)} up|down|status [--json]\n`);
      process.exitCode = 2;
      return;
    }
  } catch (error) {
    const line = error instanceof ServiceError ? error.line : `${cli.name}: ${errorText(error)}`;
    process.stderr.write(`${line}\n`);
    process.exitCode = 1;
  }
  // Client libraries may keep sockets (keep-alive agents, reconnect timers) open for a while; the
  // servers we started are detached, so leaving now is safe.
  process.exit(process.exitCode ?? 0);
}
