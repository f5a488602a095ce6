/**
 * Runs one sink task (Kafka Connect's WorkerSinkTask): topic -> converters -> transforms -> put,
 * then on an interval (or when enough records are uncommitted) flush -> commit offsets. Offsets
 * are committed only for what the task's flush made durable, so a crash re-delivers, never skips.
 */
import type { Converter, Logger, Schema, SinkOffsets, SinkRecord, SinkTask, SinkTaskContext, TaskConfig, TopicPartition } from '../api/index.ts';
import { settlesWithin, topicPartitionKey } from '../api/index.ts';
import { ErrorHandler, SKIPPED } from './error-handler.ts';
import type { WorkerMetrics } from './metrics.ts';
import { DEFAULT_SHUTDOWN_GRACEFUL_TIMEOUT_MS, PauseGate, stopTask, type TaskStatusListener } from './task-status.ts';
import type { BusConsumer, ConsumedRecord, ConsumerOptions, TopicBus } from './topic-bus.ts';

type Transform = (r: SinkRecord) => SinkRecord | null;

/** How long a sink waits for more records before flushing what it has. */
const IDLE_FLUSH_MS = 50;

/**
 * On in-process topics, flush at least this often (in records). A record stays on an in-process
 * topic, with its whole value, until every sink group committed past it: committing in small
 * steps lets records die young in V8's young generation instead of being promoted (the old
 * generation then grows to several times the live data before it is collected). The topic's
 * capacity still bounds what producers may run ahead while a flush is under way.
 */
const MEMORY_FLUSH_MAX_RECORDS = 1024;

export interface SinkTaskRunnerOptions {
  connectorName: string;
  taskId: number;
  task: SinkTask;
  taskConfig: TaskConfig;
  bus: TopicBus;
  topics: string[];
  topicsRegex?: RegExp;
  converters?: { key: Converter; value: Converter };
  transform: Transform;
  /** The connector has no transforms: records may carry their value's JSON bytes (`valueJson`). */
  untransformed?: boolean;
  errors: ErrorHandler;
  logger: Logger;
  metrics: WorkerMetrics;
  status: TaskStatusListener;
  offsetFlushIntervalMs: number;
  /** Flush early once this many records are uncommitted (keeps in-process producers from waiting a whole interval). */
  flushMaxRecords: number;
  maxPollRecords: number;
  /** How long stop() waits for put() to return and for the task's stop() (task.shutdown.graceful.timeout.ms). */
  shutdownGracefulTimeoutMs?: number;
}

function rethrow(e: unknown): never {
  throw e;
}

function sinkRecord(r: ConsumedRecord, key: unknown, keySchema: Schema | undefined, value: unknown, valueSchema: Schema | undefined, valueJson?: Buffer): SinkRecord {
  return {
    topic: r.topic,
    kafkaPartition: r.kafkaPartition,
    kafkaOffset: r.kafkaOffset,
    key,
    keySchema,
    value,
    valueSchema,
    timestamp: r.timestamp,
    headers: r.headers,
    originalTopic: r.topic,
    originalKafkaPartition: r.kafkaPartition,
    originalKafkaOffset: r.kafkaOffset,
    valueJson,
  };
}

export class SinkTaskRunner {
  private readonly o: SinkTaskRunnerOptions;
  private readonly abort = new AbortController();
  private readonly gate = new PauseGate();
  private consumer: BusConsumer | undefined;
  private loop: Promise<void> | undefined;
  private failed = false;
  /** Next offset to read per partition, for everything handed to put() (or skipped). */
  private readonly current: SinkOffsets = new Map();
  private readonly committed = new Map<string, number>();
  private uncommitted = 0;
  private behind = false;
  private lastCommit = Date.now();
  private commitRequested = false;
  private readonly seenTopics = new Set<string>();
  private readonly labels: { connector: string; task: string };
  private readonly flushMaxRecords: number;

  constructor(options: SinkTaskRunnerOptions) {
    this.o = options;
    this.labels = { connector: options.connectorName, task: String(options.taskId) };
    this.flushMaxRecords = options.bus.kind === 'memory' ? Math.min(options.flushMaxRecords, MEMORY_FLUSH_MAX_RECORDS) : options.flushMaxRecords;
  }

  async start(initiallyPaused = false): Promise<void> {
    const { task, taskConfig, status, errors } = this.o;
    if (initiallyPaused) this.gate.pause();
    const context: SinkTaskContext = {
      connectorName: this.o.connectorName,
      taskId: this.o.taskId,
      logger: this.o.logger,
      signal: this.abort.signal,
      reportProgress: (p) => status.onProgress(p),
      assignment: () => this.consumer?.assignment() ?? [],
      pause: (tps) => this.consumer?.pause(tps),
      resume: (tps) => this.consumer?.resume(tps),
      requestCommit: () => {
        this.commitRequested = true;
      },
      reportError: (record, error) => errors.report('TASK_PUT', error, { record, executingClass: this.o.connectorName }),
    };
    try {
      await task.start(taskConfig, context);
    } catch (e) {
      this.fail(e);
      return;
    }
    const options: ConsumerOptions = {
      groupId: `connect-${this.o.connectorName}`,
      memberId: `${this.o.connectorName}-${this.o.taskId}`,
      topics: this.o.topics,
      topicsRegex: this.o.topicsRegex,
      onAssign: (assigned, revoked) => this.onAssign(assigned, revoked),
    };
    this.consumer = this.o.bus.consumer(options);
    status.onState(initiallyPaused ? 'PAUSED' : 'RUNNING');
    this.loop = this.run();
  }

  pause(): void {
    this.gate.pause();
    if (!this.failed) this.o.status.onState('PAUSED');
  }

  resume(): void {
    this.gate.resume();
    if (!this.failed) this.o.status.onState('RUNNING');
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  private async onAssign(assigned: TopicPartition[], revoked: TopicPartition[]): Promise<void> {
    if (revoked.length > 0) {
      await this.commit();
      for (const tp of revoked) this.current.delete(topicPartitionKey(tp));
      await this.o.task.close?.(revoked);
    }
    if (assigned.length > 0) await this.o.task.open?.(assigned);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const consumer = this.consumer!;
    try {
      while (!signal.aborted) {
        if (this.gate.isPaused) {
          await this.maybeCommit(true);
          await this.gate.wait(signal);
          continue;
        }
        // With records delivered but not flushed, wait only briefly: when the stream pauses, flush
        // at once instead of holding the tail (and its sources' offsets) for a whole interval.
        const wait = this.uncommitted > 0 ? IDLE_FLUSH_MS : Math.min(500, this.o.offsetFlushIntervalMs);
        const raw = await consumer.poll(this.o.maxPollRecords, wait, signal);
        if (raw.length > 0) await this.deliver(raw, signal);
        await this.maybeCommit(raw.length === 0 && this.uncommitted > 0);
      }
    } catch (e) {
      if (!signal.aborted) this.fail(e);
    }
  }

  private async deliver(raw: ConsumedRecord[], signal: AbortSignal): Promise<void> {
    const { errors, transform, converters, metrics } = this.o;
    metrics.sinkRead.inc(this.labels, raw.length);
    const out: SinkRecord[] = [];
    // Plain JSON values and no transform to change them: the bytes read are the value's JSON, so
    // sinks that write JSON need not serialize the value again.
    const passJson = converters !== undefined && converters.value.readsPlainJson === true && this.o.untransformed === true;
    // Polls return runs of records from one partition: look its position up once per run. The hot
    // path allocates no closures or context objects for the error handler unless a step throws.
    let cur: { topic: string; partition: number; offset: number } | undefined;
    for (const r of raw) {
      if (cur === undefined || cur.topic !== r.topic || cur.partition !== r.kafkaPartition) {
        const key = topicPartitionKey({ topic: r.topic, partition: r.kafkaPartition });
        cur = this.current.get(key);
        if (cur === undefined) {
          cur = { topic: r.topic, partition: r.kafkaPartition, offset: r.kafkaOffset + 1 };
          this.current.set(key, cur);
        }
        if (!this.seenTopics.has(r.topic)) {
          this.seenTopics.add(r.topic);
          this.o.status.onTopic(r.topic);
        }
      }
      cur.offset = r.kafkaOffset + 1;
      let record: SinkRecord;
      if (converters) {
        let k: { schema?: Schema; value: unknown } | typeof SKIPPED | Promise<typeof SKIPPED>;
        try {
          k = converters.key.toConnectData(r.topic, r.keyBytes ?? null, r.headers);
        } catch (e) {
          k = errors.executeSync('KEY_CONVERTER', () => rethrow(e), { record: r });
        }
        if (k instanceof Promise) k = await k;
        if (k === SKIPPED) continue;
        let v: { schema?: Schema; value: unknown } | typeof SKIPPED | Promise<typeof SKIPPED>;
        try {
          v = converters.value.toConnectData(r.topic, r.valueBytes ?? null, r.headers);
        } catch (e) {
          v = errors.executeSync('VALUE_CONVERTER', () => rethrow(e), { record: r });
        }
        if (v instanceof Promise) v = await v;
        if (v === SKIPPED) continue;
        record = sinkRecord(r, k.value, k.schema, v.value, v.schema, passJson && v.value !== null ? (r.valueBytes ?? undefined) : undefined);
      } else {
        // In-process topics store records in the exact shape of a SinkRecord: hand them on as they are.
        record = (r as Partial<SinkRecord>).originalTopic !== undefined ? (r as SinkRecord) : sinkRecord(r, r.key, r.keySchema, r.value, r.valueSchema);
      }
      let t: SinkRecord | null | typeof SKIPPED | Promise<typeof SKIPPED>;
      try {
        t = transform(record);
      } catch (e) {
        t = errors.executeSync('TRANSFORMATION', () => rethrow(e), { record });
      }
      if (t instanceof Promise) t = await t;
      if (t === SKIPPED || t === null) continue;
      out.push(t);
    }
    this.uncommitted += raw.length;
    if (out.length === 0) return;
    await errors.withRetries('TASK_PUT', () => this.o.task.put(out), signal, true);
    metrics.sinkPut.inc(this.labels, out.length);
  }

  private async maybeCommit(force: boolean): Promise<void> {
    const due = Date.now() - this.lastCommit >= this.o.offsetFlushIntervalMs;
    if (force || this.commitRequested || this.uncommitted >= this.flushMaxRecords || (due && (this.uncommitted > 0 || this.behind))) {
      await this.commit();
    } else if (due) {
      this.lastCommit = Date.now();
      void this.reportLag();
    }
  }

  /** flush() the task, then commit what it says is durable. */
  private async commit(): Promise<void> {
    this.commitRequested = false;
    this.lastCommit = Date.now();
    if ((this.uncommitted === 0 && !this.behind) || !this.consumer) return;
    const offsets: SinkOffsets = new Map([...this.current].map(([k, v]) => [k, { ...v }]));
    const end = this.o.metrics.offsetCommit.startTimer(this.labels);
    const returned = await this.o.errors.withRetries('TASK_PUT', () => this.o.task.flush(offsets), this.abort.signal, true);
    const toCommit: SinkOffsets = new Map();
    for (const [k, v] of returned ?? offsets) {
      if ((this.committed.get(k) ?? -1) < v.offset) toCommit.set(k, v);
    }
    if (toCommit.size > 0) {
      try {
        await this.consumer.commit(toCommit);
        for (const [k, v] of toCommit) this.committed.set(k, v.offset);
      } catch (e) {
        this.o.metrics.offsetCommitFailures.inc(this.labels);
        this.o.logger.warn({ err: (e as Error).message }, 'sink offset commit failed; will retry at the next flush');
        return;
      }
    }
    end();
    // A task that holds records back (flush returned offsets behind) is asked again at the next interval.
    this.uncommitted = 0;
    this.behind = [...this.current].some(([k, v]) => (this.committed.get(k) ?? -1) < v.offset);
    void this.reportLag();
  }

  private async reportLag(): Promise<void> {
    if (!this.consumer) return;
    try {
      for (const [k, lag] of await this.consumer.lag()) {
        const i = k.lastIndexOf('-');
        this.o.metrics.sinkLag.set({ ...this.labels, topic: k.slice(0, i), partition: k.slice(i + 1) }, lag);
      }
    } catch {
      // lag is best effort
    }
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.o.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'sink task failed');
    this.o.status.onState('FAILED', e);
    this.abort.abort();
  }

  /** Stop consuming, flush and commit what was delivered (unless failed), close partitions, stop the task. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.gate.resume();
    const grace = this.o.shutdownGracefulTimeoutMs ?? DEFAULT_SHUTDOWN_GRACEFUL_TIMEOUT_MS;
    const returned = await settlesWithin(this.loop, grace);
    if (!returned) {
      // flush() must not run beside a put() that never returned: nothing more is committed, and
      // what was delivered since the last commit is delivered again after a restart.
      this.o.logger.warn({ timeoutMs: grace }, 'the task did not return from put() within task.shutdown.graceful.timeout.ms of being asked to stop; abandoning it without a final flush');
    }
    if (returned && !this.failed && this.consumer) {
      try {
        await this.commit();
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, 'final flush failed; records will be re-delivered');
      }
      try {
        await this.o.task.close?.(this.consumer.assignment());
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, 'task close() threw');
      }
    }
    await this.consumer?.close();
    await stopTask(this.o.task, grace, this.o.logger);
  }
}
