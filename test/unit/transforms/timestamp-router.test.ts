import { describe, expect, it } from 'vitest';
import { DataError } from '../../../runtime/api/errors.ts';
import { TimestampRouter } from '../../../runtime/transforms/timestamp-router.ts';
import { sinkRecord, sourceRecord, transform } from './helpers.ts';

describe('TimestampRouter', () => {
  it('is Connect\'s TimestampRouter with its defaults', () => {
    expect(TimestampRouter.className).toBe('org.apache.kafka.connect.transforms.TimestampRouter');
    expect(TimestampRouter.config.describe().map((k) => [k.name, k.default_value])).toEqual([
      ['topic.format', '${topic}-${timestamp}'], ['timestamp.format', 'yyyyMMdd'],
    ]);
  });

  it('defaults to ${topic}-${timestamp} with yyyyMMdd in UTC', () => {
    const record = sinkRecord({ topic: 'events', value: 1, timestamp: Date.UTC(2024, 0, 15, 23, 59) });
    expect(transform(TimestampRouter)(record)).toStrictEqual({ ...record, topic: 'events-20240115' });
  });

  it('uses topic.format and timestamp.format, replacing every placeholder', () => {
    const route = transform(TimestampRouter, { 'topic.format': 'archive.${timestamp}.${topic}.${topic}', 'timestamp.format': 'yyyy-MM' });
    expect(route(sourceRecord({ topic: 'o', timestamp: Date.UTC(2023, 11, 31) }))?.topic).toBe('archive.2023-12.o.o');
  });

  it('throws a DataError when the record has no timestamp', () => {
    expect(() => transform(TimestampRouter)(sourceRecord({ topic: 'o' }))).toThrow(DataError);
    expect(() => transform(TimestampRouter)(sourceRecord({ topic: 'o' }))).toThrow(
      'TimestampRouter: timestamp missing on record from topic "o"; TimestampRouter needs the record timestamp to name the topic.',
    );
  });

  it('names timestamp.format when the pattern is bad', () => {
    expect(() => TimestampRouter.create({ 'timestamp.format': 'yyyyMMddTHH' })).toThrow(
      'Invalid configuration: timestamp.format: Invalid value "yyyyMMddTHH" for configuration timestamp.format: Illegal pattern character \'T\'',
    );
  });
});
