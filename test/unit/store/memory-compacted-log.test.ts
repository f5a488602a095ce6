import { describe, expect, it } from 'vitest';
import { MemoryCompactedLog, MemoryTopic } from '../../../runtime/store/compacted-log.ts';
import { LogClosedError } from '../../../runtime/store/errors.ts';
import { replay } from './helpers.ts';

describe('MemoryCompactedLog', () => {
  it('replays what is in its topic, then follows appends from other logs on the same topic', async () => {
    const topic = new MemoryTopic('configs');
    const writer = new MemoryCompactedLog({ topic });
    await writer.start();
    await writer.append('a', 1);

    const reader = new MemoryCompactedLog({ topic });
    const seen = await replay(reader);
    expect(seen).toEqual([['a', 1]]);
    await writer.appendAll([
      { key: 'b', value: { x: true } },
      { key: 'a', value: null },
    ]);
    await reader.readToEnd();
    expect(seen).toEqual([
      ['a', 1],
      ['b', { x: true }],
      ['a', null],
    ]);
  });

  it('with async delivery, as Kafka: append resolves first, readToEnd waits for delivery', async () => {
    const log = new MemoryCompactedLog({ asyncDelivery: true });
    const seen: string[] = [];
    log.subscribe((k) => seen.push(k));
    await log.start();
    await log.append('a', 1);
    expect(seen).toEqual([]);
    await log.readToEnd();
    expect(seen).toEqual(['a']);
  });

  it('compaction keeps the latest record of each live key with its offset', async () => {
    const topic = new MemoryTopic();
    const log = new MemoryCompactedLog({ topic });
    await log.start();
    await log.appendAll([
      { key: 'a', value: 1 },
      { key: 'b', value: 1 },
      { key: 'a', value: 2 },
      { key: 'b', value: null },
      { key: 'c', value: 3 },
    ]);
    await log.compact();
    const offsets: number[] = [];
    const reader = new MemoryCompactedLog({ topic });
    reader.subscribe((_k, _v, meta) => offsets.push(meta.offset));
    expect(await replay(reader)).toEqual([
      ['a', 2],
      ['c', 3],
    ]);
    expect(offsets).toEqual([2, 4]);
  });

  it('delivers each record once when a subscriber appends during delivery', async () => {
    const log = new MemoryCompactedLog();
    const seen: string[] = [];
    log.subscribe((k) => {
      seen.push(k);
      if (k === 'a') void log.append('b', 2);
    });
    await log.start();
    await log.appendAll([
      { key: 'a', value: 1 },
      { key: 'z', value: 26 },
    ]);
    expect(seen).toEqual(['a', 'z', 'b']);
  });

  it('rejects appends after close', async () => {
    const log = new MemoryCompactedLog();
    await log.start();
    await log.close();
    await expect(log.append('a', 1)).rejects.toBeInstanceOf(LogClosedError);
  });
});
