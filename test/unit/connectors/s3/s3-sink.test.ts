// The S3 sink task driven through the connector API against a file:// store (same layout as S3):
// object names, contents, rotation rules, partitioners, durable offsets and re-delivery after a crash.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { S3SinkTask } from '../../../../connectors/s3/s3-sink-task.ts';
import { DataError } from '../../../../runtime/api/index.ts';
import type { SinkOffsets, SinkRecord } from '../../../../runtime/api/index.ts';
import { tempDir } from '../../../helpers/worker-process.ts';
import { sinkContext, sinkRecords } from '../fake-context.ts';

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      if (e.startsWith('.')) continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  if (existsSync(root)) walk(root);
  return out.sort();
}

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

async function startTask(root: string, extra: Record<string, string> = {}) {
  const task = new S3SinkTask();
  const ctx = sinkContext();
  await task.start({ 'store.url': `file://${root}`, 'flush.size': '3', ...extra }, ctx);
  return { task, ctx };
}

const offsetsOf = (topic: string, partition: number, offset: number): SinkOffsets =>
  new Map([[`${topic}-${partition}`, { topic, partition, offset }]]);

describe('S3 sink (file:// store)', () => {
  it('writes Confluent-named JSON objects of flush.size records and commits only uploaded ones', async () => {
    const root = tempDir('s3sink');
    const { task } = await startTask(root);
    task.open([{ topic: 'orders', partition: 0 }]);
    await task.put(sinkRecords([0, 1, 2, 3, 4, 5, 6].map((i) => ({ id: i })), 'orders', 0));
    // Rotated objects upload in the background; until then flush holds their offsets back.
    expect((await task.flush(offsetsOf('orders', 0, 7))).get('orders-0')!.offset).toBeLessThanOrEqual(6);
    await task.drain();
    expect(files(root)).toEqual([
      'topics/orders/partition=0/orders+0+0000000000.json',
      'topics/orders/partition=0/orders+0+0000000003.json',
    ]);
    expect(lines(join(root, 'topics/orders/partition=0/orders+0+0000000003.json'))).toEqual([{ id: 3 }, { id: 4 }, { id: 5 }]);
    // Record 6 sits in an open object: the durable offset is 6, not 7.
    const safe = await task.flush(offsetsOf('orders', 0, 7));
    expect(safe.get('orders-0')!.offset).toBe(6);
    await task.stop();
  });

  it('writes the JSON read from Kafka (valueJson) as it is, and re-serializes a value whose JSON spans lines', async () => {
    const root = tempDir('s3sink-json');
    const { task } = await startTask(root);
    task.open([{ topic: 'raw', partition: 0 }]);
    const texts = ['{"id":1, "big": 12345678901234567890}', '{\n  "id": 2\n}', '[ 3 ]'];
    const records = sinkRecords(texts.map((t) => JSON.parse(t)), 'raw', 0).map((r, i) => ({ ...r, valueJson: Buffer.from(texts[i]) }));
    await task.put(records);
    await task.flush(offsetsOf('raw', 0, 3));
    await task.drain();
    const body = readFileSync(join(root, 'topics/raw/partition=0/raw+0+0000000000.json'), 'utf8');
    // The big integer keeps its digits (JSON.parse + stringify would round it); the multi-line one becomes one line.
    expect(body).toBe('{"id":1, "big": 12345678901234567890}\n{"id":2}\n[ 3 ]\n');
    await task.stop();
  });

  it('after a crash between upload and commit, re-delivered records are not written twice', async () => {
    const root = tempDir('s3sink');
    let { task } = await startTask(root, { 'flush.size': '4' });
    task.open([{ topic: 't', partition: 2 }]);
    const all = sinkRecords(Array.from({ length: 10 }, (_, i) => ({ seq: i })), 't', 2, 100);
    await task.put(all);
    await task.drain();
    // uploaded: 100-103, 104-107; open: 108-109. The commit never happened: crash.
    await task.stop();
    ({ task } = await startTask(root, { 'flush.size': '3' })); // even with another flush.size
    task.open([{ topic: 't', partition: 2 }]);
    await task.put(all.slice(0)); // re-delivered from the last commit (100)
    await task.put(sinkRecords(Array.from({ length: 3 }, (_, i) => ({ seq: 10 + i })), 't', 2, 110));
    await task.drain();
    const safe = await task.flush(offsetsOf('t', 2, 113));
    const seqs = files(root).flatMap((f) => lines(join(root, f)).map((v: { seq: number }) => v.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(files(root)).toEqual([
      't/partition=2/t+2+0000000100.json',
      't/partition=2/t+2+0000000104.json',
      't/partition=2/t+2+0000000108.json',
    ].map((f) => `topics/${f}`));
    expect(safe.get('t-2')!.offset).toBe(111);
    await task.stop();
  });

  it('while re-delivered records are being skipped, the commit stays at the start of the object they are in', async () => {
    const root = tempDir('s3sink');
    let { task } = await startTask(root, { 'flush.size': '4' });
    task.open([{ topic: 'k', partition: 0 }]);
    const all = sinkRecords(Array.from({ length: 12 }, (_, i) => ({ seq: i })), 'k', 0, 100);
    await task.put(all.slice(0, 10)); // objects 100-103 and 104-107 uploaded, then a crash before the commit
    await task.drain();
    await task.stop();

    ({ task } = await startTask(root, { 'flush.size': '4' }));
    task.open([{ topic: 'k', partition: 0 }]);
    await task.put(all.slice(0, 6)); // re-delivery reached 105: inside 104-107
    expect((await task.flush(offsetsOf('k', 0, 106))).get('k-0')!.offset).toBe(104);
    await task.stop(); // second crash: consumption resumes at the committed 104

    ({ task } = await startTask(root, { 'flush.size': '3' }));
    task.open([{ topic: 'k', partition: 0 }]);
    await task.put(all.slice(4));
    await task.drain();
    await task.flush(offsetsOf('k', 0, 112));
    const seqs = files(root).flatMap((f) => lines(join(root, f)).map((v: { seq: number }) => v.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // 11 is in the open object; none twice
    await task.stop();
  });

  it('gzip, topics.dir and file.delim', async () => {
    const root = tempDir('s3sink');
    const { task } = await startTask(root, { 's3.compression.type': 'gzip', 'topics.dir': 'lake/raw', 'file.delim': '_', 'flush.size': '2' });
    await task.put(sinkRecords([{ a: 'x' }, { a: 'y' }], 'ev', 1, 5));
    await task.drain();
    expect(files(root)).toEqual(['lake/raw/ev/partition=1/ev_1_0000000005.json.gz']);
    const text = gunzipSync(readFileSync(join(root, 'lake/raw/ev/partition=1/ev_1_0000000005.json.gz'))).toString();
    expect(text).toBe('{"a":"x"}\n{"a":"y"}\n');
    await task.stop();
  });

  it('bytes format: raw values, newline-separated, .bin; a non-bytes value goes to the DLQ', async () => {
    const root = tempDir('s3sink');
    const { task, ctx } = await startTask(root, { 'format.class': 'io.confluent.connect.s3.format.bytearray.ByteArrayFormat', 'flush.size': '2' });
    await task.put(sinkRecords([Buffer.from([0xff, 0x00]), { not: 'bytes' }, 'héllo'], 'raw', 0));
    await task.drain();
    expect(files(root)).toEqual(['topics/raw/partition=0/raw+0+0000000000.bin']);
    expect(readFileSync(join(root, files(root)[0]))).toEqual(Buffer.concat([Buffer.from([0xff, 0x00, 0x0a]), Buffer.from('héllo\n')]));
    expect(ctx.errors.map((e) => e.record.kafkaOffset)).toEqual([1]);
    await task.stop();
  });

  it('bytes format passes JSON values through as JSON lines (format.bytearray.extension/.separator)', async () => {
    const root = tempDir('s3sink');
    const { task } = await startTask(root, { 'format.class': 'bytes', 'format.bytearray.extension': '.json', 'format.bytearray.separator': '\\r\\n', 'flush.size': '2' });
    await task.put(sinkRecords([Buffer.from('{"a":1}'), Buffer.from('{"a":2}')], 'pass', 0));
    await task.drain();
    expect(files(root)).toEqual(['topics/pass/partition=0/pass+0+0000000000.json']);
    expect(readFileSync(join(root, files(root)[0]), 'utf8')).toBe('{"a":1}\r\n{"a":2}\r\n');
    await task.stop();
  });

  it('field partitioner: one folder per value, a record without the field goes to the DLQ', async () => {
    const root = tempDir('s3sink');
    const { task, ctx } = await startTask(root, { 'partitioner.class': 'io.confluent.connect.storage.partitioner.FieldPartitioner', 'partition.field.name': 'country', 'flush.size': '2' });
    await task.put(sinkRecords([{ country: 'fr', n: 0 }, { country: 'de', n: 1 }, { n: 2 }, { country: 'fr', n: 3 }, { country: 'de', n: 4 }], 'p', 0));
    await task.drain();
    expect(files(root)).toEqual(['topics/p/country=de/p+0+0000000001.json', 'topics/p/country=fr/p+0+0000000000.json']);
    expect(lines(join(root, 'topics/p/country=fr/p+0+0000000000.json'))).toEqual([{ country: 'fr', n: 0 }, { country: 'fr', n: 3 }]);
    expect(ctx.errors.map((e) => e.record.kafkaOffset)).toEqual([2]);
    expect(ctx.errors[0].error).toBeInstanceOf(DataError);
    await task.stop();
  });

  it('time partitioner over the record timestamp, in a time zone, with rotate.interval.ms', async () => {
    const root = tempDir('s3sink');
    const { task } = await startTask(root, {
      'partitioner.class': 'io.confluent.connect.storage.partitioner.TimeBasedPartitioner',
      'path.format': "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
      'partition.duration.ms': '3600000',
      timezone: 'Asia/Kolkata', // +05:30
      'timestamp.extractor': 'Record',
      'flush.size': '100',
      'rotate.interval.ms': '600000',
    });
    const t0 = Date.UTC(2026, 10, 25, 18, 15); // 23:45 in Kolkata
    const ts = [t0, t0 + 60_000, t0 + 16 * 60_000, t0 + 17 * 60_000];
    const recs: SinkRecord[] = sinkRecords(ts.map((t, i) => ({ i })), 'tz', 0).map((r, i) => ({ ...r, timestamp: ts[i] }));
    await task.put(recs);
    // 23:45 and 23:46 in hour 23 of the 25th; 00:01 and 00:02 in hour 00 of the 26th (another folder: an open object).
    // rotate.interval.ms is per object: the hour-23 object only rotates when a later record of it arrives.
    await task.put([{ ...sinkRecords([{ i: 4 }], 'tz', 0, 4)[0], timestamp: t0 + 4 * 60_000 }]);
    await task.drain();
    expect(files(root)).toEqual([]);
    await task.put([{ ...sinkRecords([{ i: 5 }], 'tz', 0, 5)[0], timestamp: t0 + 10 * 60_000 }]);
    await task.drain();
    expect(files(root)).toEqual(['topics/tz/year=2026/month=11/day=25/hour=23/tz+0+0000000000.json']);
    expect(lines(join(root, files(root)[0]))).toEqual([{ i: 0 }, { i: 1 }, { i: 4 }]);
    const safe = await task.flush(offsetsOf('tz', 0, 6));
    expect(safe.get('tz-0')!.offset).toBe(2); // the day-26 object opened at offset 2
    await task.stop();
  });

  it('rotate.schedule.interval.ms uploads open objects on the wall clock, even without new records', async () => {
    const root = tempDir('s3sink');
    const { task } = await startTask(root, { 'flush.size': '1000', 'rotate.schedule.interval.ms': '200' });
    await task.put(sinkRecords([{ a: 1 }, { a: 2 }], 's', 0));
    expect(files(root)).toEqual([]);
    await new Promise((r) => setTimeout(r, 450));
    await task.flush(offsetsOf('s', 0, 2)); // rotates the object whose schedule passed
    await task.drain();
    const safe = await task.flush(offsetsOf('s', 0, 2));
    expect(files(root)).toEqual(['topics/s/partition=0/s+0+0000000000.json']);
    expect(safe.get('s-0')!.offset).toBe(2);
    await task.stop();
  });

  it('a retried put (after a failed upload) neither loses nor repeats records', async () => {
    const root = tempDir('s3sink');
    const { task } = await startTask(root, { 'flush.size': '2' });
    const recs = sinkRecords([{ a: 0 }, { a: 1 }, { a: 2 }], 'r', 0);
    await task.put(recs);
    await task.put(recs); // the runtime calls put again with the same records after a RetriableError
    await task.put(sinkRecords([{ a: 3 }], 'r', 0, 3));
    await task.drain();
    expect(files(root).flatMap((f) => lines(join(root, f)))).toEqual([{ a: 0 }, { a: 1 }, { a: 2 }, { a: 3 }]);
    await task.stop();
  });

  it('a failed background upload is reported by the next flush, holds its offsets back, and is sent again', async () => {
    const root = tempDir('s3sink');
    writeFileSync(join(root, 'topics'), 'a file where the topics folder should be');
    const { task } = await startTask(root, { 'flush.size': '2' });
    task.open([{ topic: 'f', partition: 0 }]);
    await task.put(sinkRecords([{ a: 0 }, { a: 1 }, { a: 2 }], 'f', 0)); // 0-1 rotated (its upload fails), 2 open
    await task.drain();
    await expect(task.flush(offsetsOf('f', 0, 3))).rejects.toThrow(/Cannot write/);
    rmSync(join(root, 'topics'));
    expect((await task.flush(offsetsOf('f', 0, 3))).get('f-0')!.offset).toBe(2);
    expect(files(root)).toEqual(['topics/f/partition=0/f+0+0000000000.json']);
    await task.stop();
  });

  it('past s3.buffer.max.bytes, the largest open object is uploaded early; every record once', async () => {
    const root = tempDir('s3sink');
    const task = new S3SinkTask();
    const progress: Record<string, unknown> = {};
    await task.start({ 'store.url': `file://${root}`, 'flush.size': '1000', 's3.buffer.max.bytes': String(1024 * 1024) }, { ...sinkContext(), reportProgress: (p) => Object.assign(progress, p) });
    task.open([{ topic: 'm', partition: 0 }]);
    const big = 'x'.repeat(200_000);
    await task.put(sinkRecords(Array.from({ length: 8 }, (_, i) => ({ i, big })), 'm', 0)); // 1.6 MB: over the budget
    await task.put(sinkRecords(Array.from({ length: 2 }, (_, i) => ({ i: 8 + i, big })), 'm', 0, 8)); // 0.4 MB: under it
    expect((await task.flush(offsetsOf('m', 0, 10))).get('m-0')!.offset).toBe(8);
    expect(progress).toMatchObject({ earlyRolls: 1 });
    expect(files(root)).toEqual(['topics/m/partition=0/m+0+0000000000.json']);
    expect(lines(join(root, files(root)[0])).map((v: { i: number }) => v.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await task.stop();
  });

  it('rejects a config without flush.size, naming the field', async () => {
    const task = new S3SinkTask();
    await expect(task.start({ 'store.url': 'file:///tmp/x' }, sinkContext())).rejects.toThrow(/flush\.size/);
    await expect(task.start({ 'flush.size': '1', 'partitioner.class': 'nope' }, sinkContext())).rejects.toThrow(/partitioner\.class/);
  });
});
