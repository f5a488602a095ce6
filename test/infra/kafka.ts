// A single-node Kafka 4.1 broker (KRaft, combined broker+controller) from Maven Central jars, for
// integration tests: `node test/infra/kafka.ts up|down|status`.
import { Admin } from '@platformatic/kafka';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  INFRA_DIR, ServiceError, cacheDir, isMain, isPortOpen, livePid, logHint, recordedPort, removeFile,
  requireJava, resolveWithMaven, run, runCli, seconds, shown, spawnDetached, terminate, waitFor, withLock, withTimeout,
} from './common.ts';
import type { EnsureOptions, Log } from './common.ts';
import { HOST, kafkaInfo, kafkaPorts } from './endpoints.ts';
import type { KafkaInfo } from './endpoints.ts';

export { kafkaInfo };
export type { KafkaInfo };

export const KAFKA_VERSION = '4.1.1';
const SERVICE = 'kafka';
const START_TIMEOUT_MS = 120_000;

export interface KafkaStatus extends KafkaInfo {
  running: boolean;
  startedByUs: boolean;
  pid?: number;
}

function paths() {
  const dir = cacheDir('kafka');
  return {
    dir,
    libs: join(dir, 'libs'),
    data: join(dir, 'data'),
    properties: join(dir, 'server.properties'),
    serverLog: join(dir, 'server.log'),
    stdout: join(dir, 'stdout.log'),
    pidFile: join(dir, 'kafka.pid'),
    pom: join(INFRA_DIR, 'kafka', 'pom.xml'),
    log4j: join(INFRA_DIR, 'kafka', 'log4j2.properties'),
  };
}

/** Whether a Kafka broker answers a metadata request on the port (and lists at least one broker). */
export async function kafkaAnswers(bootstrapServers = kafkaInfo().bootstrapServers, timeoutMs = 3000): Promise<boolean> {
  const admin = new Admin({ clientId: 'tributary-infra-probe', bootstrapBrokers: [bootstrapServers], retries: 0, timeout: timeoutMs });
  try {
    const metadata = await withTimeout('kafka metadata', timeoutMs, admin.metadata({ topics: [] }));
    return metadata.brokers.size > 0;
  } catch {
    return false;
  } finally {
    await withTimeout('kafka close', 1000, admin.close()).catch(() => undefined);
  }
}

function ourPid(): number | undefined {
  return livePid(paths().pidFile, 'kafka.Kafka');
}

export async function kafkaStatus(): Promise<KafkaStatus> {
  const pid = ourPid();
  const running = await kafkaAnswers();
  return { ...kafkaInfo(), running, startedByUs: pid !== undefined, ...(pid !== undefined ? { pid } : {}) };
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-' (as Uuid.randomUuid). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    '# Written by test/infra/kafka.ts on every start; edit that file, not this one.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${HOST}:${controllerPort}`,
    `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=10',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'delete.topic.enable=true',
    // Small segments and quick cleaning keep the disk small and let compaction tests finish.
    'log.segment.bytes=67108864',
    'log.cleaner.backoff.ms=1000',
    'log.retention.check.interval.ms=60000',
    'num.network.threads=2',
    'num.io.threads=4',
    'num.recovery.threads.per.data.dir=1',
    '',
  ].join('\n');
}

async function formatStorage(java: string, p: ReturnType<typeof paths>): Promise<void> {
  if (existsSync(join(p.data, 'meta.properties'))) return;
  const result = await run(java, ['-cp', `${p.libs}/*`, `-Dlog4j2.configurationFile=${p.log4j}`, `-Dkafka.logs.dir=${p.dir}`,
    'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', p.properties, '--ignore-formatted'], { timeoutMs: 120_000 });
  if (result.code !== 0) {
    const firstError = result.output.split('\n').find((l) => l.trim()) ?? `exit ${result.code}`;
    throw new ServiceError(SERVICE, `formatting storage in ${shown(p.data)} failed: ${firstError.trim()}`);
  }
}

/**
 * Starts the broker unless one already answers on the port, and resolves once it answers a
 * metadata request. Idempotent and safe to call from several processes at once.
 */
export async function ensureKafka(opts: EnsureOptions = {}): Promise<KafkaInfo> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const info = kafkaInfo();
  const { port, controllerPort } = kafkaPorts();
  const p = paths();
  const started = Date.now();

  if (await kafkaAnswers()) {
    log(`kafka: already running, listening on ${info.bootstrapServers} (bootstrap servers)`);
    return info;
  }

  return withLock(SERVICE, async () => {
    let pid = ourPid();
    const startedHere = pid === undefined;
    const pidPort = recordedPort(p.pidFile);
    if (pid !== undefined && pidPort !== undefined && pidPort !== port) {
      throw new ServiceError(SERVICE, `our broker (pid ${pid}) serves port ${pidPort}, but port ${port} is asked for (TRIBUTARY_TEST_KAFKA_PORT); stop it first: node test/infra/kafka.ts down`);
    }
    if (pid === undefined) {
      if (await kafkaAnswers()) {
        log(`kafka: already running, listening on ${info.bootstrapServers} (bootstrap servers)`);
        return info;
      }
      if (await isPortOpen(HOST, port)) {
        throw new ServiceError(SERVICE, `port ${port} on ${HOST} is taken by a program that does not answer as a Kafka broker; stop it or set TRIBUTARY_TEST_KAFKA_PORT`);
      }
      if (await isPortOpen(HOST, controllerPort)) {
        throw new ServiceError(SERVICE, `controller port ${controllerPort} on ${HOST} is taken by another program; stop it or set TRIBUTARY_TEST_KAFKA_CONTROLLER_PORT`);
      }
      const java = await requireJava(SERVICE);
      await resolveWithMaven(SERVICE, p.pom, p.libs, log);
      writeFileSync(p.properties, serverProperties(port, controllerPort, p.data));
      await formatStorage(java, p);
      removeFile(p.serverLog);
      pid = spawnDetached(java, [
        '-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${p.log4j}`, `-Dkafka.logs.dir=${p.dir}`,
        '-cp', `${p.libs}/*`, 'kafka.Kafka', p.properties,
      ], { outFile: p.stdout, pidFile: p.pidFile, port });
    }

    const ourProcess = pid;
    const outcome = await waitFor({
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 300,
      ready: () => kafkaAnswers(info.bootstrapServers, 2000),
      gone: () => (livePid(p.pidFile, 'kafka.Kafka') === ourProcess ? undefined : 'exited'),
    });
    if (outcome === 'exited') {
      removeFile(p.pidFile);
      const logFile = existsSync(p.serverLog) && readFileSync(p.serverLog, 'utf8').includes(' ERROR ') ? p.serverLog : p.stdout;
      throw new ServiceError(SERVICE, `the broker exited during startup${logHint(logFile)}`);
    }
    if (outcome === 'timeout') {
      throw new ServiceError(SERVICE, `startup timed out after ${START_TIMEOUT_MS / 1000}s (pid ${ourProcess} still running)${logHint(p.serverLog)}`);
    }
    const who = startedHere ? `started Kafka ${KAFKA_VERSION} (KRaft, pid ${ourProcess})` : `waited for the broker another process was starting (pid ${ourProcess})`;
    log(`kafka: ${who} in ${seconds(started)}, listening on ${info.bootstrapServers} (bootstrap servers); log ${shown(p.serverLog)}`);
    return info;
  });
}

/** Stops the broker if we started it (pid file); a broker we did not start is left alone. */
export async function stopKafka(opts: EnsureOptions = {}): Promise<void> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const p = paths();
  const pid = ourPid();
  if (pid === undefined) {
    removeFile(p.pidFile);
    const other = await kafkaAnswers();
    log(other ? `kafka: left running: the broker on ${kafkaInfo().bootstrapServers} was not started by us` : 'kafka: not running');
    return;
  }
  const how = await terminate(pid, 30_000);
  removeFile(p.pidFile);
  log(`kafka: stopped (pid ${pid}${how === 'killed' ? ', killed after 30s' : ''})`);
}

if (isMain(import.meta.url)) {
  await runCli({
    name: SERVICE,
    up: () => ensureKafka(),
    down: () => stopKafka(),
    status: async (json) => {
      const status = await kafkaStatus();
      if (json) console.log(JSON.stringify(status));
      else console.log(`kafka: ${status.running ? 'running' : 'not running'} on ${status.bootstrapServers}${status.startedByUs ? ` (started by us, pid ${status.pid})` : ''}`);
    },
  });
}
