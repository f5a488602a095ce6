/**
 * Kafka Connect's error handling (RetryWithToleranceOperator + DeadLetterQueueReporter), as one
 * small object per task. Every step that can fail on a record runs through `execute`:
 *
 * - a RetriableError is retried with exponential backoff (from 300 ms, capped at
 *   errors.retry.delay.max.ms) until errors.retry.timeout has passed (0: no retry, -1: forever);
 * - when it still fails, or fails with any other error: with errors.tolerance=none the task fails
 *   (ToleranceExceededError, carrying the cause); with all, the failure is logged (errors.log.*),
 *   written to the dead-letter queue (when one is set, with __connect.errors.* headers when
 *   enabled) and the record is skipped.
 */
import { ConnectError, RetriableError, traceOf, type ConnectRecord, type Header, type Logger } from '../api/index.ts';
import type { ErrorHandlingConfig } from './connector-config.ts';

export type Stage =
  | 'TASK_POLL' | 'TRANSFORMATION' | 'KEY_CONVERTER' | 'VALUE_CONVERTER' | 'HEADER_CONVERTER'
  | 'KAFKA_PRODUCE' | 'KAFKA_CONSUME' | 'TASK_PUT';

export const SKIPPED: unique symbol = Symbol('skipped');

export class ToleranceExceededError extends ConnectError {
  readonly stage: Stage;

  constructor(stage: Stage, cause: unknown) {
    super(`Tolerance exceeded in error handler at stage ${stage}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.stage = stage;
  }
}

/** Where a failed record came from, for logs and DLQ headers. */
export interface ErrorContext {
  record?: ConnectRecord & { kafkaPartition?: number; kafkaOffset?: number; originalTopic?: string; originalKafkaPartition?: number; originalKafkaOffset?: number };
  executingClass?: string;
}

export interface DeadLetterQueue {
  /** Durably write one failed record with its context headers. */
  write(record: ConnectRecord, headers: Header[]): Promise<void>;
}

export interface ErrorHandlerMetrics {
  recordError(stage: Stage, tolerated: boolean): void;
  recordRetry(stage: Stage): void;
  recordDeadLettered(): void;
}

export class ErrorHandler {
  private readonly config: ErrorHandlingConfig;
  private readonly logger: Logger;
  private readonly dlq: DeadLetterQueue | undefined;
  private readonly connectorName: string;
  private readonly taskId: number;
  private readonly metrics: ErrorHandlerMetrics | undefined;

  constructor(options: {
    config: ErrorHandlingConfig;
    logger: Logger;
    dlq?: DeadLetterQueue;
    connectorName: string;
    taskId: number;
    metrics?: ErrorHandlerMetrics;
  }) {
    this.config = options.config;
    this.logger = options.logger;
    this.dlq = options.dlq;
    this.connectorName = options.connectorName;
    this.taskId = options.taskId;
    this.metrics = options.metrics;
  }

  get tolerateAll(): boolean {
    return this.config.tolerance === 'all';
  }

  /** Run `fn`, retrying and tolerating per config. Returns SKIPPED when the record was dropped. */
  async execute<T>(stage: Stage, fn: () => T | Promise<T>, context: ErrorContext, signal?: AbortSignal): Promise<T | typeof SKIPPED> {
    let error: unknown;
    try {
      return await this.withRetries(stage, fn, signal);
    } catch (e) {
      error = e;
    }
    if (signal?.aborted) throw error;
    return this.handleFailure(stage, error, context);
  }

  /** Synchronous variant for the hot path (transforms, converters): pure steps, so no retries. */
  executeSync<T>(stage: Stage, fn: () => T, context: ErrorContext): T | typeof SKIPPED | Promise<typeof SKIPPED> {
    try {
      return fn();
    } catch (e) {
      return this.handleFailure(stage, e, context);
    }
  }

  /** A failure the task already decided to report (a sink's errant record reporter). */
  async report(stage: Stage, error: unknown, context: ErrorContext): Promise<void> {
    await this.handleFailure(stage, error, context);
  }

  /**
   * Retry a call that is not tied to one record (poll, put): RetriableErrors retry with backoff for
   * errors.retry.timeout, or forever when it is 0 and `forever` is set (Connect's put/poll rule).
   */
  async withRetries<T>(stage: Stage, fn: () => T | Promise<T>, signal?: AbortSignal, forever = false): Promise<T> {
    const start = Date.now();
    let delay = 300;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof RetriableError) || signal?.aborted) throw e;
        const timeout = this.config.retryTimeoutMs;
        const unbounded = timeout === -1 || (forever && timeout === 0);
        if (!unbounded && Date.now() - start >= timeout) throw e;
        this.metrics?.recordRetry(stage);
        let wait = e.retryAfterMs ?? Math.min(delay, this.config.retryDelayMaxMs);
        wait = Math.round(wait * (0.8 + Math.random() * 0.4));
        if (!unbounded) wait = Math.max(0, Math.min(wait, timeout - (Date.now() - start)));
        this.logger.warn({ stage, attempt, waitMs: wait, err: e.message }, 'retriable error; retrying');
        await sleep(wait, signal);
        delay = Math.min(delay * 2, this.config.retryDelayMaxMs);
      }
    }
  }

  private async handleFailure(stage: Stage, error: unknown, context: ErrorContext): Promise<typeof SKIPPED> {
    if (this.config.tolerance !== 'all') {
      this.metrics?.recordError(stage, false);
      throw error instanceof ToleranceExceededError ? error : new ToleranceExceededError(stage, error);
    }
    this.metrics?.recordError(stage, true);
    if (this.config.logEnable) {
      const r = context.record;
      const where = r ? { topic: r.topic, partition: r.kafkaPartition, offset: r.kafkaOffset } : {};
      const msg = this.config.logIncludeMessages && r ? { ...where, key: r.key, value: r.value } : where;
      this.logger.error({ stage, err: error instanceof Error ? error.message : String(error), record: msg }, `Error encountered in task ${this.connectorName}-${this.taskId} at stage ${stage}; tolerated`);
    }
    if (this.dlq && context.record) {
      const headers = this.config.dlqContextHeaders ? this.contextHeaders(stage, error, context) : [];
      await this.dlq.write(context.record, headers);
      this.metrics?.recordDeadLettered();
    }
    return SKIPPED;
  }

  private contextHeaders(stage: Stage, error: unknown, context: ErrorContext): Header[] {
    const r = context.record!;
    const h = (key: string, value: unknown): Header => ({ key: `__connect.errors.${key}`, value: value === undefined ? null : String(value) });
    const out: Header[] = [];
    if (r.originalTopic !== undefined || r.kafkaOffset !== undefined) {
      out.push(h('topic', r.originalTopic ?? r.topic), h('partition', r.originalKafkaPartition ?? r.kafkaPartition), h('offset', r.originalKafkaOffset ?? r.kafkaOffset));
    } else {
      out.push(h('topic', r.topic));
    }
    out.push(
      h('connector.name', this.connectorName),
      h('task.id', this.taskId),
      h('stage', stage),
      h('class.name', context.executingClass ?? 'unknown'),
    );
    if (error instanceof Error) {
      out.push(h('exception.class.name', error.name), h('exception.message', error.message), h('exception.stacktrace', traceOf(error)));
    } else {
      out.push(h('exception.class.name', typeof error), h('exception.message', String(error)));
    }
    return out;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
