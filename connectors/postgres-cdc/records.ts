/** Schemas and builders of the records that are not row changes: heartbeats, transaction metadata, logical messages. */
import type { Schema } from '../../runtime/api/index.ts';
import { SOURCE_SCHEMA } from './events.ts';

export const HEARTBEAT_KEY_SCHEMA: Schema = {
  type: 'struct', name: 'io.debezium.connector.common.ServerNameKey', optional: false,
  fields: [{ field: 'serverName', type: 'string', optional: false }],
};

export const HEARTBEAT_VALUE_SCHEMA: Schema = {
  type: 'struct', name: 'io.debezium.connector.common.Heartbeat', optional: false,
  fields: [{ field: 'ts_ms', type: 'int64', optional: false }],
};

export const TX_KEY_SCHEMA: Schema = {
  type: 'struct', name: 'io.debezium.connector.common.TransactionMetadataKey', optional: false,
  fields: [{ field: 'id', type: 'string', optional: false }],
};

export const TX_VALUE_SCHEMA: Schema = {
  type: 'struct', name: 'io.debezium.connector.common.TransactionMetadataValue', optional: false,
  fields: [
    { field: 'status', type: 'string', optional: false },
    { field: 'id', type: 'string', optional: false },
    { field: 'event_count', type: 'int64', optional: true },
    {
      field: 'data_collections', type: 'array', optional: true,
      items: {
        type: 'struct', name: 'event.collection', optional: false,
        fields: [{ field: 'data_collection', type: 'string', optional: false }, { field: 'event_count', type: 'int64', optional: false }],
      },
    },
    { field: 'ts_ms', type: 'int64', optional: false },
  ],
};

export const MESSAGE_KEY_SCHEMA: Schema = {
  type: 'struct', name: 'io.debezium.connector.postgresql.MessageKey', optional: false,
  fields: [{ field: 'prefix', type: 'string', optional: true }],
};

export const MESSAGE_VALUE_SCHEMA: Schema = {
  type: 'struct', name: 'io.debezium.connector.postgresql.MessageValue', optional: false,
  fields: [
    { field: 'op', type: 'string', optional: false },
    { field: 'ts_ms', type: 'int64', optional: true },
    { field: 'source', ...SOURCE_SCHEMA },
    {
      field: 'message', type: 'struct', name: 'io.debezium.connector.postgresql.Message', optional: false,
      fields: [{ field: 'prefix', type: 'string', optional: true }, { field: 'content', type: 'bytes', optional: true }],
    },
  ],
};
