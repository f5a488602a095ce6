/**
 * Lazy tasks: a connector whose task pulls in a heavy client library (an AWS SDK, a queue client)
 * should not make every worker load it at start, whether or not the connector is used. Wrap the
 * task so its module is imported in `start()`:
 *
 * ```ts
 * createTask: () => lazySinkTask(async () => new (await import('./my-sink-task.ts')).MySinkTask()),
 * ```
 * Every other method delegates to the loaded task; the runtime never calls them before `start`.
 */
import type { SinkTask, SourceTask } from './connector.ts';

export function lazySourceTask(load: () => Promise<SourceTask>): SourceTask {
  let task: SourceTask | undefined;
  return {
    async start(config, context) {
      task = await load();
      await task.start(config, context);
    },
    poll: (signal) => task!.poll(signal),
    commit: (committed) => task?.commit?.(committed),
    signal: (signal) => task?.signal?.(signal) ?? false,
    stop: () => task?.stop(),
  };
}

export function lazySinkTask(load: () => Promise<SinkTask>): SinkTask {
  let task: SinkTask | undefined;
  return {
    async start(config, context) {
      task = await load();
      await task.start(config, context);
    },
    open: (partitions) => task?.open?.(partitions),
    put: (records) => task!.put(records),
    flush: (offsets) => task!.flush(offsets),
    close: (partitions) => task?.close?.(partitions),
    stop: () => task?.stop(),
  };
}
