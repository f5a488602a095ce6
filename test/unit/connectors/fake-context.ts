/**
 * Stand-ins for the runtime, so connector tasks can be driven directly through the API: an
 * in-memory offset reader and task contexts that record what the task reported.
 */
import type {
  JsonObject,
  Logger,
  SinkRecord,
  SinkTaskContext,
  SourceRecord,
  SourceTaskContext,
  TopicPartition,
} from '../../../runtime/api/index.ts';

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** Partition -> offset, keyed by canonical JSON, as the runtime's offset store would hold them. */
export class MemoryOffsets {
  private readonly map = new Map<string, { partition: JsonObject; offset: JsonObject }>();

  set(partition: JsonObject, offset: JsonObject): void {
    this.map.set(canonical(partition), { partition, offset });
  }

  get(partition: JsonObject): JsonObject | null {
    return this.map.get(canonical(partition))?.offset ?? null;
  }

  /** What the runtime does once records are acknowledged: keep the newest offset per partition. */
  commit(records: SourceRecord[]): void {
    for (const r of records) this.set(r.sourcePartition, r.sourceOffset);
  }

  all(): Array<{ partition: JsonObject; offset: JsonObject }> {
    return [...this.map.values()];
  }
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

export interface FakeSourceContext extends SourceTaskContext {
  progress: Record<string, unknown>;
  controller: AbortController;
}

export function sourceContext(offsets = new MemoryOffsets(), taskId = 0): FakeSourceContext {
  const controller = new AbortController();
  const ctx: FakeSourceContext = {
    connectorName: 'test',
    taskId,
    logger: silentLogger,
    signal: controller.signal,
    controller,
    progress: {},
    reportProgress(p) {
      Object.assign(ctx.progress, p);
    },
    offsetStorageReader: {
      offset: async (partition) => offsets.get(partition),
      offsets: async () => offsets.all(),
    },
  };
  return ctx;
}

export interface FakeSinkContext extends SinkTaskContext {
  errors: Array<{ record: SinkRecord; error: unknown }>;
}

/** A sink context with errors.tolerance=all: reported records are collected, not thrown. */
export function sinkContext(assigned: TopicPartition[] = [{ topic: 't', partition: 0 }]): FakeSinkContext {
  const controller = new AbortController();
  const ctx: FakeSinkContext = {
    connectorName: 'test',
    taskId: 0,
    logger: silentLogger,
    signal: controller.signal,
    errors: [],
    reportProgress() {},
    assignment: () => assigned,
    pause() {},
    resume() {},
    requestCommit() {},
    async reportError(record, error) {
      ctx.errors.push({ record, error });
    },
  };
  return ctx;
}

export function sinkRecords(values: unknown[], topic = 't', partition = 0, firstOffset = 0): SinkRecord[] {
  return values.map((value, i) => ({
    topic,
    kafkaPartition: partition,
    kafkaOffset: firstOffset + i,
    originalTopic: topic,
    originalKafkaPartition: partition,
    originalKafkaOffset: firstOffset + i,
    value,
  }));
}

/** An AbortSignal that aborts after `ms`: lets a test end a poll that would otherwise wait. */
export function abortAfter(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}
