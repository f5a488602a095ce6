/**
 * Assembles a distributed worker: the stores over Kafka's internal topics, the Kafka data plane,
 * the Worker, the DistributedHerder (group membership) and the REST API. `tributary start --mode
 * distributed` calls this; so do tests.
 *
 * Start order: stores read to their end, then REST listens (the URL is what the worker reports to
 * the group, so it must be known first), then the worker joins the group. Stop order: tasks stop
 * and commit, the worker leaves the group (the others take its work at once), REST closes, then
 * the clients.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { WorkerConfig } from '../../config/worker-config.ts';
import { builtinConverterRegistry } from '../converters/index.ts';
import { KafkaBus } from '../engine/kafka-bus.ts';
import { getLogger } from '../engine/logging.ts';
import { WorkerMetrics } from '../engine/metrics.ts';
import { Worker } from '../engine/worker.ts';
import { buildApp, listen } from '../rest/index.ts';
import { builtinTransformRegistry } from '../transforms/index.ts';
import { DistributedHerder, openKafkaStores, type KafkaStores } from './distributed-herder.ts';
import { VERSION, loadConnectorRegistry, type StartedWorker } from './standalone-worker.ts';

export interface RunningDistributedWorker extends StartedWorker {
  herder: DistributedHerder;
  stores: KafkaStores;
  app: FastifyInstance;
}

export async function startDistributedWorker(config: WorkerConfig): Promise<RunningDistributedWorker> {
  const logger = getLogger('tributary.worker');
  const registry = await loadConnectorRegistry(config, logger);
  const clientId = `tributary-${config.groupId}`;
  const stores = await openKafkaStores({
    bootstrapBrokers: config.bootstrapServers,
    topics: { configs: config.storage.configs.topic, offsets: config.storage.offsets.topic, status: config.storage.status.topic },
    // One factor for the three topics would be simpler; Connect has one per topic, so do we.
    replicationFactor: config.storage.configs.replicationFactor,
    partitions: { offsets: config.storage.offsets.partitions, status: config.storage.status.partitions },
    clientId,
    logger,
  });
  const bus = new KafkaBus({ bootstrapServers: config.bootstrapServers, clientId: `${clientId}-data`, logger });
  let app: FastifyInstance | undefined;
  try {
    await bus.start();
    const metrics = new WorkerMetrics();
    const late: { herder?: DistributedHerder } = {};
    const worker = new Worker({
      workerId: config.workerId,
      registry,
      transforms: builtinTransformRegistry(),
      converters: builtinConverterRegistry(),
      bus, metrics, logger,
      offsets: stores.offsets,
      status: stores.status,
      stateDir: config.stateDir,
      offsetFlushIntervalMs: config.offsetFlushIntervalMs,
      taskShutdownGracefulTimeoutMs: config.taskShutdownGracefulTimeoutMs,
      sinkFlushMaxRecords: Math.max(1, Math.floor(config.memoryTopicCapacity / 2)),
      defaultKeyConverter: config.keyConverter,
      defaultValueConverter: config.valueConverter,
      onTaskReconfiguration: (name) => late.herder?.requestTaskReconfiguration(name),
      safeStatusWrites: true,
      exactlyOnceSource: config.exactlyOnceSource
        ? {
            transactionalIdPrefix: config.groupId,
            offsetRecords: (connector, entries) => stores.offsetRecords(connector, entries),
          }
        : undefined,
    });
    const herder = new DistributedHerder({
      worker, registry, bus, logger,
      transforms: builtinTransformRegistry(),
      converters: builtinConverterRegistry(),
      configs: stores.configs,
      offsets: stores.offsets,
      status: stores.status,
      version: VERSION,
      commit: process.env.TRIBUTARY_COMMIT ?? 'unknown',
      kafkaClusterId: await bus.clusterId(),
      configOffset: () => stores.configOffset(),
      readConfigToEnd: () => stores.readConfigToEnd(),
      membership: {
        bootstrapBrokers: config.bootstrapServers,
        groupId: config.groupId,
        sessionTimeoutMs: config.sessionTimeoutMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        rebalanceTimeoutMs: config.rebalanceTimeoutMs,
        lostWorkDelayMs: config.lostWorkDelayMs,
      },
    });
    late.herder = herder;
    app = buildApp({ herder, workerId: config.workerId, metrics, auth: config.rest.auth });
    const url = await listen(app, { host: config.rest.host, port: config.rest.port, auth: config.rest.auth });
    if (config.workerId.endsWith(':0')) worker.setWorkerId(`${hostname()}:${new URL(url).port}`);
    // The REST URL goes into the group metadata, so the worker joins once it listens.
    const restUrl = config.rest.advertisedUrl || url;
    herder.start(restUrl);
    const started = app;
    const closeClients = async (): Promise<void> => {
      await started.close().catch(() => {});
      await bus.close().catch(() => {});
      await stores.close();
    };
    let stopping: Promise<void> | undefined;
    return {
      url, herder, metrics, bus, stores, app: started,
      get workerId() {
        return worker.workerId;
      },
      describe: () => ({ mode: 'distributed', groupId: config.groupId, restUrl, topics: config.storage }),
      stop() {
        stopping ??= (async () => {
          await herder.stop();
          await closeClients();
        })();
        return stopping;
      },
    };
  } catch (e) {
    await app?.close().catch(() => {});
    await bus.close().catch(() => {});
    await stores.close().catch(() => {});
    throw e;
  }
}
