/** Filter: drop every record; used with a predicate to drop the records that match (or, negated, that do not). */
import { defineConfig } from '../api/config-spec.ts';
import type { TransformPlugin } from '../api/transform.ts';
import { TRANSFORMS_PACKAGE } from './util/record-side.ts';

export const filterConfig = defineConfig({});

export const Filter: TransformPlugin = {
  className: `${TRANSFORMS_PACKAGE}.Filter`,
  aliases: ['Filter'],
  description: 'Drops all records, filtering them from subsequent transformations in the chain. Use it with a predicate.',
  config: filterConfig,
  create: () => () => null,
};
