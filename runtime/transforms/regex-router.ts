/** RegexRouter: rename the topic when the whole topic name matches a regex. */
import { defineConfig } from '../api/config-spec.ts';
import { ConfigError } from '../api/errors.ts';
import type { ConnectRecord } from '../api/records.ts';
import type { TransformFn, TransformPlugin } from '../api/transform.ts';
import { compileJavaRegex, compileJavaReplacement, fullMatch, javaRegexValidator, type JavaRegex } from './util/java-regex.ts';
import { TRANSFORMS_PACKAGE } from './util/record-side.ts';

export const regexRouterConfig = defineConfig({
  regex: { type: 'string', importance: 'high', validate: javaRegexValidator(), doc: 'Regular expression to use for matching the whole topic name.' },
  replacement: {
    type: 'string', importance: 'high',
    doc: 'Replacement string: the new topic name, where $1, $2, ... (or ${name}) insert the regex groups and \\$ is a literal dollar sign.',
  },
});

function create(raw: Record<string, string>): TransformFn {
  const config = regexRouterConfig.parse(raw);
  const regex: JavaRegex = compileJavaRegex(config.regex);
  let expand: (m: RegExpExecArray) => string;
  try {
    expand = compileJavaReplacement(config.replacement, regex);
  } catch (e) {
    throw ConfigError.fromFields([{ name: 'replacement', message: (e as Error).message }]);
  }
  return <R extends ConnectRecord>(record: R): R => {
    const match = fullMatch(regex, record.topic);
    return match ? { ...record, topic: expand(match) } : record;
  };
}

export const RegexRouter: TransformPlugin = {
  className: `${TRANSFORMS_PACKAGE}.RegexRouter`,
  aliases: ['RegexRouter'],
  description: 'Update the record topic using the configured regular expression and replacement string.',
  config: regexRouterConfig,
  create,
};
