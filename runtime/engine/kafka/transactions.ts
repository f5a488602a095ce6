/**
 * Reading committed records from a raw fetch response (isolation.level=read_committed), as the
 * Java consumer does. The broker returns data up to the last stable offset, aborted transactions
 * included, with the list of aborted transactions (producer id and first offset) that overlap
 * the fetched range. A transactional batch of a producer on that list, at or after its first
 * offset, is skipped until that producer's next control marker (which ends the transaction).
 * Control batches (commit/abort markers) are never data.
 */
import { IS_CONTROL, IS_TRANSACTIONAL } from '@platformatic/kafka';
import type { RecordsBatch } from '@platformatic/kafka';

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/**
 * The batches whose records a read_committed reader delivers, in order. Every batch (delivered or
 * not) still advances the reader's position: use `batches` for positions, this for data.
 */
export function committedBatches(batches: readonly RecordsBatch[], aborted: readonly AbortedTransaction[]): RecordsBatch[] {
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  const out: RecordsBatch[] = [];
  for (const batch of batches) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (pending.length > 0 && pending[0]!.firstOffset <= last) abortedProducers.add(pending.shift()!.producerId);
    const transactional = (batch.attributes & IS_TRANSACTIONAL) !== 0;
    if ((batch.attributes & IS_CONTROL) !== 0) {
      if (transactional) abortedProducers.delete(batch.producerId);
      continue;
    }
    if (transactional && abortedProducers.has(batch.producerId)) continue;
    out.push(batch);
  }
  return out;
}
