// Parquet objects from the value schema, read back with hyparquet (a reader, not our writer):
// column types (decimals, timestamps, dates, optional columns), values, and a record that does not fit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { S3SinkTask } from '../../../../connectors/s3/s3-sink-task.ts';
import { DataError } from '../../../../runtime/api/index.ts';
import type { Schema, SinkRecord } from '../../../../runtime/api/index.ts';
import { tempDir } from '../../../helpers/worker-process.ts';
import { sinkContext } from '../fake-context.ts';

const schema: Schema = {
  type: 'struct',
  name: 'bench.Value',
  fields: [
    { field: 'id', type: 'int64' },
    { field: 'name', type: 'string', optional: true },
    { field: 'amount', type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '2', 'connect.decimal.precision': '12' } },
    { field: 'small', type: 'int16' },
    { field: 'ratio', type: 'float64' },
    { field: 'ok', type: 'boolean' },
    { field: 'updated_at', type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp', version: 1 },
    { field: 'micros', type: 'int64', name: 'io.debezium.time.MicroTimestamp', optional: true },
    { field: 'zoned', type: 'string', name: 'io.debezium.time.ZonedTimestamp', optional: true },
    { field: 'day', type: 'int32', name: 'org.apache.kafka.connect.data.Date', version: 1 },
    { field: 'tags', type: 'array', items: { type: 'string' }, optional: true },
  ],
};

const record = (offset: number, value: unknown): SinkRecord => ({
  topic: 'db.public.bench', kafkaPartition: 0, kafkaOffset: offset, value, valueSchema: schema,
  originalTopic: 'db.public.bench', originalKafkaPartition: 0, originalKafkaOffset: offset,
});

describe('S3 sink Parquet format', () => {
  it('writes columns typed from the schema that an independent reader reads back', async () => {
    const root = tempDir('s3pq');
    const task = new S3SinkTask();
    const ctx = sinkContext();
    await task.start({ 'store.url': `file://${root}`, 'flush.size': '3', 'format.class': 'io.confluent.connect.s3.format.parquet.ParquetFormat' }, ctx);
    const at = new Date(Date.UTC(2026, 10, 25, 12, 0, 0, 123));
    await task.put([
      record(0, { id: 1, name: 'alice', amount: '12.30', small: -3, ratio: 0.5, ok: true, updated_at: at, micros: 1_764_072_000_123_456, zoned: '2024-05-01T12:00:00.5+02:00', day: new Date(Date.UTC(2026, 10, 25)), tags: ['a', 'b'] }),
      record(1, { id: 2n ** 60n, name: null, amount: '-0.05', small: 7, ratio: 1e-9, ok: false, updated_at: at, micros: null, day: new Date(0), tags: null }),
      record(2, { id: 3, name: 'carol', amount: 'not a number', small: 1, ratio: 1, ok: true, updated_at: at, day: new Date(0) }),
      record(3, { id: 4, name: 'dave', amount: '99999.99', small: 1, ratio: 2, ok: true, updated_at: at, day: new Date(0) }),
    ]);
    expect(ctx.errors.map((e) => e.record.kafkaOffset)).toEqual([2]);
    expect(ctx.errors[0].error).toBeInstanceOf(DataError);
    expect((ctx.errors[0].error as Error).message).toMatch(/column amount/);
    await task.stop();

    const path = join(root, 'topics/db.public.bench/partition=0/db.public.bench+0+0000000000.snappy.parquet');
    const bytes = readFileSync(path);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const meta = parquetMetadata(file);
    expect(Number(meta.num_rows)).toBe(3);
    const cols = Object.fromEntries(parquetSchema(meta).children.map((c) => [c.element.name, c.element]));
    expect(cols.id).toMatchObject({ type: 'INT64', repetition_type: 'REQUIRED' });
    expect(cols.name).toMatchObject({ type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
    expect(cols.amount).toMatchObject({ converted_type: 'DECIMAL', scale: 2, precision: 12 });
    expect(cols.small).toMatchObject({ type: 'INT32', converted_type: 'INT_16' });
    expect(cols.updated_at).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MILLIS' });
    expect(cols.micros).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });
    expect(cols.day).toMatchObject({ type: 'INT32', converted_type: 'DATE' });
    expect(cols.zoned).toMatchObject({ type: 'INT64', converted_type: 'TIMESTAMP_MICROS' });

    const rows = await parquetReadObjects({ file });
    expect(rows.map((r) => r.id)).toEqual([1n, 2n ** 60n, 4n]);
    expect(rows.map((r) => r.name)).toEqual(['alice', null, 'dave']);
    expect(rows.map((r) => r.amount)).toEqual([12.3, -0.05, 99999.99]);
    expect(rows.map((r) => r.small)).toEqual([-3, 7, 1]);
    expect(rows.map((r) => r.ok)).toEqual([true, false, true]);
    expect((rows[0].updated_at as Date).toISOString()).toBe(at.toISOString());
    expect((rows[0].micros as Date).toISOString()).toBe('2025-11-25T12:00:00.123Z');
    expect(rows[1].micros).toBeNull();
    expect((rows[0].zoned as Date).toISOString()).toBe('2024-05-01T10:00:00.500Z');
    expect((rows[0].day as Date).toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(rows[0].tags).toBe('["a","b"]');
  });

  it('starts a new object when the schema changes', async () => {
    const root = tempDir('s3pq');
    const task = new S3SinkTask();
    await task.start({ 'store.url': `file://${root}`, 'flush.size': '100', 'format.class': 'parquet', 'parquet.codec': 'none', 'rotate.schedule.interval.ms': '100000' }, sinkContext());
    const v1: Schema = { type: 'struct', fields: [{ field: 'a', type: 'int32' }] };
    const v2: Schema = { type: 'struct', fields: [{ field: 'a', type: 'int32' }, { field: 'b', type: 'string', optional: true }] };
    const mk = (o: number, s: Schema, value: unknown): SinkRecord => ({ topic: 's', kafkaPartition: 0, kafkaOffset: o, value, valueSchema: s, originalTopic: 's', originalKafkaPartition: 0, originalKafkaOffset: o });
    await task.put([mk(0, v1, { a: 1 }), mk(1, v1, { a: 2 }), mk(2, v2, { a: 3, b: 'x' })]);
    await task.drain();
    const path = join(root, 'topics/s/partition=0/s+0+0000000000.parquet');
    const bytes = readFileSync(path);
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
    expect(rows).toEqual([{ a: 1 }, { a: 2 }]);
    await task.stop();
  });
});
