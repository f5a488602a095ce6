/** InsertHeader: add a header with a literal value to each record. */
import { defineConfig } from '../api/config-spec.ts';
import type { ConnectRecord } from '../api/records.ts';
import type { TransformFn, TransformPlugin } from '../api/transform.ts';
import { TRANSFORMS_PACKAGE } from './util/record-side.ts';

export const insertHeaderConfig = defineConfig({
  header: { type: 'string', importance: 'high', doc: 'The name of the header.' },
  'value.literal': { type: 'string', importance: 'high', doc: 'The literal value that is to be set as the header value on all records.' },
});

/**
 * The typed value of a literal, as Connect's Values.parseString reads it: true/false, null,
 * numbers, JSON arrays and objects; anything else stays a string.
 */
export function parseLiteral(text: string): unknown {
  const t = text.trim();
  if (t === '') return text;
  const lower = t.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  if (lower === 'null') return null;
  if (/^[+-]?\d+$/.test(t)) {
    const n = BigInt(t);
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  }
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if ((t.startsWith('[') && t.endsWith(']')) || (t.startsWith('{') && t.endsWith('}'))) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return text;
}

function create(raw: Record<string, string>): TransformFn {
  const config = insertHeaderConfig.parse(raw);
  const header = { key: config.header, value: parseLiteral(config['value.literal']) };
  return <R extends ConnectRecord>(record: R): R => ({ ...record, headers: [...(record.headers ?? []), { ...header }] });
}

export const InsertHeader: TransformPlugin = {
  className: `${TRANSFORMS_PACKAGE}.InsertHeader`,
  aliases: ['InsertHeader'],
  description: 'Add a header to each record.',
  config: insertHeaderConfig,
  create,
};
