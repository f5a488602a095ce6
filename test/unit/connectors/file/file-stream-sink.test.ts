import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, DataError, RetriableError } from '../../../../runtime/api/index.ts';
import type { SinkTask, TaskConfig } from '../../../../runtime/api/index.ts';
import { fileStreamSink } from '../../../../connectors/file/index.ts';
import { sinkContext, sinkRecords } from '../fake-context.ts';
import type { FakeSinkContext } from '../fake-context.ts';

let dir: string;
let file: string;
const started: SinkTask[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-file-sink-'));
  file = join(dir, 'out.txt');
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const task of started.splice(0)) await task.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startSink(config: TaskConfig): Promise<{ task: SinkTask; ctx: FakeSinkContext }> {
  const task = fileStreamSink.createTask();
  const ctx = sinkContext();
  started.push(task);
  await task.start(config, ctx);
  return { task, ctx };
}

const read = () => readFile(file, 'utf8');
const noOffsets = new Map();

describe('file sink plugin', () => {
  it('is registered under its class name and Kafka Connect aliases, needs a file, runs one task', async () => {
    expect(fileStreamSink.type).toBe('sink');
    expect(fileStreamSink.className).toBe('io.tributary.connect.file.FileStreamSinkConnector');
    expect(fileStreamSink.aliases).toEqual(['org.apache.kafka.connect.file.FileStreamSinkConnector', 'FileStreamSink', 'file-sink']);
    expect(fileStreamSink.config.errors({ topics: 't' }).map((e) => e.name)).toEqual(['file']);
    expect(fileStreamSink.config.errors({ file, format: 'xml' }).map((e) => e.name)).toEqual(['format']);
    const connector = fileStreamSink.createConnector();
    await connector.start({ file, topics: 't' }, { connectorName: 'x', logger: sinkContext().logger, requestTaskReconfiguration() {}, raiseError() {} });
    expect(await connector.taskConfigs(4)).toEqual([{ file, topics: 't' }]);
  });

  it('fails validation and start for a file in a missing folder', async () => {
    const bad = join(dir, 'missing', 'out.txt');
    expect(await fileStreamSink.validate!({ file: bad })).toEqual([expect.objectContaining({ name: 'file' })]);
    expect(await fileStreamSink.validate!({ file })).toEqual([]);
    await expect(startSink({ file: bad })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('file sink task', () => {
  it('writes exactly the flushed records', async () => {
    const { task } = await startSink({ file });
    await task.put(sinkRecords([{ a: 1 }, { a: 2 }, { a: 3 }]));
    expect(await read()).toBe('');
    await task.flush(noOffsets);
    expect(await read()).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
    await task.put(sinkRecords([{ a: 4 }, { a: 5 }], 't', 0, 3));
    await task.stop(); // never flushed: the runtime delivers these again
    expect(await read()).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
  });

  it('appends to what is there when reopened, and never truncates', async () => {
    await writeFile(file, 'existing line\n');
    const first = await startSink({ file });
    await first.task.put(sinkRecords(['one']));
    await first.task.flush(noOffsets);
    await first.task.stop();
    const second = await startSink({ file });
    await second.task.put(sinkRecords(['two', 'three']));
    await second.task.flush(noOffsets);
    await second.task.flush(noOffsets); // nothing new: writes nothing
    await second.task.stop();
    expect(await read()).toBe('existing line\n"one"\n"two"\n"three"\n');
  });

  it('writes JSON lines: bytes as base64, bigints as numbers, tombstones as null', async () => {
    const { task } = await startSink({ file });
    await task.put(
      sinkRecords([
        { id: 1, name: 'a|b', tags: ['x'], nested: { n: null } },
        'plain string',
        42,
        true,
        null,
        Buffer.from('hello'),
        { blob: Buffer.from([0, 255]), big: 12345678901234n, huge: 2n ** 70n },
        'line\nbreak',
      ]),
    );
    await task.flush(noOffsets);
    expect((await read()).split('\n')).toEqual([
      '{"id":1,"name":"a|b","tags":["x"],"nested":{"n":null}}',
      '"plain string"',
      '42',
      'true',
      'null',
      '"aGVsbG8="',
      '{"blob":"AP8=","big":12345678901234,"huge":"1180591620717411303424"}',
      '"line\\nbreak"',
      '',
    ]);
  });

  it('writes text lines as Kafka Connect does, objects as JSON', async () => {
    const { task } = await startSink({ file, format: 'text' });
    await task.put(sinkRecords(['plain string', 42, false, null, Buffer.from('héllo'), { a: [1, 2] }]));
    await task.flush(noOffsets);
    expect(await read()).toBe('plain string\n42\nfalse\nnull\nhéllo\n{"a":[1,2]}\n');
  });

  it('reports a value it cannot serialize as a DataError and writes the rest', async () => {
    const { task, ctx } = await startSink({ file });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    await task.put(sinkRecords([{ ok: 1 }, cyclic, { ok: 2 }]));
    await task.flush(noOffsets);
    expect(await read()).toBe('{"ok":1}\n{"ok":2}\n');
    expect(ctx.errors).toHaveLength(1);
    expect(ctx.errors[0].record.kafkaOffset).toBe(1);
    expect(ctx.errors[0].error).toBeInstanceOf(DataError);
    expect((ctx.errors[0].error as Error).message).toMatch(/t-0@1/);
  });

  it('writes a large batch with one write call, then fdatasyncs before flush returns', async () => {
    const probe = await open(file, 'a');
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => unknown; datasync: () => Promise<void> };
    await probe.close();
    const calls: string[] = [];
    const write = proto.write;
    const datasync = proto.datasync;
    vi.spyOn(proto, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
      calls.push('write');
      return write.apply(this, args);
    });
    vi.spyOn(proto, 'datasync').mockImplementation(function (this: unknown) {
      calls.push('datasync');
      return datasync.apply(this);
    });

    const { task } = await startSink({ file });
    const n = 20_000;
    await task.put(sinkRecords(Array.from({ length: n }, (_, i) => ({ i, pad: 'x'.repeat(50) }))));
    expect(calls).toEqual([]);
    await task.flush(noOffsets);
    expect(calls).toEqual(['write', 'datasync']);
    await task.stop();
    const lines = (await read()).trimEnd().split('\n');
    expect(lines).toHaveLength(n);
    expect(JSON.parse(lines[n - 1])).toEqual({ i: n - 1, pad: 'x'.repeat(50) });
  });

  it('on a short write or a full disk, a retried flush neither loses nor repeats bytes', async () => {
    const probe = await open(file, 'a');
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<{ bytesWritten: number }> };
    await probe.close();
    const write = proto.write;
    let call = 0;
    vi.spyOn(proto, 'write').mockImplementation(function (this: unknown, buf: unknown, offset: unknown, length: unknown) {
      call++;
      if (call === 1) return write.call(this, buf, offset, Math.floor((length as number) / 2)); // short write
      if (call === 2) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      return write.call(this, buf, offset, length);
    });
    const { task } = await startSink({ file });
    await task.put(sinkRecords(['alpha', 'beta', 'gamma']));
    const failed = await task.flush(noOffsets).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RetriableError);
    await task.flush(noOffsets); // what the runtime does after a backoff
    expect(await read()).toBe('"alpha"\n"beta"\n"gamma"\n');
    expect(call).toBe(3);
  });

  it('writes the JSON read from Kafka (valueJson) as it is, unless it spans lines or the format is text', async () => {
    const withJson = (value: unknown, json: string) => ({ ...sinkRecords([value])[0], valueJson: Buffer.from(json) });
    const { task } = await startSink({ file });
    // 2^53 + 1 survives only as the bytes read: the parsed value has lost it.
    await task.put([withJson(9007199254740992, '{"id":9007199254740993}'), withJson({ a: 1 }, '{\n  "a": 1\n}'), withJson({ b: 2 }, '{"b":2}')]);
    await task.flush(noOffsets);
    expect(await read()).toBe('{"id":9007199254740993}\n{"a":1}\n{"b":2}\n');

    const text = join(dir, 'text.txt');
    const { task: textTask } = await startSink({ file: text, format: 'text' });
    await textTask.put([withJson('plain', '"plain"')]);
    await textTask.flush(noOffsets);
    expect(await readFile(text, 'utf8')).toBe('plain\n');
  });

  it('reuses its buffer across flushes of growing and shrinking size, multi-byte text included', async () => {
    const { task } = await startSink({ file, format: 'text' });
    const expected: string[] = [];
    // 80 KB of UTF-8 in one line (past the first 64 KB buffer), then many small ones, then small flushes again.
    const sizes = [[1, 40_000], [5_000, 30], [3, 10], [20_000, 100], [2, 5]];
    for (const [count, len] of sizes) {
      const values = Array.from({ length: count }, (_, i) => `${i}:${'é€'.repeat(len / 2)}`);
      expected.push(...values);
      await task.put(sinkRecords(values));
      await task.flush(noOffsets);
      expect(await read()).toBe(expected.map((v) => v + '\n').join(''));
    }
  });

  it('writes out past 4 MB of buffered lines without waiting for flush, and syncs only on flush', async () => {
    const probe = await open(file, 'a');
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => unknown; datasync: () => Promise<void> };
    await probe.close();
    const calls: string[] = [];
    const write = proto.write;
    const datasync = proto.datasync;
    vi.spyOn(proto, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
      calls.push('write');
      return write.apply(this, args);
    });
    vi.spyOn(proto, 'datasync').mockImplementation(function (this: unknown) {
      calls.push('datasync');
      return datasync.apply(this);
    });
    const { task } = await startSink({ file, format: 'text' });
    const line = 'y'.repeat(1023);
    await task.put(sinkRecords(Array.from({ length: 4096 }, () => line)));
    expect(calls).toEqual(['write']);
    expect((await read()).length).toBe(4096 * 1024);
    await task.put(sinkRecords(['last']));
    await task.flush(noOffsets);
    expect(calls).toEqual(['write', 'write', 'datasync']);
    expect((await read()).endsWith(`${line}\nlast\n`)).toBe(true);
  });

  it('writes to standard output when file is -', async () => {
    const chunks: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: Uint8Array | string, cb?: (err?: Error | null) => void) => {
      chunks.push(Buffer.from(chunk).toString('utf8'));
      cb?.();
      return true;
    }) as typeof process.stdout.write);
    const { task } = await startSink({ file: '-', format: 'text' });
    await task.put(sinkRecords(['to', 'stdout']));
    expect(chunks).toEqual([]);
    await task.flush(noOffsets);
    await task.stop();
    expect(chunks.join('')).toBe('to\nstdout\n');
  });
});
