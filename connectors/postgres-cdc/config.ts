import { defineConfig, listOf, nonEmpty, oneOf, range, regex, url } from '../../runtime/api/index.ts';
import type { TaskConfig } from '../../runtime/api/index.ts';

export const SNAPSHOT_MODES = ['initial', 'never', 'no_data', 'initial_only', 'always', 'when_needed'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];
export const AUTOCREATE_MODES = ['all_tables', 'filtered', 'disabled'] as const;

/** Debezium's Postgres keys, with the same names and defaults where we support them. */
export const postgresCdcConfig = defineConfig({
  'database.hostname': { type: 'string', doc: 'Host name or address of the Postgres server.', importance: 'high', group: 'Connection', validate: nonEmpty() },
  'database.port': { type: 'int', default: 5432, doc: 'Port of the Postgres server.', importance: 'high', group: 'Connection', validate: range(1, 65535) },
  'database.user': { type: 'string', doc: 'User to connect as. It needs the REPLICATION attribute (or superuser), SELECT on the captured tables, and CREATE on the database when the connector creates the publication.', importance: 'high', group: 'Connection', validate: nonEmpty() },
  'database.password': { type: 'password', default: null, doc: 'Password of database.user.', importance: 'high', group: 'Connection' },
  'database.dbname': { type: 'string', doc: 'The database to capture.', importance: 'high', group: 'Connection', validate: nonEmpty() },
  'database.sslmode': { type: 'string', default: 'disable', doc: 'disable: plain TCP; require: TLS without certificate verification; verify-full: TLS verifying the server certificate and host name. (prefer is taken as disable.)', importance: 'medium', group: 'Connection', validate: oneOf(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']) },
  'database.connect.timeout.ms': { type: 'int', default: 30000, doc: 'How long to wait for a connection before giving up (a retriable error).', importance: 'low', group: 'Connection', validate: range(100) },
  'topic.prefix': { type: 'string', doc: 'Prefix of every topic name (`<topic.prefix>.<schema>.<table>`) and the source partition `{server: <topic.prefix>}`; the `name` in each event\'s source block.', importance: 'high', validate: nonEmpty() },
  'plugin.name': { type: 'string', default: 'pgoutput', doc: 'The logical decoding plugin. Only pgoutput (built into Postgres 10+) is supported.', importance: 'medium', group: 'Replication', validate: oneOf(['pgoutput']) },
  'slot.name': { type: 'string', default: 'debezium', doc: 'The logical replication slot to stream from; created when missing.', importance: 'high', group: 'Replication', validate: regex() },
  'slot.drop.on.stop': { type: 'boolean', default: false, doc: 'Drop the slot when the task stops gracefully (tests and throwaway setups; the slot\'s position is lost).', importance: 'low', group: 'Replication' },
  'slot.drop.on.delete': { type: 'boolean', default: false, doc: 'Drop the slot when the connector is deleted (DELETE /connectors/<name>), so it stops holding WAL back. Off by default: a slot kept can be reused by a new connector with the same slot.name.', importance: 'medium', group: 'Replication' },
  'publication.name': { type: 'string', default: 'dbz_publication', doc: 'The publication the slot streams.', importance: 'high', group: 'Replication', validate: nonEmpty() },
  'publication.autocreate.mode': { type: 'string', default: 'all_tables', doc: 'all_tables: create the publication FOR ALL TABLES when missing; filtered: create it (or reset its table list at start) for the tables the include/exclude lists select; disabled: the publication must exist.', importance: 'medium', group: 'Replication', validate: oneOf(AUTOCREATE_MODES) },
  'schema.include.list': { type: 'list', default: null, doc: 'Regular expressions matching the schemas to capture (whole names). Empty: every schema but the system ones.', importance: 'medium', group: 'Filters', validate: listOf(regex()) },
  'schema.exclude.list': { type: 'list', default: null, doc: 'Regular expressions matching schemas not to capture.', importance: 'medium', group: 'Filters', validate: listOf(regex()) },
  'table.include.list': { type: 'list', default: null, doc: 'Regular expressions matching `schema.table` of the tables to capture (whole names). Empty: every table. A plain name that matches no table is an error in the task status.', importance: 'high', group: 'Filters', validate: listOf(regex()) },
  'table.exclude.list': { type: 'list', default: null, doc: 'Regular expressions matching `schema.table` of tables not to capture.', importance: 'medium', group: 'Filters', validate: listOf(regex()) },
  'snapshot.mode': { type: 'string', default: 'initial', doc: 'initial: snapshot the tables when there is no stored offset, then stream; never/no_data: only stream; initial_only: snapshot, then stop; always: snapshot at every start; when_needed: snapshot when there is no offset or the slot no longer has the stored position.', importance: 'high', group: 'Snapshot', validate: oneOf(SNAPSHOT_MODES) },
  'snapshot.fetch.size': { type: 'int', default: 10240, doc: 'Rows per snapshot chunk: tables are cut into primary-key ranges (or heap page ranges without a key) of about this many rows, the unit of parallel reading and of resuming after a crash; SELECT reads also fetch this many rows per round trip.', importance: 'medium', group: 'Snapshot', validate: range(1) },
  'snapshot.max.threads': { type: 'int', default: 1, doc: 'Connections that read snapshot chunks in parallel, all in the same exported snapshot.', importance: 'medium', group: 'Snapshot', validate: range(1, 64) },
  'snapshot.read.method': { type: 'string', default: 'copy', doc: 'copy: read each chunk with COPY (SELECT ...) TO STDOUT (text format); select: with keyset-paginated SELECTs. Both give identical events.', importance: 'low', group: 'Snapshot', validate: oneOf(['copy', 'select']) },
  'redis.url': {
    type: 'password',
    default: null,
    doc: 'When set (e.g. `${env:TRIBUTARY_REDIS_URL}`) and tasks.max > 1, the initial snapshot\'s chunks become BullMQ jobs in Redis: task 0 keeps the slot, plans the chunks and streams afterwards, and tasks 1..tasks.max-1 (spread over the cluster\'s workers) read the chunks in task 0\'s exported snapshot. op r events of different chunks then interleave across tasks, and a chunk whose task dies is read again by another (at least once). Unset: the snapshot runs inside the one task (snapshot.max.threads connections).',
    importance: 'medium',
    group: 'Snapshot',
    validate: url(['redis:', 'rediss:']),
  },
  'incremental.snapshot.chunk.size': { type: 'int', default: 1024, doc: 'Rows per chunk of an ad-hoc backfill (an execute-snapshot signal): each chunk is read in primary-key order between a low and a high watermark while streaming continues, and is the unit of resuming after a crash.', importance: 'medium', group: 'Snapshot', validate: range(1) },
  'heartbeat.interval.ms': { type: 'int', default: 0, doc: 'Emit a heartbeat record this often when idle so that the slot advances on quiet tables; 0 disables.', importance: 'medium', group: 'Heartbeat', validate: range(0) },
  'heartbeat.action.query': { type: 'string', default: null, doc: 'A statement to run on each heartbeat (e.g. an upsert into a heartbeat table), so that WAL is generated in the captured database.', importance: 'low', group: 'Heartbeat' },
  'topic.heartbeat.prefix': { type: 'string', default: '__debezium-heartbeat', doc: 'Heartbeats go to `<topic.heartbeat.prefix>.<topic.prefix>`.', importance: 'low', group: 'Heartbeat' },
  'tombstones.on.delete': { type: 'boolean', default: true, doc: 'Follow each delete event with a tombstone (null value) for log compaction.', importance: 'medium', group: 'Events' },
  'skipped.operations': { type: 'list', default: ['t'], doc: 'Operations not to emit: c, u, d, t (truncate), or none.', importance: 'low', group: 'Events', validate: listOf(oneOf(['c', 'u', 'd', 't', 'none'])) },
  'provide.transaction.metadata': { type: 'boolean', default: false, doc: 'Emit BEGIN and END events (with event_count) to `<topic.prefix>.<topic.transaction>` and add a `transaction` block to each change event.', importance: 'low', group: 'Events' },
  'topic.transaction': { type: 'string', default: 'transaction', doc: 'Suffix of the transaction metadata topic.', importance: 'low', group: 'Events' },
  'message.prefix.include.list': { type: 'list', default: null, doc: 'Regular expressions matching the prefixes of logical decoding messages (pg_logical_emit_message) to emit as op m events to `<topic.prefix>.message`. Empty: every prefix.', importance: 'low', group: 'Events', validate: listOf(regex()) },
  'message.prefix.exclude.list': { type: 'list', default: null, doc: 'Regular expressions matching message prefixes not to emit.', importance: 'low', group: 'Events', validate: listOf(regex()) },
  'decimal.handling.mode': { type: 'string', default: 'precise', doc: 'precise: Decimal (VariableScaleDecimal when numeric has no scale); double: float64; string: the digits as text.', importance: 'medium', group: 'Types', validate: oneOf(['precise', 'double', 'string']) },
  'binary.handling.mode': { type: 'string', default: 'bytes', doc: 'bytes, base64 or hex: how bytea columns are represented.', importance: 'low', group: 'Types', validate: oneOf(['bytes', 'base64', 'hex']) },
  'unavailable.value.placeholder': { type: 'string', default: '__debezium_unavailable_value', doc: 'Stands for an unchanged TOASTed value the stream did not carry and whose old value is unknown (REPLICA IDENTITY other than FULL).', importance: 'low', group: 'Types' },
  'max.batch.size': { type: 'int', default: 2048, doc: 'The most records one poll returns.', importance: 'low', group: 'Performance', validate: range(1) },
  'poll.interval.ms': { type: 'int', default: 500, doc: 'How long a poll waits for changes before returning nothing.', importance: 'low', group: 'Performance', validate: range(1) },
  'status.update.interval.ms': { type: 'int', default: 10000, doc: 'How often the confirmed position is sent to the server even when unchanged (keeps the connection alive).', importance: 'low', group: 'Replication', validate: range(100) },
});

export type PostgresCdcConfig = ReturnType<typeof postgresCdcConfig.parse>;

/** Debezium keys (and key prefixes) we do not implement: named in validate(), never silently ignored. */
const UNSUPPORTED: Array<[string, string]> = [
  ['database.server.name', 'Removed in Debezium 2; use topic.prefix.'],
  ['database.initial.statements', 'Not supported.'],
  ['database.tcpKeepAlive', 'Not supported (TCP keepalive is always on).'],
  ['column.include.list', 'Column filters are not supported; use the ReplaceField transform.'],
  ['column.exclude.list', 'Column filters are not supported; use the ReplaceField transform.'],
  ['column.mask.', 'Column masking is not supported; use the MaskField transform.'],
  ['column.truncate.', 'Not supported.'],
  ['column.propagate.source.type', 'Not supported.'],
  ['datatype.propagate.source.type', 'Not supported.'],
  ['message.key.columns', 'Not supported: keys come from the primary key (or replica identity index).'],
  ['snapshot.select.statement.overrides', 'Not supported.'],
  ['snapshot.include.collection.list', 'Not supported; use table.include.list.'],
  ['snapshot.custom.class', 'Not supported.'],
  ['snapshot.locking.mode', 'Not supported (the snapshot uses the slot\'s exported snapshot and takes no locks).'],
  ['snapshot.isolation.mode', 'Not supported.'],
  ['snapshot.delay.ms', 'Not supported.'],
  ['incremental.snapshot.', 'Only incremental.snapshot.chunk.size is supported (backfills always use watermark messages, no signalling table).'],
  ['signal.', 'Signals arrive through the REST API (POST /connectors/<name>/signals); signalling tables, Kafka signal topics and their signal.* keys are not supported.'],
  ['notification.', 'Notifications are not supported.'],
  ['converters', 'Custom converters are not supported.'],
  ['slot.stream.params', 'Not supported.'],
  ['time.precision.mode', 'Only the default (adaptive) is supported.'],
  ['interval.handling.mode', 'Only the default (numeric) is supported.'],
  ['hstore.handling.mode', 'Only the default (json) is supported.'],
  ['include.unknown.datatypes', 'Not supported: unknown types are emitted as their text.'],
  ['truncate.handling.mode', 'Removed in Debezium 2; use skipped.operations.'],
  ['xmin.fetch.interval.ms', 'Not supported.'],
  ['schema.refresh.mode', 'Not supported: schemas follow the stream\'s Relation messages.'],
  ['publish.via.partition.root', 'Not supported.'],
  ['replica.identity.autoset.values', 'Not supported.'],
  ['lsn.flush.mode', 'Not supported: the LSN is always confirmed once delivered.'],
  ['flush.lsn.source', 'Not supported: the LSN is always confirmed once delivered.'],
  ['field.name.adjustment.mode', 'Not supported.'],
  ['schema.name.adjustment.mode', 'Not supported.'],
  ['event.processing.failure.handling.mode', 'Not supported; use errors.tolerance.'],
  ['custom.metric.tags', 'Not supported.'],
  ['read.only', 'Not supported.'],
];

/** The keys that are allowed without effect (sizes of Debezium's internal queue, which we do not have). */
const ACCEPTED_WITHOUT_EFFECT = new Set(['max.queue.size', 'max.queue.size.in.bytes', 'slot.max.retries', 'slot.retry.delay.ms', 'retriable.restart.connector.wait.ms']);

export function unsupportedKeys(config: TaskConfig): Array<{ name: string; message: string }> {
  const out: Array<{ name: string; message: string }> = [];
  for (const key of Object.keys(config)) {
    if (ACCEPTED_WITHOUT_EFFECT.has(key) || Object.hasOwn(postgresCdcConfig.definition, key)) continue;
    for (const [pattern, message] of UNSUPPORTED) {
      if (pattern.endsWith('.') ? key.startsWith(pattern) : key === pattern) {
        out.push({ name: key, message: `Debezium key ${key} is not supported by this connector. ${message}` });
        break;
      }
    }
  }
  if (config['plugin.name'] && config['plugin.name'] !== 'pgoutput') {
    out.push({ name: 'plugin.name', message: `Only pgoutput is supported (got ${config['plugin.name']}); it is built into Postgres 10 and later.` });
  }
  return out;
}
