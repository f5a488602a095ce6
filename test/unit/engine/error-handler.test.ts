import { describe, expect, it } from 'vitest';
import { DataError, RetriableError, type ConnectRecord, type Header } from '../../../runtime/api/index.ts';
import type { ErrorHandlingConfig } from '../../../runtime/engine/connector-config.ts';
import { errorHandlingConfig } from '../../../runtime/engine/connector-config.ts';
import { ErrorHandler, SKIPPED, ToleranceExceededError } from '../../../runtime/engine/error-handler.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };
const base: ErrorHandlingConfig = errorHandlingConfig({});

function handler(over: Partial<ErrorHandlingConfig>, dlq?: Array<{ record: ConnectRecord; headers: Header[] }>) {
  return new ErrorHandler({
    config: { ...base, ...over },
    logger: silent,
    connectorName: 'conn',
    taskId: 3,
    dlq: dlq ? { write: async (record, headers) => void dlq.push({ record, headers }) } : undefined,
  });
}

describe('ErrorHandler', () => {
  it('defaults follow Kafka Connect: no retries, tolerance none', () => {
    expect(base).toMatchObject({ retryTimeoutMs: 0, retryDelayMaxMs: 60000, tolerance: 'none', logEnable: false, dlqTopic: '' });
  });

  it('fails with ToleranceExceededError carrying the cause under errors.tolerance=none', async () => {
    const h = handler({});
    const err = await h.execute('TRANSFORMATION', () => { throw new DataError('bad field'); }, {}).catch((e) => e);
    expect(err).toBeInstanceOf(ToleranceExceededError);
    expect(err.message).toContain('TRANSFORMATION');
    expect(err.cause.message).toBe('bad field');
  });

  it('skips and dead-letters the record with __connect.errors.* headers under tolerance=all', async () => {
    const dlq: Array<{ record: ConnectRecord; headers: Header[] }> = [];
    const h = handler({ tolerance: 'all', dlqTopic: 'dlq', dlqContextHeaders: true }, dlq);
    const record = { topic: 'orders', value: 'x', kafkaPartition: 1, kafkaOffset: 42, originalTopic: 'orders', originalKafkaPartition: 1, originalKafkaOffset: 42 };
    const out = await h.execute('VALUE_CONVERTER', () => { throw new DataError('not json'); }, { record, executingClass: 'JsonConverter' });
    expect(out).toBe(SKIPPED);
    expect(dlq).toHaveLength(1);
    const headers = Object.fromEntries(dlq[0].headers.map((x) => [x.key, x.value]));
    expect(headers).toMatchObject({
      '__connect.errors.topic': 'orders',
      '__connect.errors.partition': '1',
      '__connect.errors.offset': '42',
      '__connect.errors.connector.name': 'conn',
      '__connect.errors.task.id': '3',
      '__connect.errors.stage': 'VALUE_CONVERTER',
      '__connect.errors.class.name': 'JsonConverter',
      '__connect.errors.exception.class.name': 'DataError',
      '__connect.errors.exception.message': 'not json',
    });
    expect(String(headers['__connect.errors.exception.stacktrace'])).toContain('DataError: not json');
  });

  it('writes no context headers unless enabled', async () => {
    const dlq: Array<{ record: ConnectRecord; headers: Header[] }> = [];
    const h = handler({ tolerance: 'all', dlqTopic: 'dlq' }, dlq);
    await h.execute('TRANSFORMATION', () => { throw new Error('x'); }, { record: { topic: 't', value: 1 } });
    expect(dlq[0].headers).toEqual([]);
  });

  it('retries retriable errors within errors.retry.timeout, then succeeds', async () => {
    const h = handler({ retryTimeoutMs: 5000, retryDelayMaxMs: 10 });
    let calls = 0;
    const out = await h.execute('TASK_PUT', () => {
      calls++;
      if (calls < 3) throw new RetriableError('busy');
      return 'ok';
    }, {});
    expect(out).toBe('ok');
    expect(calls).toBe(3);
  });

  it('does not retry when errors.retry.timeout=0 (except put/poll, which retry until stopped)', async () => {
    const h = handler({ retryTimeoutMs: 0, retryDelayMaxMs: 5 });
    let calls = 0;
    await expect(h.execute('TRANSFORMATION', () => { calls++; throw new RetriableError('busy'); }, {})).rejects.toBeInstanceOf(ToleranceExceededError);
    expect(calls).toBe(1);
    calls = 0;
    const out = await h.withRetries('TASK_PUT', () => {
      calls++;
      if (calls < 4) throw new RetriableError('busy');
      return 'done';
    }, undefined, true);
    expect(out).toBe('done');
    expect(calls).toBe(4);
  });

  it('honours retryAfterMs from the error', async () => {
    const h = handler({ retryTimeoutMs: 10_000 });
    let calls = 0;
    const started = Date.now();
    await h.execute('TASK_PUT', () => {
      if (calls++ === 0) throw new RetriableError('slow down', { retryAfterMs: 30 });
      return 1;
    }, {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(20);
  });

  it('stops retrying when the signal aborts', async () => {
    const h = handler({ retryTimeoutMs: -1, retryDelayMaxMs: 50 });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 30);
    await expect(h.withRetries('TASK_POLL', () => { throw new RetriableError('down'); }, ctrl.signal)).rejects.toThrow('down');
  });

  it('executeSync returns the value without a promise on success', () => {
    const h = handler({});
    expect(h.executeSync('TRANSFORMATION', () => 5, {})).toBe(5);
  });
});
