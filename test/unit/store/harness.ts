import path from 'node:path';
import type { CompactedLog, LogValue } from '../../../runtime/store/compacted-log.ts';
import { MemoryCompactedLog, MemoryTopic } from '../../../runtime/store/compacted-log.ts';
import { FileCompactedLog } from '../../../runtime/store/file-compacted-log.ts';
import { captureLogger, tempDir } from './helpers.ts';

/** Durable storage for logs: each `open(name)` is a new log instance over the same data. */
export interface Backing {
  open(name: string): CompactedLog;
  cleanup(): Promise<void>;
}

export interface BackingKind {
  name: string;
  create(): Promise<Backing>;
}

function memory(asyncDelivery: boolean): BackingKind['create'] {
  return async () => {
    const topics = new Map<string, MemoryTopic>();
    return {
      open(name) {
        let topic = topics.get(name);
        if (!topic) {
          topic = new MemoryTopic(name);
          topics.set(name, topic);
        }
        return new MemoryCompactedLog({ topic, asyncDelivery, logger: captureLogger() });
      },
      async cleanup() {},
    };
  };
}

/** Every log the stores must work over: they may not depend on which. */
export const backings: BackingKind[] = [
  { name: 'the memory log', create: memory(false) },
  { name: 'the memory log with Kafka-like asynchronous delivery', create: memory(true) },
  {
    name: 'the file log',
    async create() {
      const { dir, cleanup } = await tempDir();
      return {
        open: (name) => new FileCompactedLog(path.join(dir, `${name}.log`), { logger: captureLogger() }),
        cleanup,
      };
    },
  },
];

/** Record what passes through a log (subscribe before start). */
export function tap(log: CompactedLog): Array<[string, LogValue]> {
  const seen: Array<[string, LogValue]> = [];
  log.subscribe((key, value) => seen.push([key, value]));
  return seen;
}
