/**
 * `tributary start`: load the worker config (file, TRIBUTARY_* env, flags), start a worker, print
 * where its REST API is, log a line of throughput every few seconds, and stop gracefully on
 * SIGINT/SIGTERM (tasks flush and commit before the process exits).
 */
import { WorkerConfigError, loadWorkerConfig, type WorkerConfig } from '../../config/worker-config.ts';
import { HeapGovernor } from '../engine/heap-governor.ts';
import { configureLogging, getLogger } from '../engine/logging.ts';
import type { WorkerMetrics } from '../engine/metrics.ts';
import { startStandaloneWorker, type StartedWorker } from '../cluster/standalone-worker.ts';

const HELP = `Usage: tributary start [--config worker.json] [--mode standalone|distributed] [--rest-port N]
                       [--rest-host H] [--state-dir DIR] [--connectors-dir DIR]
                       [--bootstrap-servers H:P,...] [--group-id ID] [--redis-url URL]
                       [--plugin-path DIR,...] [--log-level LEVEL] [--no-progress]

Starts a worker. Every flag has a TRIBUTARY_* environment variable (TRIBUTARY_REST_PORT, ...);
flags win over the environment, which wins over the --config file.`;

async function counterTotal(metrics: WorkerMetrics, name: 'sourceWritten' | 'sinkPut'): Promise<number> {
  const data = await metrics[name].get();
  return data.values.reduce((n, v) => n + v.value, 0);
}

function progressReporter(running: StartedWorker, intervalMs = 5000): () => void {
  const log = getLogger('tributary.progress');
  let last = { produced: 0, delivered: 0, at: Date.now() };
  const timer = setInterval(async () => {
    const produced = await counterTotal(running.metrics, 'sourceWritten');
    const delivered = await counterTotal(running.metrics, 'sinkPut');
    const now = Date.now();
    const secs = (now - last.at) / 1000;
    if (produced !== last.produced || delivered !== last.delivered) {
      log.info(
        { produced, delivered, producedPerSec: Math.round((produced - last.produced) / secs), deliveredPerSec: Math.round((delivered - last.delivered) / secs) },
        `records produced ${produced} (+${Math.round((produced - last.produced) / secs)}/s), delivered to sinks ${delivered} (+${Math.round((delivered - last.delivered) / secs)}/s)`,
      );
    }
    last = { produced, delivered, at: now };
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

export async function runStart(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const progress = !args.includes('--no-progress');
  const rest = args.filter((a) => a !== '--no-progress');
  const i = rest.indexOf('--config');
  const file = i >= 0 ? rest[i + 1] : undefined;
  if (i >= 0) rest.splice(i, 2);

  let config: WorkerConfig;
  try {
    config = loadWorkerConfig({ file, args: rest });
    configureLogging({ level: config.logLevel, format: 'auto' });
  } catch (e) {
    process.stderr.write(`${e instanceof WorkerConfigError ? e.message : `tributary: ${(e as Error).message}`}\n`);
    return 2;
  }
  const log = getLogger('tributary');
  // Before the worker starts, so the heap's sizing follows the load, not start-up's burst.
  const heap = new HeapGovernor({ youngTargetMs: config.heapYoungTargetMs, oldPercentMin: config.heapGrowingPercentMin, oldPercentMax: config.heapGrowingPercent });
  heap.start();
  if (config.mode === 'distributed' && config.connectorsDir) {
    log.warn('connectors.dir is ignored in distributed mode: create connectors through the REST API of any worker');
  }

  const started = Date.now();
  let running: StartedWorker;
  try {
    if (config.mode === 'distributed') {
      // Loaded only in this mode: a standalone worker never pays for the Kafka client.
      const { startDistributedWorker } = await import('../cluster/distributed-worker.ts');
      running = await startDistributedWorker(config);
    } else {
      running = await startStandaloneWorker(config);
    }
  } catch (e) {
    process.stderr.write(`tributary: cannot start the worker: ${(e as Error).message}\n`);
    return 1;
  }
  log.info({ url: running.url, workerId: running.workerId, ...running.describe(), startMs: Date.now() - started }, `Tributary worker ready: REST API at ${running.url}`);
  heap.release();
  const stopProgress = progress ? progressReporter(running) : () => {};

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        log.warn('second signal: exiting without a graceful stop');
        process.exit(130);
      }
      log.info({ signal: sig }, 'stopping: tasks flush and commit first');
      stopProgress();
      running.stop().then(resolve, (e: Error) => {
        log.error({ err: e.message }, 'error while stopping');
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  heap.stop();
  log.info('stopped');
  return 0;
}
