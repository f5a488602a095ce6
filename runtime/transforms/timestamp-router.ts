/** TimestampRouter: route to a topic named from the original topic and the record timestamp (UTC). */
import { custom, defineConfig } from '../api/config-spec.ts';
import type { ConnectRecord } from '../api/records.ts';
import type { TransformFn, TransformPlugin } from '../api/transform.ts';
import { compileDateFormat } from './util/date-format.ts';
import { TRANSFORMS_PACKAGE } from './util/record-side.ts';
import { dataError } from './util/values.ts';

export const timestampRouterConfig = defineConfig({
  'topic.format': {
    type: 'string', default: '${topic}-${timestamp}', importance: 'high',
    doc: 'Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively.',
  },
  'timestamp.format': {
    type: 'string', default: 'yyyyMMdd', importance: 'high',
    doc: 'Format string for the timestamp that is compatible with java.text.SimpleDateFormat. Timestamps are formatted in UTC.',
    validate: custom<string>((v) => {
      try {
        compileDateFormat(v);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    }, 'a SimpleDateFormat pattern'),
  },
});

function create(raw: Record<string, string>): TransformFn {
  const config = timestampRouterConfig.parse(raw);
  const topicFormat = config['topic.format'];
  const format = compileDateFormat(config['timestamp.format']);
  return <R extends ConnectRecord>(record: R): R => {
    if (record.timestamp === undefined || record.timestamp === null) {
      throw dataError({ transform: 'TimestampRouter', part: 'value' }, `timestamp missing on record from topic "${record.topic}"; TimestampRouter needs the record timestamp to name the topic.`);
    }
    const timestamp = format.format(record.timestamp);
    const topic = topicFormat.replaceAll('${topic}', record.topic).replaceAll('${timestamp}', timestamp);
    return { ...record, topic };
  };
}

export const TimestampRouter: TransformPlugin = {
  className: `${TRANSFORMS_PACKAGE}.TimestampRouter`,
  aliases: ['TimestampRouter'],
  description: "Update the record's topic as a function of the original topic and the record timestamp (mainly for sink connectors).",
  config: timestampRouterConfig,
  create,
};
