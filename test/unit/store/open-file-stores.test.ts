import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptLogError, openFileStores, StateDirLockedError } from '../../../runtime/store/index.ts';
import type { FileStores } from '../../../runtime/store/index.ts';
import { captureLogger, tempDir } from './helpers.ts';

let dir: string;
let cleanup: () => Promise<void>;
let opened: FileStores[];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  opened = [];
});

afterEach(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await cleanup();
});

async function openStores(stateDir: string): Promise<FileStores> {
  const stores = await openFileStores(stateDir, captureLogger());
  opened.push(stores);
  return stores;
}

describe('openFileStores', () => {
  it('creates the state directory with one log per store, and restores all three after close and reopen', async () => {
    const stateDir = path.join(dir, 'nested', '.tributary');
    const first = await openStores(stateDir);
    await first.configs.putConnectorConfig('src', { 'connector.class': 'demo' }, 'PAUSED');
    await first.configs.putTaskConfigs('src', [{ t: '0' }]);
    await first.offsets.set('src', [{ partition: { file: 'a' }, offset: { line: 10 } }]);
    await first.status.putConnector('src', { state: 'PAUSED', workerId: 'local', generation: 0 });
    await first.status.putTopic('src', 'lines', 0);
    expect((await readdir(stateDir)).sort()).toEqual(['configs.log', 'offsets.log', 'status.log', 'worker.lock']);
    await first.close();
    expect((await readdir(stateDir)).sort()).toEqual(['configs.log', 'offsets.log', 'status.log']);

    const second = await openStores(stateDir);
    expect(second.configs.snapshot()).toEqual({
      connectors: new Map([['src', { 'connector.class': 'demo' }]]),
      taskConfigs: new Map([['src', [{ t: '0' }]]]),
      targetStates: new Map([['src', 'PAUSED']]),
      inconsistent: new Set(),
    });
    expect(await second.offsets.get('src', { file: 'a' })).toEqual({ line: 10 });
    expect(second.status.getConnector('src')?.state).toBe('PAUSED');
    expect(second.status.topics('src')).toEqual(['lines']);
  });

  it('refuses a second worker on the same state directory, naming the holder', async () => {
    const first = await openStores(dir);
    const err = await openFileStores(dir, captureLogger()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateDirLockedError);
    expect((err as Error).message).toContain(`process ${process.pid}`);
    await first.close();
    await openStores(dir);
  });

  it('fails on a corrupt log, naming it, and leaves the directory unlocked', async () => {
    const first = await openStores(dir);
    await first.configs.putConnectorConfig('a', { x: '1' });
    await first.configs.putConnectorConfig('b', { x: '2' });
    await first.close();
    const file = path.join(dir, 'configs.log');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('"x":"1"', '"x":"9"'));

    const err = await openFileStores(dir, captureLogger()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptLogError);
    expect((err as Error).message).toContain(`${file} at line 1`);
    expect(await readdir(dir)).not.toContain('worker.lock');

    await writeFile(file, text);
    const again = await openStores(dir);
    expect(again.configs.connectorNames().sort()).toEqual(['a', 'b']);
  });
});
