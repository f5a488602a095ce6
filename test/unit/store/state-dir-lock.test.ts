import { spawn } from 'node:child_process';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateDirLockedError } from '../../../runtime/store/errors.ts';
import { LOCK_FILE_NAME, lockStateDir } from '../../../runtime/store/state-dir-lock.ts';
import { captureLogger, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  await cleanup();
});

describe('lockStateDir', () => {
  it('refuses a second opener with an error naming the holder pid, and allows one after release', async () => {
    const lock = await lockStateDir(dir);
    const content = JSON.parse(await readFile(path.join(dir, LOCK_FILE_NAME), 'utf8'));
    expect(content.pid).toBe(process.pid);

    const err = await lockStateDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDirLockedError);
    expect((err as StateDirLockedError).pid).toBe(process.pid);
    expect((err as Error).message).toContain(`process ${process.pid}`);
    expect((err as Error).message).toContain(dir);

    await lock.release();
    const again = await lockStateDir(dir);
    await again.release();
  });

  it('refuses while another process holds the lock, and takes it over once that process is killed', async () => {
    const child = spawn(process.execPath, ['--no-warnings', path.join(here, 'fixtures', 'hold-lock.ts'), dir], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('message', () => resolve());
      });
      const err = await lockStateDir(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateDirLockedError);
      expect((err as Error).message).toContain(`process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const logger = captureLogger();
    const lock = await lockStateDir(dir, logger);
    expect(logger.lines.some((l) => l.level === 'warn' && /stale/.test(l.msg ?? ''))).toBe(true);
    expect(JSON.parse(await readFile(lock.file, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  }, 20_000);

  it('never takes over a lock written on another host', async () => {
    await writeFile(path.join(dir, LOCK_FILE_NAME), JSON.stringify({ pid: 999999, hostname: 'elsewhere.example' }));
    await expect(lockStateDir(dir)).rejects.toThrow(/process 999999 on host elsewhere\.example/);
  });

  it('takes over an old lock file with no pid in it', async () => {
    const file = path.join(dir, LOCK_FILE_NAME);
    await writeFile(file, '');
    const old = new Date(Date.now() - 60_000);
    await utimes(file, old, old);
    const lock = await lockStateDir(dir, captureLogger());
    await lock.release();
  });
});
