/** The predicates Connect ships: conditions that decide whether a transform applies to a record. */
import { defineConfig, nonEmpty } from '../api/config-spec.ts';
import type { PredicatePlugin } from '../api/transform.ts';
import { compileJavaRegex, fullMatch, javaRegexValidator } from './util/java-regex.ts';

const PREDICATES_PACKAGE = 'org.apache.kafka.connect.transforms.predicates';

export const topicNameMatchesConfig = defineConfig({
  pattern: {
    type: 'string', importance: 'medium',
    validate: (() => {
      const notEmpty = nonEmpty();
      const regex = javaRegexValidator();
      return Object.assign((v: string, all: Record<string, unknown>) => notEmpty(v, all) ?? regex(v, all), { describe: 'a non-empty Java regular expression' });
    })(),
    doc: 'A Java regular expression for matching against the name of a record\'s topic (the whole name must match).',
  },
});

export const TopicNameMatches: PredicatePlugin = {
  className: `${PREDICATES_PACKAGE}.TopicNameMatches`,
  aliases: ['TopicNameMatches'],
  description: 'True for records with a topic name that matches the configured regular expression.',
  config: topicNameMatchesConfig,
  create(raw) {
    const regex = compileJavaRegex(topicNameMatchesConfig.parse(raw).pattern);
    return (record) => typeof record.topic === 'string' && fullMatch(regex, record.topic) !== null;
  },
};

export const hasHeaderKeyConfig = defineConfig({
  name: { type: 'string', importance: 'medium', validate: nonEmpty(), doc: 'The header name.' },
});

export const HasHeaderKey: PredicatePlugin = {
  className: `${PREDICATES_PACKAGE}.HasHeaderKey`,
  aliases: ['HasHeaderKey'],
  description: 'True for records with at least one header with the configured name.',
  config: hasHeaderKeyConfig,
  create(raw) {
    const name = hasHeaderKeyConfig.parse(raw).name;
    return (record) => (record.headers ?? []).some((h) => h.key === name);
  },
};

export const recordIsTombstoneConfig = defineConfig({});

export const RecordIsTombstone: PredicatePlugin = {
  className: `${PREDICATES_PACKAGE}.RecordIsTombstone`,
  aliases: ['RecordIsTombstone'],
  description: 'True for records which are tombstones (i.e. have a null value).',
  config: recordIsTombstoneConfig,
  create: () => (record) => record.value === null || record.value === undefined,
};
