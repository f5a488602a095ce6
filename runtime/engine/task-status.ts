/** How runners tell the worker about their state (the worker writes it to the status store), pause, and stop their task. */
import type { Logger } from '../api/index.ts';
import { settlesWithin } from '../api/index.ts';
import type { State } from '../cluster/herder.ts';

export interface TaskStatusListener {
  onState(state: State, error?: unknown): void;
  onProgress(progress: Record<string, unknown>): void;
  /** A record was written to (source) or read from (sink) a topic for the first time. */
  onTopic(topic: string): void;
}

/** A latch the loops wait on while paused. */
export class PauseGate {
  private paused = false;
  private waiters: Array<() => void> = [];

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when resumed or when the signal aborts. */
  wait(signal: AbortSignal): Promise<void> {
    if (!this.paused || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** Kafka Connect's task.shutdown.graceful.timeout.ms default. */
export const DEFAULT_SHUTDOWN_GRACEFUL_TIMEOUT_MS = 5000;

/** The task's stop(), waited for at most `grace` ms; what it throws is logged. */
export async function stopTask(task: { stop(): Promise<void> | void }, grace: number, logger: Logger): Promise<void> {
  const stopped = Promise.resolve()
    .then(() => task.stop())
    .catch((e: unknown) => logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'task stop() threw'));
  if (!(await settlesWithin(stopped, grace))) logger.warn({ timeoutMs: grace }, 'the task\'s stop() did not return within task.shutdown.graceful.timeout.ms; going on without it');
}
