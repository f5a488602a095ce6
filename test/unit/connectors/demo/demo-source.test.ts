import { describe, expect, it } from 'vitest';
import { ConfigError, FatalError } from '../../../../runtime/api/index.ts';
import type { Schema, SourceRecord, SourceTask, TaskConfig } from '../../../../runtime/api/index.ts';
import { demoSource } from '../../../../connectors/demo/index.ts';
import { MemoryOffsets, abortAfter, sourceContext } from '../fake-context.ts';
import type { FakeSourceContext } from '../fake-context.ts';

const never = new AbortController().signal;

async function startTask(config: TaskConfig, offsets = new MemoryOffsets()): Promise<{ task: SourceTask; ctx: FakeSourceContext }> {
  const task = demoSource.createTask();
  const ctx = sourceContext(offsets);
  await task.start(config, ctx);
  return { task, ctx };
}

async function taskConfigs(config: TaskConfig, maxTasks: number): Promise<TaskConfig[]> {
  const connector = demoSource.createConnector();
  await connector.start(config, { connectorName: 'test', logger: sourceContext().logger, requestTaskReconfiguration() {}, raiseError() {} });
  return connector.taskConfigs(maxTasks);
}

async function pollN(task: SourceTask, n: number): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  while (out.length < n) out.push(...(await task.poll(never)));
  return out.slice(0, n);
}

const fast = (more: TaskConfig = {}): TaskConfig => ({ topic: 'demo', rate: '0', ...more });

/** Does `value` fit `schema` (Kafka Connect's rules, as JsonConverter would check them)? Returns the first mismatch. */
function misfit(schema: Schema, value: unknown, path = '$'): string | undefined {
  if (value === null || value === undefined) return schema.optional ? undefined : `${path}: null for a required ${schema.type}`;
  switch (schema.type) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
      return Number.isInteger(value) ? undefined : `${path}: ${String(value)} is not an integer`;
    case 'float32':
    case 'float64':
      return typeof value === 'number' ? undefined : `${path}: not a number`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `${path}: not a boolean`;
    case 'string':
      return typeof value === 'string' ? undefined : `${path}: not a string`;
    case 'bytes':
      return Buffer.isBuffer(value) ? undefined : `${path}: not bytes`;
    case 'array':
      if (!Array.isArray(value)) return `${path}: not an array`;
      for (const [i, v] of value.entries()) {
        const m = misfit(schema.items!, v, `${path}[${i}]`);
        if (m) return m;
      }
      return undefined;
    case 'map':
      return typeof value === 'object' ? undefined : `${path}: not a map`;
    case 'struct': {
      const o = value as Record<string, unknown>;
      const names = schema.fields!.map((f) => f.field);
      const extra = Object.keys(o).filter((k) => !names.includes(k));
      if (extra.length > 0) return `${path}: fields not in the schema: ${extra.join(', ')}`;
      for (const f of schema.fields!) {
        const m = misfit(f, o[f.field], `${path}.${f.field}`);
        if (m) return m;
      }
      return undefined;
    }
  }
}

describe('demo source plugin', () => {
  it('is registered under its class name and aliases, and needs a topic', async () => {
    expect(demoSource.type).toBe('source');
    expect(demoSource.className).toBe('io.tributary.connect.demo.DemoSourceConnector');
    expect(demoSource.aliases).toEqual(['demo', 'DemoSource']);
    expect(demoSource.config.errors({}).map((e) => e.name)).toEqual(['topic']);
    expect(demoSource.config.errors({ topic: 't', shape: 'cats', rate: '-1', 'batch.size': '0' }).map((e) => e.name)).toEqual(['shape', 'rate', 'batch.size']);
    expect(demoSource.config.describe().map((k) => k.name)).toEqual(['topic', 'shape', 'rate', 'seed', 'max.records', 'batch.size']);
    await expect(startTask({})).rejects.toBeInstanceOf(ConfigError);
  });

  it('makes tasks.max task configs, each knowing its index and count', async () => {
    const configs = await taskConfigs(fast(), 3);
    expect(configs).toHaveLength(3);
    expect(configs.map((c) => [c['demo.task.index'], c['demo.task.count']])).toEqual([['0', '3'], ['1', '3'], ['2', '3']]);
    expect(configs.every((c) => c.topic === 'demo')).toBe(true);
  });
});

describe('demo source task', () => {
  it.each(['orders', 'users', 'pageviews', 'sequence'])('generates %s records that fit their schema, with key, partition and offset', async (shape) => {
    const { task } = await startTask(fast({ shape }));
    const records = await pollN(task, 300);
    for (const r of records) {
      expect(misfit(r.valueSchema!, r.value)).toBeUndefined();
      expect(misfit(r.keySchema!, r.key)).toBeUndefined();
      expect(r.topic).toBe('demo');
    }
    const r7 = records[7];
    expect(r7.value).toMatchObject({ task: 0, seq: 7 });
    expect(r7.sourcePartition).toEqual({ generator: shape, task: 0 });
    expect(r7.sourceOffset).toEqual({ seq: 8 });
    expect(r7.valueSchema!.type).toBe('struct');
    expect(new Set(records.map((r) => JSON.stringify(r.key))).size).toBeGreaterThan(shape === 'pageviews' ? 100 : 299);
    await task.stop();
  });

  it('is deterministic for a seed, whatever the batch sizes, and differs across seeds', async () => {
    const a = await startTask(fast({ seed: '7', 'batch.size': '100' }));
    const b = await startTask(fast({ seed: '7', 'batch.size': '33' }));
    const c = await startTask(fast({ seed: '8' }));
    const ra = await pollN(a.task, 500);
    const rb = await pollN(b.task, 500);
    const rc = await pollN(c.task, 500);
    expect(rb).toEqual(ra);
    expect(rc.map((r) => r.key)).toEqual(ra.map((r) => r.key));
    expect(rc.filter((r, i) => JSON.stringify(r.value) !== JSON.stringify(ra[i].value)).length).toBeGreaterThan(450);
  });

  it('numbers records contiguously from 0 per task, with offset = next seq', async () => {
    const { task } = await startTask(fast({ 'batch.size': '64' }));
    const first = await task.poll(never);
    expect(first).toHaveLength(64);
    const records = [...first, ...(await pollN(task, 1000))];
    records.forEach((r, i) => {
      expect((r.value as { seq: number }).seq).toBe(i);
      expect(r.sourceOffset).toEqual({ seq: i + 1 });
    });
  });

  it('splits generation across tasks into disjoint sequences', async () => {
    const configs = await taskConfigs(fast({ shape: 'orders' }), 3);
    const perTask = await Promise.all(configs.map(async (cfg) => pollN((await startTask(cfg)).task, 200)));
    perTask.forEach((records, i) => {
      expect(records.every((r) => (r.value as { task: number }).task === i)).toBe(true);
      expect(records.every((r) => JSON.stringify(r.sourcePartition) === JSON.stringify({ generator: 'orders', task: i }))).toBe(true);
      expect(records.map((r) => (r.value as { seq: number }).seq)).toEqual([...Array(200).keys()]);
    });
    const keys = perTask.flat().map((r) => r.key);
    expect(new Set(keys).size).toBe(600);
    // Task 0 of 3 generates exactly what a lone task generates: a record depends on (seed, task, seq) only.
    expect(perTask[0]).toEqual(await pollN((await startTask(fast({ shape: 'orders' }))).task, 200));
  });

  it('resumes from the committed offset without skipping or repeating records', async () => {
    const offsets = new MemoryOffsets();
    const first = await startTask(fast({ 'batch.size': '50' }), offsets);
    const committed = await pollN(first.task, 250);
    offsets.commit(committed);
    await first.task.poll(never); // returned but never committed: must come again
    await first.task.stop();

    const second = await startTask(fast({ 'batch.size': '50' }), offsets);
    const resumed = await pollN(second.task, 100);
    const reference = await pollN((await startTask(fast())).task, 350);
    expect((resumed[0].value as { seq: number }).seq).toBe(250);
    expect(resumed).toEqual(reference.slice(250, 350));
  });

  it('fails with a FatalError naming the partition when the stored offset makes no sense', async () => {
    const offsets = new MemoryOffsets();
    offsets.set({ generator: 'orders', task: 0 }, { position: 3 });
    await expect(startTask(fast(), offsets)).rejects.toThrow(FatalError);
    await expect(startTask(fast(), offsets)).rejects.toThrow(/"generator":"orders".*DELETE \/connectors/);
  });

  it('stops producing at its share of max.records and idles', async () => {
    const configs = await taskConfigs(fast({ 'max.records': '10', shape: 'sequence' }), 3);
    const counts: number[] = [];
    for (const cfg of configs) {
      const { task, ctx } = await startTask(cfg);
      let n = 0;
      for (;;) {
        const got = await task.poll(abortAfter(50));
        if (got.length === 0) break;
        n += got.length;
      }
      counts.push(n);
      expect(await task.poll(abortAfter(20))).toEqual([]);
      expect(ctx.progress).toMatchObject({ done: true, generated: n });
      await task.stop();
    }
    expect(counts).toEqual([4, 3, 3]);
  });

  it('returns full batches at rate=0', async () => {
    const { task } = await startTask(fast({ 'batch.size': '500' }));
    expect(await task.poll(never)).toHaveLength(500);
    expect(await task.poll(never)).toHaveLength(500);
  });

  it('roughly honours the rate, split across tasks', async () => {
    const configs = await taskConfigs({ topic: 'demo', rate: '200', shape: 'sequence' }, 2);
    const tasks = await Promise.all(configs.map(async (cfg) => (await startTask(cfg)).task));
    const started = performance.now();
    const counts = await Promise.all(
      tasks.map(async (task) => {
        let n = 0;
        while (performance.now() - started < 600) n += (await task.poll(abortAfter(700))).length;
        return n;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    for (const n of counts) {
      // 100 records/s per task; one token to start with. Generous bounds: no tight wall-clock.
      expect(n).toBeLessThanOrEqual(1 + 100 * seconds + 10);
      expect(n).toBeGreaterThanOrEqual(100 * 0.6 * 0.5);
    }
    await Promise.all(tasks.map((t) => t.stop()));
  });

  it('returns [] promptly when a pending poll is aborted', async () => {
    const { task } = await startTask({ topic: 'demo', rate: '0.1' });
    expect(await task.poll(never)).toHaveLength(1); // the first token
    const controller = new AbortController();
    const started = performance.now();
    const pending = task.poll(controller.signal); // next token is 10 s away; a poll waits up to 1 s
    setTimeout(() => controller.abort(), 30);
    expect(await pending).toEqual([]);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('returns [] promptly when stopped during a pending poll', async () => {
    const { task } = await startTask({ topic: 'demo', rate: '0.1' });
    await task.poll(never);
    const started = performance.now();
    const pending = task.poll(never);
    setTimeout(() => void task.stop(), 30);
    expect(await pending).toEqual([]);
    expect(performance.now() - started).toBeLessThan(500);
    expect(await task.poll(never)).toEqual([]);
  });
});
