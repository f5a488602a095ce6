import { describe, expect, it } from 'vitest';
import { UNCHANGED_TOAST, decodePgOutput } from '../../../../connectors/postgres-cdc/pgoutput.ts';
import { formatLsn, parseLsn } from '../../../../connectors/postgres-cdc/lsn.ts';

// Messages as pgoutput (proto_version 1) sends them, captured from Postgres 15 with
// pg_logical_slot_peek_binary_changes for: create table t (id int primary key, name text);
// insert (42, 'hi'); update set name = 'yo'; delete.
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('pgoutput decoder', () => {
  it('decodes Begin and Commit', () => {
    const begin = decodePgOutput(hex('42 00000000016B3748 0002B5C8D2A3F100 000002D3'));
    expect(begin).toEqual({ tag: 'begin', finalLsn: 0x16b3748, commitTime: 0x0002b5c8d2a3f100n, xid: 723 });
    const commit = decodePgOutput(hex('43 00 00000000016B3748 00000000016B3778 0002B5C8D2A3F100'));
    expect(commit).toMatchObject({ tag: 'commit', commitLsn: 0x16b3748, endLsn: 0x16b3778 });
  });

  it('decodes a Relation with its key flags, types and modifiers', () => {
    const rel = decodePgOutput(hex(`52 00004001 7075626c696300 7400 64 0002
      01 696400 00000017 ffffffff
      00 6e616d6500 00000019 ffffffff`));
    expect(rel).toEqual({
      tag: 'relation', relationOid: 0x4001, schema: 'public', table: 't', replicaIdentity: 'd',
      columns: [{ isKey: true, name: 'id', typeOid: 23, typeMod: -1 }, { isKey: false, name: 'name', typeOid: 25, typeMod: -1 }],
    });
  });

  it('decodes Insert, Update (with key and old tuples) and Delete tuples: text, null, unchanged TOAST', () => {
    expect(decodePgOutput(hex('49 00004001 4e 0002 74 00000002 3432 74 00000002 6869'))).toEqual({ tag: 'insert', relationOid: 0x4001, newTuple: ['42', 'hi'] });
    expect(decodePgOutput(hex('55 00004001 4e 0002 74 00000002 3432 75'))).toEqual({ tag: 'update', relationOid: 0x4001, keyTuple: null, oldTuple: null, newTuple: ['42', UNCHANGED_TOAST] });
    expect(decodePgOutput(hex('55 00004001 4f 0002 74 00000002 3432 6e 4e 0002 74 00000002 3433 74 00000002 796f'))).toEqual({
      tag: 'update', relationOid: 0x4001, keyTuple: null, oldTuple: ['42', null], newTuple: ['43', 'yo'],
    });
    expect(decodePgOutput(hex('55 00004001 4b 0002 74 00000002 3432 6e 4e 0002 74 00000002 3433 6e'))).toMatchObject({ keyTuple: ['42', null], newTuple: ['43', null] });
    expect(decodePgOutput(hex('44 00004001 4b 0002 74 00000002 3432 6e'))).toEqual({ tag: 'delete', relationOid: 0x4001, keyTuple: ['42', null], oldTuple: null });
  });

  it('decodes Truncate, Message, Origin and Type', () => {
    expect(decodePgOutput(hex('54 00000002 03 00004001 00004002'))).toEqual({ tag: 'truncate', cascade: true, restartIdentity: true, relationOids: [0x4001, 0x4002] });
    expect(decodePgOutput(hex('4d 01 00000000016B3748 617564697400 00000005 68656c6c6f'))).toMatchObject({ tag: 'message', transactional: true, lsn: 0x16b3748, prefix: 'audit' });
    expect((decodePgOutput(hex('4d 00 00000000016B3748 7000 00000001 21')) as { content: Buffer }).content.toString()).toBe('!');
    expect(decodePgOutput(hex('4f 00000000016B3748 6e6f646531 00'))).toEqual({ tag: 'origin', originLsn: 0x16b3748, name: 'node1' });
    expect(decodePgOutput(hex('59 00004010 7075626c696300 6d6f6f6400'))).toEqual({ tag: 'type', typeOid: 0x4010, schema: 'public', name: 'mood' });
  });

  it('rejects streamed-transaction messages with a clear error', () => {
    expect(() => decodePgOutput(hex('53 00000001 00'))).toThrow(/unknown pgoutput message type 0x53/);
  });

  it('LSNs round-trip between text and numbers', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848);
    expect(formatLsn(0x16b374d848)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/0'))).toBe('0/0');
  });
});
