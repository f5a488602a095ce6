import { custom, defineConfig, nonEmpty, oneOf, range } from '../../runtime/api/index.ts';

/** `file=-` makes the sink write to standard output. */
export const STDOUT = '-';

export const fileSinkConfig = defineConfig({
  file: {
    type: 'string',
    doc: 'The file to append records to, one per line; created when missing, never truncated. `-` writes to standard output instead.',
    importance: 'high',
    validate: nonEmpty(),
  },
  format: {
    type: 'string',
    default: 'json',
    doc: 'How a record value becomes a line. `json`: the value as one line of JSON (bytes as a base64 string, null as `null`). `text`: the value as text, as Kafka Connect\'s FileStreamSink writes it (strings as they are, bytes as UTF-8, other objects as JSON).',
    importance: 'medium',
    validate: oneOf(['json', 'text']),
  },
});

export const fileSourceConfig = defineConfig({
  file: {
    type: 'string',
    doc: 'The file to read lines from. It is tailed: lines appended later are read too. Until it exists, the task waits for it.',
    importance: 'high',
    validate: custom<string>((v) => (v === '' ? 'Must not be empty.' : v === STDOUT ? 'Reading standard input is not supported; give a file path.' : undefined), 'a file path'),
  },
  topic: {
    type: 'string',
    doc: 'The topic to write each line to.',
    importance: 'high',
    validate: nonEmpty(),
  },
  'batch.size': {
    type: 'int',
    default: 2000,
    doc: 'The most lines one poll returns.',
    importance: 'low',
    validate: range(1, 1_000_000),
  },
});
