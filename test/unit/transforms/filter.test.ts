import { describe, expect, it } from 'vitest';
import { Filter } from '../../../runtime/transforms/filter.ts';
import { sinkRecord, transform } from './helpers.ts';

describe('Filter', () => {
  it('is Connect\'s Filter, with no config, and drops every record', () => {
    expect(Filter.className).toBe('org.apache.kafka.connect.transforms.Filter');
    expect(Filter.config.names).toEqual([]);
    expect(transform(Filter)(sinkRecord({ value: { a: 1 } }))).toBeNull();
  });
});
