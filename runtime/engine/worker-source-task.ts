/**
 * Runs one source task (Kafka Connect's WorkerSourceTask): poll -> transforms -> converters ->
 * topic, and commits source offsets only for records that are durable (acknowledged by Kafka, or
 * flushed by every sink of an in-process topic), in poll order. The connector's task sees none of
 * this: it returns records and gets `commit()` calls. With `transactions` (exactly-once) the
 * offsets go into the transaction of the records instead, committed between polls.
 */
import type { Converter, JsonObject, Logger, SourceRecord, SourceTask, SourceTaskContext, TaskConfig, TaskSignal } from '../api/index.ts';
import { settlesWithin } from '../api/index.ts';
import type { OffsetStore, SourceOffsetUpdate } from '../store/index.ts';
import { ErrorHandler, SKIPPED } from './error-handler.ts';
import type { WorkerMetrics } from './metrics.ts';
import { DEFAULT_SHUTDOWN_GRACEFUL_TIMEOUT_MS, PauseGate, stopTask, type TaskStatusListener } from './task-status.ts';
import type { BusProducer, BusRecord, RawKafkaRecord, TransactionalBusProducer } from './topic-bus.ts';

type Transform = (r: SourceRecord) => SourceRecord | null;

interface PendingBatch {
  /** Newest offset per source partition in this batch (keyed by the partition's JSON). */
  offsets: Map<string, { partition: JsonObject; offset: JsonObject }>;
  durable: boolean;
}

export interface SourceTaskRunnerOptions {
  connectorName: string;
  taskId: number;
  task: SourceTask;
  taskConfig: TaskConfig;
  producer: BusProducer;
  /** Converters when the bus carries bytes (Kafka); undefined for in-process topics. */
  converters?: { key: Converter; value: Converter };
  transform: Transform;
  offsets: OffsetStore;
  errors: ErrorHandler;
  logger: Logger;
  metrics: WorkerMetrics;
  status: TaskStatusListener;
  offsetFlushIntervalMs: number;
  /** How long stop() waits for in-flight records before committing what is durable. */
  offsetFlushTimeoutMs?: number;
  /**
   * How long stop() waits for poll() to return and for the task's stop() (Kafka Connect's
   * task.shutdown.graceful.timeout.ms, default 5000): a task that ignores its abort signal is
   * abandoned rather than left to hang a rebalance, a delete or the worker's shutdown.
   */
  shutdownGracefulTimeoutMs?: number;
  /**
   * Exactly-once (distributed mode with exactly.once.source.support=enabled, KIP-618): `producer`
   * is this transactional producer; the records of each transaction and the offsets they advance
   * to commit together, so a crash or a zombie can repeat nothing a read_committed reader saw.
   * `boundary` poll: a transaction per poll batch (Connect's default); interval: every `intervalMs`.
   */
  transactions?: {
    producer: TransactionalBusProducer;
    offsetRecords(entries: SourceOffsetUpdate[]): RawKafkaRecord[];
    boundary: 'poll' | 'interval';
    intervalMs: number;
  };
}

const NO_RECORDS: SourceRecord[] = [];

function rethrow(e: unknown): never {
  throw e;
}


/**
 * A converted record for the Kafka producer: only the fields it reads, in one fixed shape (a
 * spread would copy every field of the connector's record, source partition and offset included).
 */
/** The converted record: bytes only, so the value's objects can die while the bytes wait for Kafka. */
function withBytes(t: SourceRecord, keyBytes: Buffer | null, valueBytes: Buffer | null): BusRecord {
  return {
    topic: t.topic,
    kafkaPartition: t.kafkaPartition,
    key: undefined,
    value: undefined,
    timestamp: t.timestamp,
    headers: t.headers,
    keyBytes,
    valueBytes,
  };
}

export class SourceTaskRunner {
  private readonly o: SourceTaskRunnerOptions;
  private readonly abort = new AbortController();
  private readonly gate = new PauseGate();
  private readonly pending: PendingBatch[] = [];
  private readonly seenTopics = new Set<string>();
  private loop: Promise<void> | undefined;
  private committing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private failed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly labels: { connector: string; task: string };
  private lastTransaction = Date.now();
  /** stop() stopped waiting for the poll loop. */
  private abandoned = false;

  constructor(options: SourceTaskRunnerOptions) {
    this.o = options;
    this.labels = { connector: options.connectorName, task: String(options.taskId) };
  }

  /** Starts the task; resolves once it is running (or failed: the status says which). */
  async start(initiallyPaused = false): Promise<void> {
    const { task, taskConfig, status } = this.o;
    if (initiallyPaused) this.gate.pause();
    const context: SourceTaskContext = {
      connectorName: this.o.connectorName,
      taskId: this.o.taskId,
      logger: this.o.logger,
      signal: this.abort.signal,
      reportProgress: (p) => status.onProgress(p),
      offsetStorageReader: {
        offset: (partition) => this.o.offsets.get(this.o.connectorName, partition),
        offsets: () => this.o.offsets.getAll(this.o.connectorName),
      },
    };
    try {
      // Fence zombies of this task (and abort their open transaction) before its offsets are read.
      await this.o.transactions?.producer.begin();
      await task.start(taskConfig, context);
    } catch (e) {
      this.fail(e);
      return;
    }
    status.onState(initiallyPaused ? 'PAUSED' : 'RUNNING');
    if (!this.o.transactions) {
      this.timer = setInterval(() => void this.commitOffsets(), this.o.offsetFlushIntervalMs);
      this.timer.unref();
    }
    this.loop = this.run();
  }

  /** Hand a signal to the task; whether it took it (false when it handles no signals or is not running). */
  async signal(signal: TaskSignal): Promise<boolean> {
    if (!this.loop || this.failed || this.abort.signal.aborted || !this.o.task.signal) return false;
    return this.o.task.signal(signal);
  }

  pause(): void {
    this.gate.pause();
    if (!this.failed) this.o.status.onState('PAUSED');
  }

  resume(): void {
    this.gate.resume();
    if (!this.failed) this.o.status.onState('RUNNING');
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const { task, errors, metrics } = this.o;
    try {
      while (!signal.aborted) {
        if (this.gate.isPaused) {
          if (this.o.transactions) await this.commitTransaction();
          await this.gate.wait(signal);
          continue;
        }
        let records = await errors.withRetries('TASK_POLL', () => task.poll(signal), signal, true);
        // Records a poll returns after stop() gave up waiting for it are dropped: their offsets
        // will never be committed, so they are polled again after a restart.
        if (signal.aborted && (records.length === 0 || this.abandoned)) break;
        if (records.length === 0) {
          if (this.o.transactions && Date.now() - this.lastTransaction >= this.o.transactions.intervalMs) await this.commitTransaction();
          await new Promise((r) => setImmediate(r));
          continue;
        }
        metrics.sourcePolled.inc(this.labels, records.length);
        const converted = await this.convert(records);
        // The records are bytes now: let them (their values above all) be collected while the
        // send waits for room. A suspended async function keeps every variable it had, and a
        // poll's worth of records kept that long outlived the young generation on every poll.
        records = NO_RECORDS;
        await this.send(converted, signal);
        const tx = this.o.transactions;
        if (tx && (tx.boundary === 'poll' || Date.now() - this.lastTransaction >= tx.intervalMs)) await this.commitTransaction();
      }
    } catch (e) {
      if (!signal.aborted) this.fail(e);
    }
  }

  /** Transforms and converts a poll's records; the bytes (or records) to send and their offsets. */
  private async convert(records: SourceRecord[]): Promise<{ batch: PendingBatch; out: BusRecord[] }> {
    const { errors, transform, converters } = this.o;
    const batch: PendingBatch = { offsets: new Map(), durable: false };
    const out: BusRecord[] = [];
    // Connectors usually reuse one partition object per stream: key it once per run of records
    // from one partition, and record only the run's last offset (the map keeps the newest anyway).
    let lastPartition: JsonObject | undefined;
    let lastKey = '';
    let lastOffset: JsonObject | undefined;
    let lastTopic: string | undefined;
    // The hot path allocates nothing per record beyond what it hands on: no closures or context
    // objects for the error handler unless a step actually throws.
    for (const record of records) {
      if (record.sourcePartition !== lastPartition) {
        if (lastPartition !== undefined) batch.offsets.set(lastKey, { partition: lastPartition, offset: lastOffset! });
        lastPartition = record.sourcePartition;
        lastKey = JSON.stringify(lastPartition);
      }
      lastOffset = record.sourceOffset;
      let r: SourceRecord | null | typeof SKIPPED | Promise<typeof SKIPPED>;
      try {
        r = transform(record);
      } catch (e) {
        r = errors.executeSync('TRANSFORMATION', () => rethrow(e), { record });
      }
      if (r instanceof Promise) r = await r;
      if (r === SKIPPED || r === null) continue;
      const t = r;
      // Like a Kafka producer, stamp records the connector left without a time.
      if (t.timestamp === undefined) t.timestamp = Date.now();
      if (converters) {
        let keyBytes: Buffer | null | typeof SKIPPED | Promise<typeof SKIPPED>;
        try {
          keyBytes = converters.key.fromConnectData(t.topic, t.keySchema, t.key, t.headers);
        } catch (e) {
          keyBytes = errors.executeSync('KEY_CONVERTER', () => rethrow(e), { record: t });
        }
        if (keyBytes instanceof Promise) keyBytes = await keyBytes;
        if (keyBytes === SKIPPED) continue;
        let valueBytes: Buffer | null | typeof SKIPPED | Promise<typeof SKIPPED>;
        try {
          valueBytes = converters.value.fromConnectData(t.topic, t.valueSchema, t.value, t.headers);
        } catch (e) {
          valueBytes = errors.executeSync('VALUE_CONVERTER', () => rethrow(e), { record: t });
        }
        if (valueBytes instanceof Promise) valueBytes = await valueBytes;
        if (valueBytes === SKIPPED) continue;
        out.push(withBytes(t, keyBytes, valueBytes));
      } else {
        out.push(t);
      }
      if (t.topic !== lastTopic) {
        lastTopic = t.topic;
        if (!this.seenTopics.has(t.topic)) {
          this.seenTopics.add(t.topic);
          this.o.status.onTopic(t.topic);
        }
      }
    }
    if (lastPartition !== undefined) batch.offsets.set(lastKey, { partition: lastPartition, offset: lastOffset! });
    return { batch, out };
  }

  private async send({ batch, out }: { batch: PendingBatch; out: BusRecord[] }, signal: AbortSignal): Promise<void> {
    const { errors } = this.o;
    this.pending.push(batch);
    if (out.length === 0) {
      batch.durable = true;
      return;
    }
    const { durable } = await errors.withRetries('KAFKA_PRODUCE', () => this.o.producer.send(out, signal), signal);
    this.o.metrics.sourceWritten.inc(this.labels, out.length);
    const p = durable.then(
      () => {
        batch.durable = true;
      },
      (e) => this.fail(e),
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /**
   * Exactly-once: commit the open transaction with the offsets of everything sent in it (every
   * pending batch: sends were awaited), then tell the task. Runs in the poll loop, never
   * concurrently with a send. A failure throws: the task fails and restarts from what committed.
   */
  private async commitTransaction(): Promise<void> {
    const tx = this.o.transactions!;
    this.lastTransaction = Date.now();
    const merged = new Map<string, { partition: JsonObject; offset: JsonObject }>();
    for (const batch of this.pending.splice(0)) for (const [k, v] of batch.offsets) merged.set(k, v);
    const entries = [...merged.values()];
    const end = this.o.metrics.offsetCommit.startTimer(this.labels);
    await tx.producer.commit(tx.offsetRecords(entries));
    end();
    if (entries.length === 0) return;
    try {
      await this.o.task.commit?.(entries);
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, 'task commit() threw; offsets are stored regardless');
    }
  }

  /** Commit the offsets of the durable prefix of what was polled, then tell the task. */
  commitOffsets(): Promise<void> {
    // Exactly-once: offsets commit with their transaction, in the poll loop (and once more in stop).
    if (this.o.transactions) return this.committing;
    this.committing = this.committing.then(async () => {
      const merged = new Map<string, { partition: JsonObject; offset: JsonObject }>();
      while (this.pending.length > 0 && this.pending[0].durable) {
        for (const [k, v] of this.pending.shift()!.offsets) merged.set(k, v);
      }
      if (merged.size === 0) return;
      const entries = [...merged.values()];
      const end = this.o.metrics.offsetCommit.startTimer(this.labels);
      try {
        await this.o.offsets.set(this.o.connectorName, entries);
        end();
      } catch (e) {
        this.o.metrics.offsetCommitFailures.inc(this.labels);
        this.o.logger.error({ err: (e as Error).message }, 'source offset commit failed');
        // Put them back so the next flush retries them.
        this.pending.unshift({ offsets: merged, durable: true });
        return;
      }
      try {
        await this.o.task.commit?.(entries);
      } catch (e) {
        this.o.logger.warn({ err: (e as Error).message }, 'task commit() threw; offsets are stored regardless');
      }
    });
    return this.committing;
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.o.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'source task failed');
    this.o.status.onState('FAILED', e);
    this.abort.abort();
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Stop polling, wait (bounded) for in-flight records, commit what is durable, stop the task. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
    const grace = this.o.shutdownGracefulTimeoutMs ?? DEFAULT_SHUTDOWN_GRACEFUL_TIMEOUT_MS;
    if (!(await settlesWithin(this.loop, grace))) {
      this.abandoned = true;
      this.o.logger.warn({ timeoutMs: grace }, 'the task did not return from poll() within task.shutdown.graceful.timeout.ms of being asked to stop (it ignores its abort signal); abandoning it');
    }
    const timeout = this.o.offsetFlushTimeoutMs ?? 5000;
    if (this.inflight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => (timer = setTimeout(r, timeout)))]);
      clearTimeout(timer);
    }
    if (this.o.transactions) {
      if (!this.failed) {
        await this.commitTransaction().catch((e: Error) => this.o.logger.warn({ err: e.message }, 'the last transaction did not commit; its records and offsets are aborted'));
      }
    } else {
      await this.commitOffsets();
    }
    await stopTask(this.o.task, grace, this.o.logger);
    await this.o.producer.close().catch((e: Error) => this.o.logger.warn({ err: e.message }, 'closing the producer failed'));
  }
}
