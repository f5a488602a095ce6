/**
 * Distributed mode's foundations (issue 4), not yet wired into `tributary start`: the state
 * stores over Kafka's internal topics, the config log's offset (what a worker reports in
 * JoinGroup), and the work the group leader assigns, read from the config store.
 *
 * The DistributedHerder built on this will: open the stores (`openKafkaStores`), join the group
 * (membership/) with `configOffset()` and a `leaderState()` that reads the config log to its end
 * and returns `workFromConfig(configs.snapshot())`, and in `onRevoked`/`onAssigned` stop and start
 * connectors and tasks on the Worker (catching up to the assignment's config offset first).
 */
import type { Logger } from '../api/index.ts';
import type { KafkaConnectionOptions } from '../engine/kafka-bus.ts';
import { ConfigStore } from '../store/config-store.ts';
import type { ConfigSnapshot } from '../store/config-store.ts';
import { KafkaCompactedLog } from '../store/kafka-compacted-log.ts';
import { defaultLogger } from '../store/logging.ts';
import { OffsetStore } from '../store/offset-store.ts';
import { StatusStore } from '../store/status-store.ts';
import type { ConnectorWork } from './assignor.ts';

/** Kafka Connect's partition counts of its internal topics; the config topic must keep one order. */
export const INTERNAL_TOPIC_PARTITIONS = { configs: 1, offsets: 25, status: 5 } as const;

export interface KafkaStoresOptions {
  bootstrapBrokers: string[];
  /** Topic names (Connect's `config.storage.topic`, `offset.storage.topic`, `status.storage.topic`). */
  topics: { configs: string; offsets: string; status: string };
  /** Replication factor of the topics this worker creates; -1 = the broker's default. */
  replicationFactor: number;
  /** Partitions of the offsets and status topics when created (the config topic always has 1). */
  partitions?: { offsets?: number; status?: number };
  clientId?: string;
  connection?: KafkaConnectionOptions;
  logger?: Logger;
}

export interface KafkaStores {
  readonly configs: ConfigStore;
  readonly offsets: OffsetStore;
  readonly status: StatusStore;
  /** Offset of the last config record this worker has read (-1: none): what it reports in JoinGroup. */
  configOffset(): number;
  /** Read the config log to its end; resolves with the offset reached. */
  readConfigToEnd(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Open the config, offset and status stores over Kafka (creating the internal topics when
 * missing, refusing ones that are not compacted) and read each to its end.
 */
export async function openKafkaStores(options: KafkaStoresOptions): Promise<KafkaStores> {
  const logger = options.logger ?? defaultLogger;
  const base = {
    bootstrapBrokers: options.bootstrapBrokers,
    replicationFactor: options.replicationFactor,
    connection: options.connection,
    logger,
  };
  const prefix = options.clientId ?? 'tributary';
  const configLog = new KafkaCompactedLog({ ...base, topic: options.topics.configs, partitions: INTERNAL_TOPIC_PARTITIONS.configs, clientId: `${prefix}-configs` });
  const offsetLog = new KafkaCompactedLog({
    ...base,
    topic: options.topics.offsets,
    partitions: options.partitions?.offsets ?? INTERNAL_TOPIC_PARTITIONS.offsets,
    clientId: `${prefix}-offsets`,
  });
  const statusLog = new KafkaCompactedLog({
    ...base,
    topic: options.topics.status,
    partitions: options.partitions?.status ?? INTERNAL_TOPIC_PARTITIONS.status,
    clientId: `${prefix}-status`,
  });
  let configOffset = -1;
  // Subscribed before the store, so the offset is current when the store hears of a record.
  configLog.subscribe((_key, _value, meta) => {
    configOffset = meta.offset;
  });
  const configs = new ConfigStore(configLog, { logger });
  const offsets = new OffsetStore(offsetLog, { logger });
  const status = new StatusStore(statusLog, { logger });
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([configs.close(), offsets.close(), status.close()]);
  };
  const started = await Promise.allSettled([configs.start(), offsets.start(), status.start()]);
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await closeAll();
    throw failed.reason;
  }
  let closing: Promise<void> | undefined;
  return {
    configs,
    offsets,
    status,
    configOffset: () => configOffset,
    async readConfigToEnd() {
      await configLog.readToEnd();
      return configOffset;
    },
    close() {
      closing ??= closeAll();
      return closing;
    },
  };
}

/**
 * The work the leader assigns: every connector, with its committed task count (0 for a stopped
 * connector, or one whose task configs are not committed yet or are inconsistent). Paused
 * connectors keep their tasks assigned (paused on their workers), as in Kafka Connect.
 */
export function workFromConfig(snapshot: ConfigSnapshot): ConnectorWork[] {
  return [...snapshot.connectors.keys()].sort().map((connector) => ({
    connector,
    tasks: snapshot.targetStates.get(connector) === 'STOPPED' ? 0 : (snapshot.taskConfigs.get(connector)?.length ?? 0),
  }));
}
