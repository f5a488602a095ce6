import { describe, expect, it } from 'vitest';
import { IS_CONTROL, IS_TRANSACTIONAL } from '@platformatic/kafka';
import type { RecordsBatch } from '@platformatic/kafka';
import { committedBatches } from '../../../runtime/engine/kafka/transactions.ts';

function batch(firstOffset: number, count: number, producerId: number, kind: 'plain' | 'tx' | 'marker'): RecordsBatch {
  const attributes = kind === 'plain' ? 0 : kind === 'tx' ? IS_TRANSACTIONAL : IS_TRANSACTIONAL | IS_CONTROL;
  return { firstOffset: BigInt(firstOffset), lastOffsetDelta: count - 1, producerId: BigInt(producerId), attributes, records: [] } as unknown as RecordsBatch;
}

const offsets = (bs: RecordsBatch[]) => bs.map((b) => Number(b.firstOffset));

describe('committedBatches (read_committed over a raw fetch)', () => {
  it('keeps plain batches and committed transactions, drops aborted transactions and every marker', () => {
    const batches = [
      batch(0, 2, 7, 'tx'), // producer 7, committed by the marker at 4
      batch(2, 2, 8, 'tx'), // producer 8, aborted (marker at 5)
      batch(4, 1, 7, 'marker'),
      batch(5, 1, 8, 'marker'),
      batch(6, 3, 0, 'plain'),
      batch(9, 2, 8, 'tx'), // producer 8 again: a new transaction, committed
      batch(11, 1, 8, 'marker'),
    ];
    expect(offsets(committedBatches(batches, [{ producerId: 8n, firstOffset: 2n }]))).toEqual([0, 6, 9]);
  });

  it('drops an aborted transaction that started before the fetched range, and handles two aborts of one producer', () => {
    const batches = [
      batch(10, 2, 3, 'tx'), // the tail of producer 3's transaction that began at 5: aborted
      batch(12, 1, 3, 'marker'),
      batch(13, 2, 3, 'tx'), // aborted again
      batch(15, 1, 3, 'marker'),
      batch(16, 1, 3, 'tx'), // committed
      batch(17, 1, 3, 'marker'),
    ];
    const aborted = [{ producerId: 3n, firstOffset: 13n }, { producerId: 3n, firstOffset: 5n }];
    expect(offsets(committedBatches(batches, aborted))).toEqual([16]);
  });
});
