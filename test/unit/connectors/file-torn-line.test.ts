import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileStreamSink } from '../../../connectors/file/index.ts';

describe('file sink after a crash mid-write', () => {
  it('cuts off a torn last line before appending, so re-delivered records stay whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'torn-'));
    const file = join(dir, 'out.jsonl');
    writeFileSync(file, '{"seq":0}\n{"seq":1}\n{"se');
    const task = fileStreamSink.createTask();
    const ctrl = new AbortController();
    const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
    await task.start({ file }, {
      connectorName: 'c', taskId: 0, logger, signal: ctrl.signal, reportProgress() {},
      assignment: () => [], pause() {}, resume() {}, requestCommit() {}, reportError: async () => {},
    });
    await task.put([{ topic: 't', kafkaPartition: 0, kafkaOffset: 2, value: { seq: 2 }, originalTopic: 't', originalKafkaPartition: 0, originalKafkaOffset: 2 }]);
    await task.flush(new Map());
    await task.stop();
    expect(readFileSync(file, 'utf8')).toBe('{"seq":0}\n{"seq":1}\n{"seq":2}\n');
  });
});
