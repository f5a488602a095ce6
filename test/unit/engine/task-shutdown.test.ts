// A task that ignores its abort signal must not hang its runner's stop() (and with it a delete, a
// rebalance or the worker's shutdown): after task.shutdown.graceful.timeout.ms the runner gives
// up on it, still stops the task, and a sink whose put() never returned is not flushed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Logger, SinkTask, SourceTask } from '../../../runtime/api/index.ts';
import { errorHandlingConfig } from '../../../runtime/engine/connector-config.ts';
import { ErrorHandler } from '../../../runtime/engine/error-handler.ts';
import { MemoryBus } from '../../../runtime/engine/memory-bus.ts';
import { WorkerMetrics } from '../../../runtime/engine/metrics.ts';
import { SinkTaskRunner } from '../../../runtime/engine/worker-sink-task.ts';
import { SourceTaskRunner } from '../../../runtime/engine/worker-source-task.ts';
import { FileCompactedLog } from '../../../runtime/store/file-compacted-log.ts';
import { OffsetStore } from '../../../runtime/store/offset-store.ts';

function capture(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn(_o: unknown, msg?: string) { warnings.push(String(msg)); }, error() {}, child: () => logger } as Logger;
  return { logger, warnings };
}

const common = (logger: Logger) => ({
  connectorName: 'c', taskId: 0, taskConfig: {}, transform: <R>(r: R) => r, logger,
  errors: new ErrorHandler({ config: errorHandlingConfig({}), logger, connectorName: 'c', taskId: 0 }),
  metrics: new WorkerMetrics({ defaultMetrics: false }), status: { onState() {}, onProgress() {}, onTopic() {} },
  offsetFlushIntervalMs: 50, shutdownGracefulTimeoutMs: 200,
});

describe('task.shutdown.graceful.timeout.ms', () => {
  it('abandons a source task whose poll() ignores the signal, and still stops it', async () => {
    const { logger, warnings } = capture();
    const offsets = new OffsetStore(new FileCompactedLog(join(mkdtempSync(join(tmpdir(), 'shutdown-')), 'offsets.log'), { logger }), { logger });
    await offsets.start();
    let stopped = false;
    let polled = 0;
    const task: SourceTask = {
      async start() {},
      poll: () => {
        polled++;
        return new Promise(() => {}); // never returns, whatever the signal says
      },
      async stop() { stopped = true; },
    };
    const runner = new SourceTaskRunner({ ...common(logger), task, producer: new MemoryBus().producer('p'), offsets });
    await runner.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(polled).toBe(1);
    await runner.stop();
    expect(stopped).toBe(true);
    expect(warnings.some((w) => w.includes('did not return from poll()'))).toBe(true);
    await offsets.close?.();
  });

  it('abandons a sink task whose put() never returns without flushing it, and still stops it', async () => {
    const { logger, warnings } = capture();
    const bus = new MemoryBus();
    // Durable only once a sink commits it, which this one never will: not awaited.
    await bus.producer('p').send([{ topic: 't', value: { a: 1 } }]);
    let stopped = false;
    let flushed = 0;
    let put = 0;
    const task: SinkTask = {
      async start() {},
      put: () => {
        put++;
        return new Promise(() => {});
      },
      async flush() { flushed++; },
      async stop() { stopped = true; },
    };
    const runner = new SinkTaskRunner({ ...common(logger), task, bus, topics: ['t'], flushMaxRecords: 1000, maxPollRecords: 100 });
    await runner.start();
    for (let i = 0; i < 50 && put === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(put).toBe(1);
    await runner.stop();
    expect(stopped).toBe(true);
    expect(flushed).toBe(0);
    expect(warnings.some((w) => w.includes('did not return from put()'))).toBe(true);
  });
});
