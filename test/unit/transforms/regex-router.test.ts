import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../runtime/api/errors.ts';
import { RegexRouter } from '../../../runtime/transforms/regex-router.ts';
import { sinkRecord, sourceRecord, transform } from './helpers.ts';

describe('RegexRouter', () => {
  it('is Connect\'s RegexRouter', () => {
    expect(RegexRouter.className).toBe('org.apache.kafka.connect.transforms.RegexRouter');
    expect(RegexRouter.config.names).toEqual(['regex', 'replacement']);
  });

  it('renames a topic that matches as a whole, with $n groups; other fields carry through', () => {
    const route = transform(RegexRouter, { regex: '(\\w+)\\.public\\.(\\w+)', replacement: '$1_$2' });
    const record = sourceRecord({ topic: 'shop.public.orders', key: 1, value: { id: 1 } });
    expect(route(record)).toStrictEqual({ ...record, topic: 'shop_orders' });
    const sink = sinkRecord({ topic: 'shop.public.users', value: 'v' });
    expect(route(sink)).toStrictEqual({ ...sink, topic: 'shop_users' });
  });

  it('leaves a topic that only partly matches alone', () => {
    const route = transform(RegexRouter, { regex: 'orders', replacement: 'x' });
    const record = sourceRecord({ topic: 'orders-v2' });
    expect(route(record)).toBe(record);
  });

  it('supports named groups and escaped dollars', () => {
    const route = transform(RegexRouter, { regex: '(?<t>.*)-raw', replacement: '\\$${t}' });
    expect(route(sourceRecord({ topic: 'a-raw' }))?.topic).toBe('$a');
  });

  it('names regex or replacement in config errors', () => {
    const fields = (config: Record<string, string>) => {
      try {
        RegexRouter.create(config);
      } catch (e) {
        return (e as ConfigError).fields;
      }
      return [];
    };
    expect(fields({ regex: '(a', replacement: 'x' })[0].name).toBe('regex');
    expect(fields({ regex: '(a', replacement: 'x' })[0].message).toMatch(/^Invalid value "\(a" for configuration regex: Not a valid regular expression/);
    expect(fields({ regex: '(a)', replacement: '$2' })).toEqual([{ name: 'replacement', message: 'The replacement refers to group $2, but the regex has only 1 group(s).' }]);
    expect(fields({ regex: 'a' }).map((f) => f.name)).toEqual(['replacement']);
  });
});
