/** DropHeaders: remove every header with one of the given names. */
import { defineConfig, nonEmpty } from '../api/config-spec.ts';
import type { ConnectRecord } from '../api/records.ts';
import type { TransformFn, TransformPlugin } from '../api/transform.ts';
import { TRANSFORMS_PACKAGE } from './util/record-side.ts';

export const dropHeadersConfig = defineConfig({
  headers: { type: 'list', importance: 'high', validate: nonEmpty(), doc: 'The names of the headers to be removed.' },
});

function create(raw: Record<string, string>): TransformFn {
  const names = new Set(dropHeadersConfig.parse(raw).headers);
  return <R extends ConnectRecord>(record: R): R => ({ ...record, headers: (record.headers ?? []).filter((h) => !names.has(h.key)) });
}

export const DropHeaders: TransformPlugin = {
  className: `${TRANSFORMS_PACKAGE}.DropHeaders`,
  aliases: ['DropHeaders'],
  description: 'Removes one or more headers from each record.',
  config: dropHeadersConfig,
  create,
};
