/**
 * One worker per state directory: a lock file created exclusively (O_EXCL), holding the owner's
 * pid and host. A lock whose pid is no longer running on this host is stale (its worker crashed)
 * and is taken over. A lock from another host is never taken over: its pid cannot be checked here.
 */
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../api/index.ts';
import { StateDirLockedError } from './errors.ts';
import { defaultLogger } from './logging.ts';

export const LOCK_FILE_NAME = 'worker.lock';

export interface StateDirLock {
  readonly file: string;
  /** Delete the lock file if it is still ours. */
  release(): Promise<void>;
}

interface Holder {
  raw: string;
  pid: number | undefined;
  hostname: string | undefined;
}

/** A lock file this young with no pid in it may be one being written right now. */
const UNREADABLE_GRACE_MS = 5_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<Holder | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const parsed = JSON.parse(raw) as { pid?: unknown; hostname?: unknown };
    return {
      raw,
      pid: Number.isInteger(parsed.pid) && (parsed.pid as number) > 0 ? (parsed.pid as number) : undefined,
      hostname: typeof parsed.hostname === 'string' ? parsed.hostname : undefined,
    };
  } catch {
    return { raw, pid: undefined, hostname: undefined };
  }
}

/**
 * Remove a stale lock without removing a fresh one that replaced it meanwhile: move it aside
 * (only one process can), check it is the stale one we read, and put it back otherwise.
 */
async function removeStale(file: string, staleRaw: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readFile(aside, 'utf8').catch(() => staleRaw);
  if (moved !== staleRaw) await link(aside, file).catch(() => {});
  await unlink(aside).catch(() => {});
}

export async function lockStateDir(dir: string, logger: Logger = defaultLogger): Promise<StateDirLock> {
  const absDir = path.resolve(dir);
  const file = path.join(absDir, LOCK_FILE_NAME);
  const hostname = os.hostname();
  const content = `${JSON.stringify({ pid: process.pid, hostname, startedAt: new Date().toISOString() })}\n`;

  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o644);
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return {
        file,
        async release() {
          const holder = await readHolder(file).catch(() => undefined);
          if (holder?.raw === content) await unlink(file).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }

    const holder = await readHolder(file);
    if (!holder) continue;
    if (holder.pid === undefined) {
      const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age < UNREADABLE_GRACE_MS) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      logger.warn({ file }, 'removing an unreadable state directory lock file');
      await removeStale(file, holder.raw);
      continue;
    }
    const sameHost = holder.hostname === undefined || holder.hostname === hostname;
    if (!sameHost || pidAlive(holder.pid)) {
      throw new StateDirLockedError(absDir, file, holder.pid, holder.hostname, sameHost);
    }
    logger.warn({ file, pid: holder.pid }, 'taking over a stale state directory lock (its worker is no longer running)');
    await removeStale(file, holder.raw);
  }
  throw new Error(`Could not take the lock ${file}: it kept changing hands. Is another worker starting on the same directory?`);
}
