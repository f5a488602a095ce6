/**
 * Runs a real `tributary start` worker as a child process (what a user runs), on a free port and
 * its own state dir, for tests that need process boundaries: REST over HTTP, kill -9, restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface WorkerProcess {
  url: string;
  port: number;
  stateDir: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for a graceful exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill9(): Promise<void>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tributary-${prefix}-`));
}

export async function startWorkerProcess(options: { stateDir?: string; port?: number; env?: Record<string, string>; args?: string[] } = {}): Promise<WorkerProcess> {
  const port = options.port ?? (await freePort());
  const stateDir = options.stateDir ?? tempDir('state');
  let out = '';
  const child = spawn(process.execPath, ['runtime/cli/main.ts', 'start', '--no-progress', ...(options.args ?? [])], {
    cwd: process.cwd(),
    env: { ...process.env, TRIBUTARY_REST_PORT: String(port), TRIBUTARY_STATE_DIR: stateDir, TRIBUTARY_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode} before it was ready:\n${out}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker not ready within 30 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    stateDir,
    child,
    output: () => out,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** fetch + JSON, returning status and body. */
export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Poll until `fn` returns a truthy value (or throw with the last value after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last)}${lastErr ? `, last error ${(lastErr as Error).message}` : ''}`);
}
