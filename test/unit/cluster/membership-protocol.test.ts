import { describe, expect, it } from 'vitest';
import type { Assignment } from '../../../runtime/cluster/membership/index.ts';
import { decodeAssignment, decodeMetadata, encodeAssignment, encodeMetadata } from '../../../runtime/cluster/membership/index.ts';

describe('membership protocol', () => {
  it('member metadata round-trips as versioned JSON', () => {
    const meta = { workerId: 'w1', restUrl: 'http://w1:8083', configOffset: 42, owned: { connectors: ['a'], tasks: [{ connector: 'a', task: 0 }] } };
    const bytes = encodeMetadata(meta);
    expect(JSON.parse(bytes.toString())).toEqual({ version: 1, ...meta });
    expect(decodeMetadata(bytes)).toEqual(meta);
  });

  it('assignments round-trip', () => {
    const a: Assignment = {
      error: null,
      leaderId: 'm-1',
      leaderWorkerId: 'w1',
      leaderUrl: 'http://w1:8083',
      connectors: ['a'],
      tasks: [{ connector: 'a', task: 1 }],
      revoked: { connectors: [], tasks: [{ connector: 'b', task: 0 }] },
      assigned: { connectors: ['a'], tasks: [] },
      configOffset: 7,
      catchUp: true,
    };
    expect(decodeAssignment(encodeAssignment(a))).toEqual(a);
    expect(decodeAssignment(encodeAssignment({ ...a, error: 'config-mismatch' }))?.error).toBe('config-mismatch');
  });

  it('bytes that are not ours read as nothing, and malformed entries are dropped', () => {
    expect(decodeMetadata(Buffer.from([0, 1, 2]))).toBeUndefined();
    expect(decodeMetadata(null)).toBeUndefined();
    expect(decodeMetadata(Buffer.from('{"restUrl":"x"}'))).toBeUndefined();
    expect(decodeAssignment(Buffer.alloc(0))).toBeUndefined();
    const meta = decodeMetadata(Buffer.from('{"workerId":"w","owned":{"connectors":["a",3],"tasks":[{"connector":"a","task":"x"},{"connector":"b","task":2}]}}'));
    expect(meta).toEqual({ workerId: 'w', restUrl: '', configOffset: -1, owned: { connectors: ['a'], tasks: [{ connector: 'b', task: 2 }] } });
  });
});
