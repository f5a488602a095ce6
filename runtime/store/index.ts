/**
 * The state stores: connector and task configs, source offsets, and status, each over one
 * CompactedLog. Standalone mode keeps them in files under a state directory; distributed mode
 * will put the same stores over Kafka compacted topics.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../api/index.ts';
import { ConfigStore } from './config-store.ts';
import { FileCompactedLog } from './file-compacted-log.ts';
import type { FileCompactedLogOptions } from './file-compacted-log.ts';
import { defaultLogger } from './logging.ts';
import { OffsetStore } from './offset-store.ts';
import { lockStateDir } from './state-dir-lock.ts';
import { StatusStore } from './status-store.ts';

export type { CompactedLog, LogEntry, LogSubscriber, LogValue, MemoryCompactedLogOptions, RecordMeta } from './compacted-log.ts';
export { MemoryCompactedLog, MemoryTopic } from './compacted-log.ts';
export type { FileCompactedLogOptions, FileLogStats } from './file-compacted-log.ts';
export { FileCompactedLog } from './file-compacted-log.ts';
export type { ConfigChange, ConfigSnapshot, ConfigStoreOptions } from './config-store.ts';
export { ConfigStore } from './config-store.ts';
export type { OffsetStoreOptions, SourceOffset, SourceOffsetUpdate } from './offset-store.ts';
export { OffsetStore, offsetKey } from './offset-store.ts';
export type { PutOptions, StatusChange, StatusEntry, StatusStoreOptions, TaskStatusEntry, TopicStatus } from './status-store.ts';
export { StatusStore } from './status-store.ts';
export type { StateDirLock } from './state-dir-lock.ts';
export { lockStateDir, LOCK_FILE_NAME } from './state-dir-lock.ts';
export { CorruptLogError, LogClosedError, StateDirLockedError } from './errors.ts';

export const DEFAULT_STATE_DIR = '.tributary';

export interface FileStores {
  readonly stateDir: string;
  readonly configs: ConfigStore;
  readonly offsets: OffsetStore;
  readonly status: StatusStore;
  /** Close the stores (finishing pending writes) and release the state directory. */
  close(): Promise<void>;
}

/**
 * Open the standalone worker's stores in `stateDir` (created when missing): lock it, replay
 * configs.log, offsets.log and status.log, and hand back the stores, current and following.
 * Throws StateDirLockedError when another live worker holds the directory, CorruptLogError when a
 * log is damaged beyond a torn last write.
 */
export async function openFileStores(
  stateDir: string = DEFAULT_STATE_DIR,
  logger: Logger = defaultLogger,
  options: Omit<FileCompactedLogOptions, 'logger'> = {},
): Promise<FileStores> {
  const dir = path.resolve(stateDir);
  await mkdir(dir, { recursive: true });
  const lock = await lockStateDir(dir, logger);
  const logOptions = { ...options, logger };
  const configs = new ConfigStore(new FileCompactedLog(path.join(dir, 'configs.log'), logOptions), { logger });
  const offsets = new OffsetStore(new FileCompactedLog(path.join(dir, 'offsets.log'), logOptions), { logger });
  const status = new StatusStore(new FileCompactedLog(path.join(dir, 'status.log'), logOptions), { logger });
  const closeAll = async (): Promise<void> => {
    try {
      await Promise.all([configs.close(), offsets.close(), status.close()]);
    } finally {
      await lock.release();
    }
  };
  const started = await Promise.allSettled([configs.start(), offsets.start(), status.start()]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await closeAll().catch(() => {});
    throw failed.reason;
  }
  let closing: Promise<void> | undefined;
  return {
    stateDir: dir,
    configs,
    offsets,
    status,
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}
