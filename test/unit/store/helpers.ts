import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../../runtime/api/index.ts';
import type { CompactedLog, LogValue } from '../../../runtime/store/compacted-log.ts';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: unknown;
  msg?: string;
}

/** A logger that keeps what it was told, for assertions. */
export function captureLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = {
    lines,
    debug: (obj: unknown, msg?: string) => void lines.push({ level: 'debug', obj, msg }),
    info: (obj: unknown, msg?: string) => void lines.push({ level: 'info', obj, msg }),
    warn: (obj: unknown, msg?: string) => void lines.push({ level: 'warn', obj, msg }),
    error: (obj: unknown, msg?: string) => void lines.push({ level: 'error', obj, msg }),
    child: () => logger,
  };
  return logger;
}

export async function tempDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Everything a freshly opened log replays, in order. */
export async function replay(log: CompactedLog): Promise<Array<[string, LogValue]>> {
  const seen: Array<[string, LogValue]> = [];
  log.subscribe((key, value) => seen.push([key, value]));
  await log.start();
  await log.readToEnd();
  return seen;
}
