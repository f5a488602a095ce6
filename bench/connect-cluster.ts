/**
 * Kafka Connect 4.x distributed workers for the side-by-side benchmarks: the jars come from Maven
 * Central (bench/connect/pom.xml, resolved once into bench/.cache/connect/libs by the same code
 * that fetches the test broker), and each worker is an
 * `org.apache.kafka.connect.cli.ConnectDistributed` JVM with its own properties file and log file
 * in a temp dir of the run. A cluster is one group with its own internal topics, so runs never
 * share state. Workers are children of this process: `stopAll()` ends them, and so does this
 * process exiting.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { javaCommand, requireJava, resolveWithMaven } from '../test/infra/common.ts';
import { freePortSync } from './ports.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const POM = join(BENCH_DIR, 'connect', 'pom.xml');
const LOG4J = join(BENCH_DIR, 'connect', 'log4j2.properties');
const LIBS = join(BENCH_DIR, '.cache', 'connect', 'libs');
export const CONNECT_VERSION = /<kafka\.version>([^<]+)</.exec(readFileSync(POM, 'utf8'))?.[1] ?? '4.x';

/** Java and the worker's jars (resolved from Maven Central on first use). Returns the java command. */
export async function ensureConnectJars(log: (line: string) => void = console.log): Promise<string> {
  const java = await requireJava('kafka-connect');
  await resolveWithMaven('kafka-connect', POM, LIBS, log);
  return java;
}

export interface ConnectClusterOptions {
  bootstrapServers: string;
  /** group.id; also the prefix of the three internal topics. Make it unique per run. */
  groupId: string;
  /** More worker properties, or overrides (e.g. scheduled.rebalance.max.delay.ms). */
  properties?: Record<string, string>;
  /** Maximum heap of each JVM, MB (default 256). */
  heapMb?: number;
  /** Where properties and logs go (default: a new temp dir). */
  dir?: string;
}

export interface ConnectWorker {
  /** What Connect reports as worker_id: the advertised `host:port` of its REST listener. */
  id: string;
  url: string;
  port: number;
  logFile: string;
  child: ChildProcess;
  alive(): boolean;
  /** Lines of its log that match `pattern` (e.g. /Creating task /). */
  count(pattern: RegExp): number;
  /** SIGKILL: a crash. Resolves once the JVM is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (Connect's graceful shutdown, leaving the group), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of everyChild) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export class ConnectCluster {
  readonly dir: string;
  readonly workers: ConnectWorker[] = [];
  private readonly o: ConnectClusterOptions;
  private java = javaCommand();

  constructor(options: ConnectClusterOptions) {
    this.o = options;
    this.dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tributary-bench-connect-'));
  }

  async prepare(log?: (line: string) => void): Promise<void> {
    this.java = await ensureConnectJars(log);
  }

  private propertiesFor(port: number): string {
    const g = this.o.groupId;
    const props: Record<string, string> = {
      'bootstrap.servers': this.o.bootstrapServers,
      'group.id': g,
      'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
      'key.converter.schemas.enable': 'false',
      'value.converter.schemas.enable': 'false',
      'config.storage.topic': `${g}-configs`,
      'offset.storage.topic': `${g}-offsets`,
      'status.storage.topic': `${g}-status`,
      'config.storage.replication.factor': '1',
      'offset.storage.replication.factor': '1',
      'status.storage.replication.factor': '1',
      listeners: `http://127.0.0.1:${port}`,
      'rest.advertised.host.name': '127.0.0.1',
      'rest.advertised.port': String(port),
      ...this.o.properties,
    };
    return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
  }

  /** Starts one more worker and resolves once its `/health` answers 200 (it joined the group and read the config topic). */
  async startWorker(timeoutMs = 120_000): Promise<ConnectWorker> {
    const index = this.workers.length;
    const port = freePortSync();
    const propsFile = join(this.dir, `worker-${index}.properties`);
    const logFile = join(this.dir, `worker-${index}.log`);
    writeFileSync(propsFile, this.propertiesFor(port));
    const out = openSync(join(this.dir, `worker-${index}.out`), 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.java, [
        `-Xms${this.o.heapMb ?? 256}m`, `-Xmx${this.o.heapMb ?? 256}m`, '-XX:+UseG1GC', '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${LOG4J}`, `-Dconnect.log.file=${logFile}`,
        '-cp', `${LIBS}/*`, 'org.apache.kafka.connect.cli.ConnectDistributed', propsFile,
      ], { stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    everyChild.add(child);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const alive = () => child.exitCode === null && child.signalCode === null;
    const worker: ConnectWorker = {
      id: `127.0.0.1:${port}`,
      url: `http://127.0.0.1:${port}`,
      port,
      logFile,
      child,
      alive,
      count: (pattern) => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter((l) => pattern.test(l)).length : 0),
      kill9: async () => {
        if (alive()) child.kill('SIGKILL');
        await exited;
      },
      stop: async (graceMs = 30_000) => {
        if (!alive()) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      },
    };
    this.workers.push(worker);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!alive()) throw new Error(`Kafka Connect worker ${index} exited during startup; see ${logFile} and ${join(this.dir, `worker-${index}.out`)}`);
      try {
        if ((await fetch(`${worker.url}/health`)).ok) return worker;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`Kafka Connect worker ${index} not healthy within ${timeoutMs / 1000} s; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
