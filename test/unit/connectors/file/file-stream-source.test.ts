import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, FatalError } from '../../../../runtime/api/index.ts';
import type { SourceRecord, SourceTask, TaskConfig } from '../../../../runtime/api/index.ts';
import { fileStreamSource } from '../../../../connectors/file/index.ts';
import { MemoryOffsets, abortAfter, sourceContext } from '../fake-context.ts';

let dir: string;
let file: string;
const started: SourceTask[] = [];
const never = new AbortController().signal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-file-source-'));
  file = join(dir, 'in.txt');
});
afterEach(async () => {
  for (const task of started.splice(0)) await task.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startSource(config: TaskConfig, offsets = new MemoryOffsets()): Promise<SourceTask> {
  const task = fileStreamSource.createTask();
  started.push(task);
  await task.start(config, sourceContext(offsets));
  return task;
}

/** Polls until a poll comes back empty (end of file); the abort keeps that last poll short. */
async function drain(task: SourceTask): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for (;;) {
    const got = await task.poll(abortAfter(30));
    if (got.length === 0) return out;
    out.push(...got);
  }
}

const values = (rs: SourceRecord[]) => rs.map((r) => r.value);
const positions = (rs: SourceRecord[]) => rs.map((r) => (r.sourceOffset as { position: number }).position);

describe('file source plugin', () => {
  it('is registered under its class name and Kafka Connect aliases, needs file and topic, runs one task', async () => {
    expect(fileStreamSource.type).toBe('source');
    expect(fileStreamSource.className).toBe('io.tributary.connect.file.FileStreamSourceConnector');
    expect(fileStreamSource.aliases).toEqual(['org.apache.kafka.connect.file.FileStreamSourceConnector', 'FileStreamSource', 'file-source']);
    expect(fileStreamSource.config.errors({}).map((e) => e.name)).toEqual(['file', 'topic']);
    expect(fileStreamSource.config.errors({ file: '-', topic: 't' }).map((e) => e.name)).toEqual(['file']);
    expect(fileStreamSource.config.parse({ file, topic: 't' })['batch.size']).toBe(2000);
    const connector = fileStreamSource.createConnector();
    await connector.start({ file, topic: 't' }, { connectorName: 'x', logger: sourceContext().logger, requestTaskReconfiguration() {}, raiseError() {} });
    expect(await connector.taskConfigs(3)).toEqual([{ file, topic: 't' }]);
    await expect(startSource({ file })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('file source task', () => {
  it('reads lines as string records with Kafka Connect partition and byte-position offsets', async () => {
    await writeFile(file, 'alpha\r\nbeta\n\nγάμμα\n');
    const task = await startSource({ file, topic: 'lines' });
    const records = await drain(task);
    expect(values(records)).toEqual(['alpha', 'beta', '', 'γάμμα']);
    expect(positions(records)).toEqual([7, 12, 13, 24]);
    expect(records[0]).toEqual({
      topic: 'lines',
      value: 'alpha',
      valueSchema: { type: 'string' },
      sourcePartition: { filename: file },
      sourceOffset: { position: 7 },
    });
  });

  it('holds back a last line until its newline arrives, and picks up appended lines', async () => {
    await writeFile(file, 'one\ntw');
    const task = await startSource({ file, topic: 't' });
    expect(values(await drain(task))).toEqual(['one']);
    await appendFile(file, 'o\nthree\n');
    const more = await drain(task);
    expect(values(more)).toEqual(['two', 'three']);
    expect(positions(more)).toEqual([8, 14]);
  });

  it('returns at most batch.size lines per poll', async () => {
    await writeFile(file, 'a\nb\nc\nd\ne\n');
    const task = await startSource({ file, topic: 't', 'batch.size': '2' });
    expect((await task.poll(never)).map((r) => r.value)).toEqual(['a', 'b']);
    expect((await task.poll(never)).map((r) => r.value)).toEqual(['c', 'd']);
    expect((await task.poll(never)).map((r) => r.value)).toEqual(['e']);
  });

  it('resumes from the stored position', async () => {
    await writeFile(file, 'one\ntwo\nthree\n');
    const offsets = new MemoryOffsets();
    const first = await startSource({ file, topic: 't', 'batch.size': '1' }, offsets);
    offsets.commit(await first.poll(never));
    await first.poll(never); // returned, never committed: read again after the restart
    await first.stop();
    expect(offsets.get({ filename: file })).toEqual({ position: 4 });
    const second = await startSource({ file, topic: 't' }, offsets);
    expect(values(await drain(second))).toEqual(['two', 'three']);
  });

  it('fails with a FatalError when the stored offset has no position', async () => {
    const offsets = new MemoryOffsets();
    offsets.set({ filename: file }, { seq: 1 });
    await expect(startSource({ file, topic: 't' }, offsets)).rejects.toThrow(FatalError);
  });

  it('waits for a file that does not exist yet', async () => {
    const task = await startSource({ file, topic: 't' });
    expect(await task.poll(abortAfter(30))).toEqual([]);
    await writeFile(file, 'finally\n');
    expect(values(await drain(task))).toEqual(['finally']);
  });

  it('reads a truncated or replaced file again from the start', async () => {
    await writeFile(file, 'old 1\nold 2\n');
    const task = await startSource({ file, topic: 't' });
    expect(values(await drain(task))).toEqual(['old 1', 'old 2']);
    await truncate(file, 0);
    await appendFile(file, 'new\n');
    await task.poll(abortAfter(30)); // notices the truncation at end of file
    expect(values(await drain(task))).toEqual(['new']);

    await rename(file, `${file}.1`);
    await writeFile(file, 'rotated 1\nrotated 2\nrotated 3\n');
    await task.poll(abortAfter(30));
    const rotated = await drain(task);
    expect(values(rotated)).toEqual(['rotated 1', 'rotated 2', 'rotated 3']);
    expect(positions(rotated)).toEqual([10, 20, 30]);
  });

  it('also restarts from 0 when the stored position is past the end of the file', async () => {
    await writeFile(file, 'short\n');
    const offsets = new MemoryOffsets();
    offsets.set({ filename: file }, { position: 1000 });
    const task = await startSource({ file, topic: 't' }, offsets);
    expect(values(await drain(task))).toEqual(['short']);
  });

  it('reads a large file across chunk boundaries without losing or splitting lines', async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'é'.repeat(i % 97)}`);
    const content = lines.join('\n') + '\n';
    await writeFile(file, content);
    const task = await startSource({ file, topic: 't' });
    const records = await drain(task);
    expect(values(records)).toEqual(lines);
    expect(positions(records).at(-1)).toBe(Buffer.byteLength(content));
  });

  it('returns [] promptly when a pending poll is aborted or the task is stopped', async () => {
    await writeFile(file, '');
    const task = await startSource({ file, topic: 't' });
    const controller = new AbortController();
    let t0 = performance.now();
    const pending = task.poll(controller.signal);
    setTimeout(() => controller.abort(), 20);
    expect(await pending).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(400);

    t0 = performance.now();
    const pending2 = task.poll(never);
    setTimeout(() => void task.stop(), 20);
    expect(await pending2).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(400);
  });
});
