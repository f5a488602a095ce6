/**
 * Assembles a standalone worker: registry, stores in the state dir, the data plane (in-process
 * topics, or Kafka when bootstrap servers are set), the Worker, the StandaloneHerder, the REST API
 * and the connectors-dir watcher. `tributary start` calls this; so do tests that want a worker in
 * process.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { JsonObject, SinkOffsets } from '../api/index.ts';
import { topicPartitionKey } from '../api/index.ts';
import type { WorkerConfig } from '../../config/worker-config.ts';
import { builtinConverterRegistry } from '../converters/index.ts';
import { getLogger, type Logger } from '../engine/logging.ts';
import { PACKAGE } from '../engine/package-info.ts';
import { MemoryBus, type GroupOffsetPersistence } from '../engine/memory-bus.ts';
import { WorkerMetrics } from '../engine/metrics.ts';
import { ConnectorRegistry } from '../engine/registry.ts';
import type { TopicBus } from '../engine/topic-bus.ts';
import { Worker } from '../engine/worker.ts';
import { buildApp, listen } from '../rest/index.ts';
import { openFileStores, type FileStores, type OffsetStore } from '../store/index.ts';
import { builtinTransformRegistry } from '../transforms/index.ts';
import { ConnectorFilesWatcher } from './connector-files.ts';
import { StandaloneHerder } from './standalone-herder.ts';

export const VERSION: string = PACKAGE.version;

/** What `tributary start` needs of a running worker, in either mode. */
export interface StartedWorker {
  url: string;
  workerId: string;
  metrics: WorkerMetrics;
  bus: TopicBus;
  /** For the start line: where state lives. */
  describe(): Record<string, unknown>;
  stop(): Promise<void>;
}

export interface RunningWorker extends StartedWorker {
  herder: StandaloneHerder;
  stores: FileStores;
  app: FastifyInstance;
}

/** Sink positions on in-process topics live in the offset store under this prefix plus the group id. */
const GROUP_PREFIX = '__group:';

function groupPersistence(offsets: OffsetStore): GroupOffsetPersistence {
  return {
    async load() {
      const out = new Map<string, SinkOffsets>();
      for (const key of await offsets.connectors()) {
        if (!key.startsWith(GROUP_PREFIX)) continue;
        const group: SinkOffsets = new Map();
        for (const { partition, offset } of await offsets.getAll(key)) {
          const tp = { topic: String(partition.kafka_topic), partition: Number(partition.kafka_partition) };
          group.set(topicPartitionKey(tp), { ...tp, offset: Number(offset.kafka_offset) });
        }
        out.set(key.slice(GROUP_PREFIX.length), group);
      }
      return out;
    },
    async save(groupId, group) {
      await offsets.set(GROUP_PREFIX + groupId, [...group.values()].map((o) => ({
        partition: { kafka_topic: o.topic, kafka_partition: o.partition } as JsonObject,
        offset: { kafka_offset: o.offset } as JsonObject,
      })));
    },
    async remove(groupId) {
      await offsets.resetConnector(GROUP_PREFIX + groupId);
    },
  };
}

async function createBus(config: WorkerConfig, stores: FileStores, logger: Logger): Promise<{ bus: TopicBus; clusterId: string | null }> {
  if (config.bootstrapServers.length === 0) {
    const bus = new MemoryBus({ partitionsPerTopic: config.memoryTopicPartitions, capacity: config.memoryTopicCapacity, persistence: groupPersistence(stores.offsets) });
    await bus.start();
    return { bus, clusterId: null };
  }
  // Loaded only when Kafka is configured: the embedded default never pays for the Kafka client.
  const { KafkaBus } = await import('../engine/kafka-bus.ts');
  const bus = new KafkaBus({ bootstrapServers: config.bootstrapServers, clientId: `tributary-${config.workerId}`, logger });
  await bus.start();
  return { bus, clusterId: await bus.clusterId() };
}

/** Built-in connectors plus the configured plugin folders and packages. */
export async function loadConnectorRegistry(config: WorkerConfig, logger: Logger): Promise<ConnectorRegistry> {
  const registry = new ConnectorRegistry();
  await registry.loadBuiltins();
  if (config.pluginPath.length) await registry.loadPluginPath(config.pluginPath);
  if (config.plugins.length) await registry.loadPackages(config.plugins);
  for (const w of registry.warnings) logger.warn(w);
  return registry;
}

export async function startStandaloneWorker(config: WorkerConfig): Promise<RunningWorker> {
  const logger = getLogger('tributary.worker');
  const registry = await loadConnectorRegistry(config, logger);

  const stores = await openFileStores(config.stateDir, logger);
  let bus: TopicBus | undefined;
  try {
    const created = await createBus(config, stores, logger);
    bus = created.bus;
    const metrics = new WorkerMetrics();
    const transforms = builtinTransformRegistry();
    const converters = builtinConverterRegistry();
    // The worker needs the herder for reconfiguration requests, and the herder needs the worker.
    const late: { herder?: StandaloneHerder } = {};
    const worker = new Worker({
      workerId: config.workerId,
      registry, transforms, converters, bus, metrics, logger,
      offsets: stores.offsets,
      status: stores.status,
      stateDir: stores.stateDir,
      offsetFlushIntervalMs: config.offsetFlushIntervalMs,
      taskShutdownGracefulTimeoutMs: config.taskShutdownGracefulTimeoutMs,
      sinkFlushMaxRecords: Math.max(1, Math.floor(config.memoryTopicCapacity / 2)),
      defaultKeyConverter: config.keyConverter,
      defaultValueConverter: config.valueConverter,
      onTaskReconfiguration: (name) => late.herder?.requestTaskReconfiguration(name),
    });
    const herder = new StandaloneHerder({
      worker, registry, transforms, converters, bus, logger,
      configs: stores.configs, offsets: stores.offsets, status: stores.status,
      version: VERSION, commit: process.env.TRIBUTARY_COMMIT ?? 'unknown', kafkaClusterId: created.clusterId,
    });
    late.herder = herder;
    const auth = config.rest.auth;
    const app = buildApp({ herder, workerId: config.workerId, metrics, auth });
    const url = await listen(app, { host: config.rest.host, port: config.rest.port, auth });
    if (config.workerId.endsWith(':0')) worker.setWorkerId(`${hostname()}:${new URL(url).port}`);
    await herder.start();
    let files: ConnectorFilesWatcher | undefined;
    if (config.connectorsDir) {
      files = new ConnectorFilesWatcher({ dir: config.connectorsDir, herder, logger, stateDir: stores.stateDir });
      await files.start();
    }
    const busRef = bus;
    let stopping: Promise<void> | undefined;
    return {
      url, herder, metrics, bus, stores, app,
      describe: () => ({ mode: 'standalone', stateDir: stores.stateDir, bus: busRef.kind }),
      get workerId() {
        return worker.workerId;
      },
      stop() {
        stopping ??= (async () => {
          await files?.stop();
          await app.close();
          await herder.stop();
          await busRef.close();
          await stores.close();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await bus?.close().catch(() => {});
    await stores.close().catch(() => {});
    throw e;
  }
}
