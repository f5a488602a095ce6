/**
 * Prometheus metrics of one worker (prom-client, its own registry). Per-connector and per-task
 * labels; runners hold pre-bound children so the hot path is one increment per batch.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorHandlerMetrics, Stage } from './error-handler.ts';

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly sourcePolled: Counter<'connector' | 'task'>;
  readonly sourceWritten: Counter<'connector' | 'task'>;
  readonly sinkRead: Counter<'connector' | 'task'>;
  readonly sinkPut: Counter<'connector' | 'task'>;
  readonly errors: Counter<'connector' | 'task' | 'stage' | 'tolerated'>;
  readonly retries: Counter<'connector' | 'task' | 'stage'>;
  readonly deadLettered: Counter<'connector' | 'task'>;
  readonly offsetCommit: Histogram<'connector' | 'task'>;
  readonly offsetCommitFailures: Counter<'connector' | 'task'>;
  readonly sinkLag: Gauge<'connector' | 'task' | 'topic' | 'partition'>;
  readonly taskState: Gauge<'connector' | 'task' | 'state'>;
  readonly progress: Gauge<'connector' | 'task' | 'key'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const ct = ['connector', 'task'] as const;
    this.sourcePolled = new Counter({ name: 'tributary_source_records_polled_total', help: 'Records returned by source task poll()', labelNames: ct, registers });
    this.sourceWritten = new Counter({ name: 'tributary_source_records_written_total', help: 'Source records accepted by the topic after transforms', labelNames: ct, registers });
    this.sinkRead = new Counter({ name: 'tributary_sink_records_read_total', help: 'Records read from topics by sink tasks', labelNames: ct, registers });
    this.sinkPut = new Counter({ name: 'tributary_sink_records_put_total', help: 'Records handed to sink task put() after transforms', labelNames: ct, registers });
    this.errors = new Counter({ name: 'tributary_task_errors_total', help: 'Errors by stage; tolerated=true when skipped under errors.tolerance=all', labelNames: ['connector', 'task', 'stage', 'tolerated'], registers });
    this.retries = new Counter({ name: 'tributary_task_retries_total', help: 'Retries of retriable errors', labelNames: ['connector', 'task', 'stage'], registers });
    this.deadLettered = new Counter({ name: 'tributary_deadletterqueue_records_total', help: 'Records written to the dead-letter queue', labelNames: ct, registers });
    this.offsetCommit = new Histogram({ name: 'tributary_offset_commit_seconds', help: 'Time to commit offsets (source offsets, or sink flush plus commit)', labelNames: ct, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    this.offsetCommitFailures = new Counter({ name: 'tributary_offset_commit_failures_total', help: 'Failed offset commits', labelNames: ct, registers });
    this.sinkLag = new Gauge({ name: 'tributary_sink_lag_records', help: 'Records not yet committed by a sink task, per partition', labelNames: ['connector', 'task', 'topic', 'partition'], registers });
    this.taskState = new Gauge({ name: 'tributary_task_state', help: '1 for the current state of each task', labelNames: ['connector', 'task', 'state'], registers });
    this.progress = new Gauge({ name: 'tributary_task_progress', help: 'Numeric progress a task reported (e.g. snapshot rows)', labelNames: ['connector', 'task', 'key'], registers });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'tributary_' });
  }

  errorHandlerMetrics(connector: string, task: number): ErrorHandlerMetrics {
    const t = String(task);
    return {
      recordError: (stage: Stage, tolerated: boolean) => this.errors.inc({ connector, task: t, stage, tolerated: String(tolerated) }),
      recordRetry: (stage: Stage) => this.retries.inc({ connector, task: t, stage }),
      recordDeadLettered: () => this.deadLettered.inc({ connector, task: t }),
    };
  }

  setTaskState(connector: string, task: number, state: string): void {
    const t = String(task);
    for (const s of ['UNASSIGNED', 'RUNNING', 'PAUSED', 'STOPPED', 'FAILED', 'RESTARTING']) {
      this.taskState.set({ connector, task: t, state: s }, s === state ? 1 : 0);
    }
  }

  setProgress(connector: string, task: number, progress: Record<string, unknown>): void {
    for (const [key, v] of Object.entries(progress)) {
      if (typeof v === 'number' && Number.isFinite(v)) this.progress.set({ connector, task: String(task), key }, v);
    }
  }

  /** Drop every series of a connector that was deleted (prom-client removes by exact label set). */
  async removeConnector(connector: string): Promise<void> {
    for (const m of [this.sourcePolled, this.sourceWritten, this.sinkRead, this.sinkPut, this.errors, this.retries, this.deadLettered, this.offsetCommit, this.offsetCommitFailures, this.sinkLag, this.taskState, this.progress]) {
      const metric = m as unknown as { get(): Promise<{ values: Array<{ labels: Record<string, string | number> }> }>; remove(labels: Record<string, string | number>): void };
      const seen = new Set<string>();
      for (const { labels } of (await metric.get()).values) {
        if (labels.connector !== connector) continue;
        // Histograms report one value per bucket; remove each label set once, without the bucket label.
        const { le: _le, ...own } = labels;
        const key = JSON.stringify(own);
        if (seen.has(key)) continue;
        seen.add(key);
        metric.remove(own);
      }
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
