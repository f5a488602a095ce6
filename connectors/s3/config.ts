/**
 * Config specs of the S3 sink (the Confluent S3 sink's keys, so existing configs move over) and
 * the S3 source. `store.url` may be `file:///path` for a local lake with the same layout.
 */
import { custom, defineConfig, nonEmpty, oneOf, range } from '../../runtime/api/index.ts';

export const FORMATS: Record<string, 'json' | 'parquet' | 'bytes'> = {
  json: 'json',
  parquet: 'parquet',
  bytes: 'bytes',
  'io.confluent.connect.s3.format.json.JsonFormat': 'json',
  'io.confluent.connect.s3.format.parquet.ParquetFormat': 'parquet',
  'io.confluent.connect.s3.format.bytearray.ByteArrayFormat': 'bytes',
};

export const PARTITIONERS: Record<string, 'default' | 'field' | 'time' | 'hourly' | 'daily'> = {
  default: 'default',
  field: 'field',
  time: 'time',
  timebased: 'time',
  hourly: 'hourly',
  daily: 'daily',
  'io.confluent.connect.storage.partitioner.DefaultPartitioner': 'default',
  'io.confluent.connect.storage.partitioner.FieldPartitioner': 'field',
  'io.confluent.connect.storage.partitioner.TimeBasedPartitioner': 'time',
  'io.confluent.connect.storage.partitioner.HourlyPartitioner': 'hourly',
  'io.confluent.connect.storage.partitioner.DailyPartitioner': 'daily',
};

export const EXTRACTORS: Record<string, 'wallclock' | 'record' | 'recordfield'> = {
  wallclock: 'wallclock',
  record: 'record',
  recordfield: 'recordfield',
  Wallclock: 'wallclock',
  Record: 'record',
  RecordField: 'recordfield',
  'io.confluent.connect.storage.partitioner.TimeBasedPartitioner$Wallclock': 'wallclock',
  'io.confluent.connect.storage.partitioner.TimeBasedPartitioner$Record': 'record',
  'io.confluent.connect.storage.partitioner.TimeBasedPartitioner$RecordField': 'recordfield',
};

const known = (table: Record<string, string>, what: string) =>
  custom<string>((v) => (table[v] ? undefined : `Unknown ${what}; use one of ${Object.keys(table).filter((k) => !k.includes('.')).join(', ')} or the Confluent class name.`), Object.keys(table).join(', '));

const validTimezone = custom<string>((v) => {
  if (v === '') return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: v });
    return undefined;
  } catch {
    return 'Not a time zone name; use an IANA name such as UTC or Europe/Paris.';
  }
}, 'an IANA time zone (UTC, Europe/Paris, ...)');

const storeUrl = custom<string>((v) => {
  if (v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'Not a URL; give http(s)://host:port for an S3-compatible endpoint or file:///path for a local folder.';
  }
  return ['http:', 'https:', 'file:'].includes(u.protocol) ? undefined : 'The scheme must be http, https or file.';
}, 'http(s)://host:port or file:///path');

/** Keys shared by the sink and the source: where the store is and how to sign in. */
const storeKeys = {
  's3.bucket.name': {
    type: 'string',
    default: '',
    doc: 'The bucket. Required for S3; ignored for a `file://` store.url.',
    importance: 'high',
    group: 'S3',
  },
  's3.region': { type: 'string', default: 'us-east-1', doc: 'The AWS region of the bucket.', importance: 'medium', group: 'S3' },
  'store.url': {
    type: 'string',
    default: '',
    doc: 'An S3-compatible endpoint (http(s)://host:port, e.g. MinIO or S3Proxy; empty means AWS S3), or file:///path to write (read) the same layout in a local folder.',
    importance: 'high',
    group: 'S3',
    validate: storeUrl,
  },
  's3.path.style.access.enabled': {
    type: 'boolean',
    default: true,
    doc: 'Address the bucket in the path (http://host/bucket/key), as S3-compatible servers need; false uses virtual-hosted names.',
    importance: 'low',
    group: 'S3',
  },
  'aws.access.key.id': { type: 'password', default: null, doc: 'Access key id; empty uses the AWS SDK\'s default credential chain (environment, profile, instance role).', importance: 'high', group: 'S3' },
  'aws.secret.access.key': { type: 'password', default: null, doc: 'Secret access key, with aws.access.key.id.', importance: 'high', group: 'S3' },
  's3.retry.backoff.ms': { type: 'long', default: 200, doc: 'Accepted for compatibility with Confluent\'s configs and not used: the AWS SDK\'s standard retry strategy backs off exponentially with jitter by itself; after it gives up, the runtime retries the whole call with its own backoff (errors.retry.*).', importance: 'low', group: 'S3', validate: range(0) },
  's3.part.retries': { type: 'int', default: 3, doc: 'How many times the AWS SDK retries one request (5xx, SlowDown, network) before the error reaches the runtime.', importance: 'low', group: 'S3', validate: range(0, 20) },
} as const;

export const s3SinkConfig = defineConfig({
  ...storeKeys,
  'topics.dir': { type: 'string', default: 'topics', doc: 'The top-level folder of the objects: `<topics.dir>/<topic>/<partition path>/<file>`.', importance: 'medium', group: 'Storage' },
  'file.delim': { type: 'string', default: '+', doc: 'The separator in object names `<topic><delim><partition><delim><startOffset>.<ext>`.', importance: 'low', group: 'Storage', validate: nonEmpty() },
  'directory.delim': { type: 'string', default: '/', doc: 'The separator between folders of the key.', importance: 'low', group: 'Storage', validate: nonEmpty() },
  'format.class': {
    type: 'string',
    default: 'json',
    doc: 'The object format: `json` (JSON lines, Confluent\'s JsonFormat), `parquet` (columns from the value schema) or `bytes` (the raw value bytes, one per line; Confluent\'s ByteArrayFormat).',
    importance: 'high',
    group: 'Storage',
    validate: known(FORMATS, 'format'),
  },
  'flush.size': { type: 'int', doc: 'Records per object: an object is uploaded once it holds this many records.', importance: 'high', group: 'Storage', validate: range(1) },
  'rotate.interval.ms': {
    type: 'long',
    default: -1,
    doc: 'Record-time rotation: an object is closed when a record\'s timestamp (per timestamp.extractor) is this far past the first record of the object. Deterministic with a record or record-field timestamp. -1 disables.',
    importance: 'medium',
    group: 'Storage',
    validate: custom<number>((v) => (v === -1 || v > 0 ? undefined : 'Use -1 (off) or a positive number of milliseconds.')),
  },
  'rotate.schedule.interval.ms': {
    type: 'long',
    default: -1,
    doc: 'Wall-clock rotation: open objects are uploaded at every multiple of this interval (in `timezone`), even when no record arrives. -1 disables.',
    importance: 'medium',
    group: 'Storage',
    validate: custom<number>((v) => (v === -1 || v > 0 ? undefined : 'Use -1 (off) or a positive number of milliseconds.')),
  },
  's3.part.size': { type: 'int', default: 25 * 1024 * 1024, doc: 'Part size of multipart uploads, in bytes; objects larger than this are uploaded in parts (5 MiB at least, as S3 requires).', importance: 'medium', group: 'S3', validate: range(5 * 1024 * 1024, 2_000_000_000) },
  's3.buffer.max.bytes': { type: 'long', default: 256 * 1024 * 1024, doc: 'The most bytes of records one task holds in memory: open objects plus rotated ones still uploading. Past it, put waits for uploads to end, and when the open objects alone hold more, the largest is uploaded early (before flush.size; its records are still written exactly once, but object boundaries then depend on memory, as with rotate.schedule.interval.ms).', importance: 'medium', group: 'S3', validate: range(1024 * 1024) },
  'format.bytearray.extension': { type: 'string', default: '.bin', doc: 'Bytes format: the object name extension (`.json` for JSON values passed through as they are, with value.converter=ByteArrayConverter).', importance: 'low', group: 'Storage' },
  'format.bytearray.separator': { type: 'string', default: '\\n', doc: 'Bytes format: what follows each value (a newline by default; may be empty). Escapes \\n, \\r and \\t are understood.', importance: 'low', group: 'Storage' },
  's3.compression.type': { type: 'string', default: 'none', doc: 'Compression of JSON and bytes objects: `none` or `gzip` (adds `.gz` to the name).', importance: 'medium', group: 'S3', validate: oneOf(['none', 'gzip']) },
  's3.compression.level': { type: 'int', default: -1, doc: 'gzip level, -1 for the default (6).', importance: 'low', group: 'S3', validate: range(-1, 9) },
  'parquet.codec': { type: 'string', default: 'snappy', doc: 'Parquet page compression: `snappy` or `none` (names end `.snappy.parquet` or `.parquet`).', importance: 'low', group: 'Storage', validate: oneOf(['snappy', 'none', 'uncompressed']) },
  'parquet.row.group.size': { type: 'int', default: 100_000, doc: 'Rows per Parquet row group (readers skip and parallelise by row group).', importance: 'low', group: 'Storage', validate: range(1) },
  'partitioner.class': {
    type: 'string',
    default: 'default',
    doc: 'How records are grouped into folders: `default` (`partition=<p>`), `field` (`<field>=<value>` of partition.field.name), `time` (path.format over the record time), `hourly`, `daily`; or the Confluent class name.',
    importance: 'high',
    group: 'Partitioner',
    validate: known(PARTITIONERS, 'partitioner'),
  },
  'partition.field.name': { type: 'list', default: [], doc: 'Field partitioner: the value fields (dotted paths for nested fields) whose values name the folders.', importance: 'medium', group: 'Partitioner' },
  'path.format': { type: 'string', default: '', doc: 'Time partitioner: a Joda-style pattern for the folders, e.g. `\'year\'=YYYY/\'month\'=MM/\'day\'=dd/\'hour\'=HH`.', importance: 'medium', group: 'Partitioner' },
  'partition.duration.ms': { type: 'long', default: -1, doc: 'Time partitioner: the width of a time folder in milliseconds (3600000 for hourly).', importance: 'medium', group: 'Partitioner' },
  locale: { type: 'string', default: 'en', doc: 'Accepted for compatibility; folder names use ASCII digits.', importance: 'low', group: 'Partitioner' },
  timezone: { type: 'string', default: 'UTC', doc: 'Time partitioner and schedule rotation: the IANA time zone of folder names and schedule boundaries.', importance: 'medium', group: 'Partitioner', validate: validTimezone },
  'timestamp.extractor': {
    type: 'string',
    default: 'Wallclock',
    doc: 'Where a record\'s time comes from: `Wallclock` (now; not deterministic), `Record` (the Kafka timestamp) or `RecordField` (timestamp.field of the value).',
    importance: 'medium',
    group: 'Partitioner',
    validate: known(EXTRACTORS, 'timestamp extractor'),
  },
  'timestamp.field': { type: 'string', default: 'timestamp', doc: 'RecordField extractor: the value field (dotted path) holding the time: epoch milliseconds, a Date or an ISO-8601 string.', importance: 'medium', group: 'Partitioner' },
  'behavior.on.null.values': { type: 'string', default: 'ignore', doc: 'Tombstones (null values): `ignore` them or `fail` the task.', importance: 'low', group: 'Storage', validate: oneOf(['ignore', 'fail']) },
});

export type S3SinkConfig = ReturnType<typeof s3SinkConfig.parse>;

export const s3SourceConfig = defineConfig({
  ...storeKeys,
  topic: { type: 'string', doc: 'The topic the records go to.', importance: 'high', validate: nonEmpty() },
  prefix: { type: 'string', default: '', doc: 'Read only keys under this prefix (e.g. `topics/orders/`).', importance: 'high' },
  'key.pattern': { type: 'string', default: '', doc: 'A regular expression the key must match to be read (after the prefix); empty reads every key.', importance: 'medium', validate: custom<string>((v) => {
    try {
      new RegExp(v);
      return undefined;
    } catch (e) {
      return `Not a valid regular expression: ${(e as Error).message}`;
    }
  }) },
  'format.class': { type: 'string', default: 'json', doc: '`json` (one JSON value per line), `text` (one string per line) or `bytes` (each object as one record).', importance: 'high', validate: oneOf(['json', 'text', 'bytes']) },
  'batch.size': { type: 'int', default: 2000, doc: 'The most records one poll returns.', importance: 'low', validate: range(1, 1_000_000) },
  'poll.interval.ms': { type: 'long', default: 5000, doc: 'How often the prefix is listed again for new objects once every known object was read.', importance: 'medium', validate: range(10) },
});

export type S3SourceConfig = ReturnType<typeof s3SourceConfig.parse>;
