import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptLogError, LogClosedError } from '../../../runtime/store/errors.ts';
import { encodeLine, FileCompactedLog } from '../../../runtime/store/file-compacted-log.ts';
import { captureLogger, replay, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

let dir: string;
let cleanup: () => Promise<void>;
let open: FileCompactedLog[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  open = [];
});

afterEach(async () => {
  await Promise.all(open.map((l) => l.close()));
  await cleanup();
});

function newLog(name = 'test.log', options: ConstructorParameters<typeof FileCompactedLog>[1] = {}): FileCompactedLog {
  const log = new FileCompactedLog(path.join(dir, name), { logger: captureLogger(), ...options });
  open.push(log);
  return log;
}

async function lines(name = 'test.log'): Promise<string[]> {
  const text = await readFile(path.join(dir, name), 'utf8');
  return text.split('\n').filter((l) => l.length > 0);
}

describe('FileCompactedLog', () => {
  it('round-trips records, tombstones and batches across close and reopen, in order', async () => {
    const log = newLog();
    await log.start();
    await log.append('a', { n: 1, text: 'line\nbreak "quoted" ü' });
    await log.appendAll([
      { key: 'b', value: [1, 2, { deep: true }] },
      { key: 'c', value: 'plain' },
      { key: 'a', value: null },
    ]);
    await log.append('weird key with spaces and "quotes"', 42);
    await log.close();

    const seen = await replay(newLog());
    expect(seen).toEqual([
      ['a', { n: 1, text: 'line\nbreak "quoted" ü' }],
      ['b', [1, 2, { deep: true }]],
      ['c', 'plain'],
      ['a', null],
      ['weird key with spaces and "quotes"', 42],
    ]);
    expect(await lines()).toHaveLength(5);
  });

  it('delivers an appended record to subscribers before the append resolves, as a fresh copy', async () => {
    const log = newLog();
    const seen: unknown[] = [];
    log.subscribe((key, value, meta) => seen.push({ key, value, offset: meta.offset }));
    await log.start();
    const value = { x: 1 };
    await log.append('k', value);
    value.x = 2;
    expect(seen).toEqual([{ key: 'k', value: { x: 1 }, offset: 0 }]);
  });

  it('rejects appends before start and after close, and values that are not JSON', async () => {
    const log = newLog();
    await expect(log.append('k', 1)).rejects.toThrow(/not started/);
    await log.start();
    await expect(log.append('k', undefined as never)).rejects.toThrow(TypeError);
    await expect(log.append('', 1)).rejects.toThrow(TypeError);
    await log.close();
    await expect(log.append('k', 1)).rejects.toBeInstanceOf(LogClosedError);
  });

  it('refuses a second instance over the same file in one process', async () => {
    await newLog().start();
    await expect(newLog().start()).rejects.toThrow(/already open in this process/);
  });

  it('drops a torn last line (half a record written with fs) on reopen, keeping everything before it', async () => {
    const log = newLog();
    await log.start();
    for (let i = 0; i < 10; i++) await log.append(`k${i}`, { i });
    await log.close();
    const file = path.join(dir, 'test.log');
    const goodSize = (await stat(file)).size;
    const torn = encodeLine('k10', JSON.stringify({ i: 10 }));
    await appendFile(file, torn.slice(0, Math.floor(torn.length / 2)));

    const logger = captureLogger();
    const reopened = newLog('test.log', { logger });
    const seen = await replay(reopened);
    expect(seen.map(([k]) => k)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
    expect((await stat(file)).size).toBe(goodSize);
    const warning = logger.lines.find((l) => l.level === 'warn');
    expect(warning?.msg).toMatch(/torn record/);
    expect(warning?.obj).toMatchObject({ line: 11, reason: 'incomplete last line' });

    // The log goes on cleanly after the truncation.
    await reopened.append('k10', { i: 10 });
    await reopened.close();
    const again = await replay(newLog());
    expect(again).toHaveLength(11);
    expect(again[10]).toEqual(['k10', { i: 10 }]);
  });

  it('drops a complete last line whose checksum does not match', async () => {
    const log = newLog();
    await log.start();
    await log.append('a', 1);
    await log.append('b', 2);
    await log.close();
    const file = path.join(dir, 'test.log');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('["b",2]', '["b",3]'));
    const logger = captureLogger();
    expect(await replay(newLog('test.log', { logger }))).toEqual([['a', 1]]);
    expect(logger.lines.find((l) => l.level === 'warn')?.obj).toMatchObject({ line: 2, reason: 'checksum mismatch' });
  });

  it('keeps every acknowledged record when the writing process is killed (SIGKILL) mid-append', async () => {
    const file = path.join(dir, 'killed.log');
    const child = spawn(process.execPath, ['--no-warnings', path.join(here, 'fixtures', 'append-loop.ts'), file], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let acked = -1;
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`appender exited early with ${code}`)));
      child.on('message', (m: { acked?: number }) => {
        if (m.acked !== undefined) acked = m.acked;
        if (acked >= 2000) resolve();
      });
    });
    child.kill('SIGKILL');
    await exited;
    // Whatever the kill left, make sure a torn tail is there too.
    await appendFile(file, '1234abcd ["r-torn",{"n":');

    const logger = captureLogger();
    const seen = await replay(newLog('killed.log', { logger }));
    const ns = seen.map(([, v]) => (v as { n: number }).n);
    expect(ns.length).toBeGreaterThan(acked);
    // Every record up to the last acknowledged one is there, in order, with nothing missing.
    expect(ns.slice(0, acked + 1)).toEqual(Array.from({ length: acked + 1 }, (_, i) => i));
    for (let i = 1; i < ns.length; i++) expect(ns[i]).toBe(ns[i - 1] + 1);
    expect(logger.lines.some((l) => l.level === 'warn' && /torn/.test(l.msg ?? ''))).toBe(true);
  }, 30_000);

  it('fails to start on a corrupt line in the middle, naming the file and line', async () => {
    const log = newLog();
    await log.start();
    for (let i = 0; i < 5; i++) await log.append(`k${i}`, { i });
    await log.close();
    const file = path.join(dir, 'test.log');
    const text = await readFile(file, 'utf8');
    const before = text;
    await writeFile(file, text.replace('"k1",{"i":1}', '"k1",{"i":7}'));

    const err = await newLog().start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptLogError);
    expect((err as CorruptLogError).line).toBe(2);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('line 2');
    expect((err as Error).message).toMatch(/checksum mismatch/);
    // Nothing was truncated or rewritten.
    expect((await readFile(file, 'utf8')).length).toBe(before.length);
  });

  it('finds a corrupt line across read chunk boundaries', async () => {
    const log = newLog('test.log', { readChunkBytes: 64 });
    await log.start();
    for (let i = 0; i < 20; i++) await log.append(`key-${i}`, { i, pad: 'p'.repeat(i * 7) });
    await log.close();
    const seen = await replay(newLog('test.log', { readChunkBytes: 64 }));
    expect(seen.map(([k]) => k)).toEqual(Array.from({ length: 20 }, (_, i) => `key-${i}`));
    await open.at(-1)!.close();

    const file = path.join(dir, 'test.log');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"key-13"', '"key-31"'));
    await expect(newLog('test.log', { readChunkBytes: 64 }).start()).rejects.toThrow(/line 14/);
  });

  it('compaction keeps exactly the latest value of each key, in last-write order, and drops tombstoned keys', async () => {
    const log = newLog();
    await log.start();
    for (let round = 0; round < 5; round++) {
      await log.appendAll(['a', 'b', 'c', 'd'].map((k) => ({ key: k, value: { k, round } })));
    }
    await log.append('b', null);
    await log.append('a', { k: 'a', round: 99 });
    await log.append('e', null);
    await log.compact();

    expect(await lines()).toHaveLength(3);
    expect(log.stats()).toMatchObject({ compactions: 1, liveKeys: 3 });
    await log.append('f', 'after');
    await log.close();

    expect(await replay(newLog())).toEqual([
      ['c', { k: 'c', round: 4 }],
      ['d', { k: 'd', round: 4 }],
      ['a', { k: 'a', round: 99 }],
      ['f', 'after'],
    ]);
    expect((await readdir(dir)).sort()).toEqual(['test.log']);
  });

  it('compacts by itself once dead bytes exceed live ones by the factor and the minimum', async () => {
    const log = newLog('test.log', { compactionMinBytes: 4096, compactionRatio: 1 });
    await log.start();
    for (let i = 0; i < 120; i++) await log.append(`k${i % 3}`, { i, pad: 'x'.repeat(150) });
    await log.readToEnd();
    const stats = log.stats();
    expect(stats.compactions).toBeGreaterThan(0);
    expect(stats.fileBytes).toBeLessThan(4096 + 3 * 200 * 2);
    await log.close();
    const seen = await replay(newLog());
    const latest = new Map(seen);
    expect(latest.get('k0')).toMatchObject({ i: 117 });
    expect(latest.get('k1')).toMatchObject({ i: 118 });
    expect(latest.get('k2')).toMatchObject({ i: 119 });
  });

  it('a crash between writing the compacted temp file and the rename leaves a readable log', async () => {
    const log = newLog();
    await log.start();
    await log.appendAll(Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 5}`, value: { i } })));
    await log.close();
    const file = path.join(dir, 'test.log');
    // What such a crash leaves: the old file whole, and a compacted temp file (here half written).
    const compacted = (await lines()).slice(-5).join('\n') + '\n';
    await writeFile(`${file}.compact`, compacted.slice(0, compacted.length - 17));

    const logger = captureLogger();
    const seen = await replay(newLog('test.log', { logger }));
    expect(seen).toHaveLength(50);
    expect(new Map(seen).get('k4')).toEqual({ i: 49 });
    expect(await readdir(dir)).toEqual(['test.log']);
    expect(logger.lines.some((l) => l.level === 'warn' && /unfinished compaction/.test(l.msg ?? ''))).toBe(true);
  });

  it('group commit: concurrent appends go out in one write and one fsync', async () => {
    const log = newLog();
    await log.start();
    const seen: string[] = [];
    log.subscribe((k) => seen.push(k));
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(`k${i}`, { i })));
    let stats = log.stats();
    expect(stats.records).toBe(200);
    expect(stats.writes).toBe(1);
    expect(stats.syncs).toBe(1);
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => `k${i}`));

    // Appends arriving while a write is in flight form the next batch, not one fsync each.
    const waves: Array<Promise<void>> = [];
    for (let w = 0; w < 5; w++) {
      waves.push(...Array.from({ length: 50 }, (_, i) => log.append(`w${w}-${i}`, i)));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waves);
    stats = log.stats();
    expect(stats.records).toBe(450);
    expect(stats.syncs).toBeLessThanOrEqual(6);

    // One at a time, each append pays its own fsync.
    for (let i = 0; i < 5; i++) await log.append('seq', i);
    expect(log.stats().syncs).toBe(stats.syncs + 5);
  });

  it('after a failed write it refuses appends with a clear error, and reopening recovers', async () => {
    const logger = captureLogger();
    const log = newLog('test.log', { logger });
    await log.start();
    await log.append('a', 1);
    // Pull the file descriptor from under it: the next write fails as a failing disk would.
    await (log as unknown as { handle: { close(): Promise<void> } }).handle.close();
    await expect(log.append('b', 2)).rejects.toThrow(/Writing to .*test\.log failed.*restart the worker/);
    await expect(log.append('c', 3)).rejects.toThrow(/stopped taking appends/);
    await log.readToEnd();
    expect(logger.lines.some((l) => l.level === 'error')).toBe(true);
    await log.close();
    expect(await replay(newLog())).toEqual([['a', 1]]);
  });

  it('readToEnd waits for appends issued before it', async () => {
    const log = newLog();
    await log.start();
    const seen: string[] = [];
    log.subscribe((k) => seen.push(k));
    void log.append('a', 1);
    void log.append('b', 2);
    await log.readToEnd();
    expect(seen).toEqual(['a', 'b']);
  });

  it('close waits for pending appends', async () => {
    const log = newLog();
    await log.start();
    const pending = Array.from({ length: 20 }, (_, i) => log.append(`k${i}`, i));
    await log.close();
    await Promise.all(pending);
    expect(await replay(newLog())).toHaveLength(20);
  });
});
