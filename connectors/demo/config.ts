import { custom, defineConfig, nonEmpty, oneOf, range } from '../../runtime/api/index.ts';
import { SHAPES } from './shapes.ts';

/** Keys the connector adds to each task's config; hidden from docs and not meant to be set by users. */
export const TASK_INDEX = 'demo.task.index';
export const TASK_COUNT = 'demo.task.count';

export const demoSourceConfig = defineConfig({
  topic: {
    type: 'string',
    doc: 'The topic to write the generated records to.',
    importance: 'high',
    validate: nonEmpty(),
  },
  shape: {
    type: 'string',
    default: 'orders',
    doc: 'What to generate: `orders`, `users` and `pageviews` are realistic-looking records with a struct schema; `sequence` is just `{task, seq}`.',
    importance: 'high',
    validate: oneOf(SHAPES),
  },
  rate: {
    type: 'double',
    default: 10,
    doc: 'Records per second for the whole connector, split evenly across its tasks. 0 means as fast as possible.',
    importance: 'medium',
    validate: range(0),
  },
  seed: {
    type: 'int',
    default: 42,
    doc: 'Seed of the generator. Record N of task i is the same on every run for a given seed and shape.',
    importance: 'low',
  },
  'max.records': {
    type: 'long',
    default: -1,
    doc: 'Records to generate in total across all tasks, then idle (the task keeps running and produces nothing more). -1 means unbounded.',
    importance: 'medium',
    validate: range(-1),
  },
  'batch.size': {
    type: 'int',
    default: 100,
    doc: 'The most records one poll returns.',
    importance: 'low',
    validate: range(1, 100_000),
  },
  [TASK_INDEX]: {
    type: 'int',
    default: 0,
    doc: 'This task\'s index among the connector\'s tasks.',
    internal: true,
    validate: custom<number>((v, all) => (v < 0 || v >= Number(all[TASK_COUNT]) ? `Must be in [0, ${String(all[TASK_COUNT])}).` : undefined)),
  },
  [TASK_COUNT]: { type: 'int', default: 1, doc: 'How many tasks share the generation.', internal: true, validate: range(1) },
});
