import { describe, expect, it } from 'vitest';
import { HasHeaderKey, RecordIsTombstone, TopicNameMatches } from '../../../runtime/transforms/predicates.ts';
import { predicate, sinkRecord, sourceRecord } from './helpers.ts';

describe('TopicNameMatches', () => {
  it('is Connect\'s predicate', () => {
    expect(TopicNameMatches.className).toBe('org.apache.kafka.connect.transforms.predicates.TopicNameMatches');
    expect(TopicNameMatches.aliases).toEqual(['TopicNameMatches']);
  });

  it('matches the whole topic name', () => {
    const test = predicate(TopicNameMatches, { pattern: 'shop\\..*' });
    expect(test(sourceRecord({ topic: 'shop.orders' }))).toBe(true);
    expect(test(sourceRecord({ topic: 'myshop.orders' }))).toBe(false);
    expect(predicate(TopicNameMatches, { pattern: 'orders' })(sourceRecord({ topic: 'orders-dlq' }))).toBe(false);
  });

  it('requires a non-empty, valid pattern', () => {
    expect(() => TopicNameMatches.create({ pattern: '' })).toThrow('Invalid configuration: pattern: Invalid value "" for configuration pattern: Must not be empty.');
    expect(() => TopicNameMatches.create({ pattern: '[' })).toThrow('Invalid configuration: pattern: Invalid value "[" for configuration pattern: Not a valid regular expression');
  });
});

describe('HasHeaderKey', () => {
  it('is true when at least one header has the name', () => {
    expect(HasHeaderKey.className).toBe('org.apache.kafka.connect.transforms.predicates.HasHeaderKey');
    const test = predicate(HasHeaderKey, { name: 'trace' });
    expect(test(sinkRecord({ headers: [{ key: 'a', value: 1 }, { key: 'trace', value: null }] }))).toBe(true);
    expect(test(sinkRecord({ headers: [{ key: 'Trace', value: 1 }] }))).toBe(false);
    expect(test(sinkRecord())).toBe(false);
  });

  it('requires name', () => {
    expect(() => HasHeaderKey.create({})).toThrow('Invalid configuration: name: Missing required configuration "name"');
  });
});

describe('RecordIsTombstone', () => {
  it('is true for a null value', () => {
    expect(RecordIsTombstone.className).toBe('org.apache.kafka.connect.transforms.predicates.RecordIsTombstone');
    const test = predicate(RecordIsTombstone);
    expect(test(sinkRecord({ key: 'k', value: null }))).toBe(true);
    expect(test(sinkRecord({ key: 'k', value: 0 }))).toBe(false);
    expect(test(sinkRecord({ key: 'k', value: '' }))).toBe(false);
  });
});
