/**
 * Issue 7's benchmark: the HTTP sink sending records to a local server that answers 200 at once,
 * beside the ceiling autocannon reaches on the same server, in the same run.
 *
 * The server runs in its own process and counts the records it receives (requests, plus the
 * newlines of NDJSON batches). Per row, one server process and one sink task, then interleaved
 * rounds (BENCH_ROUNDS, 5): autocannon for BENCH_CEILING_SECONDS (2), the sink's BENCH_RECORDS
 * (1,000,000), autocannon, the sink, ..., autocannon. Each round's ratio is the sink's records/s
 * over the mean of the two autocannon windows around it (seconds apart, not a minute: on a shared
 * machine the ceiling moves 2x within minutes); the figure is the median of the per-round ratios,
 * printed with their spread, the load average, both absolute figures and the CPU per record of
 * the client (this process: the sink, or autocannon) and of the server (from /proc, 10 ms ticks).
 * - ceiling (unbatched): autocannon POSTs one record's body over the same number of connections
 *   as the sink's http.max.concurrency; records/s = requests/s.
 * - ceiling (batched): autocannon POSTs an NDJSON body of batch.max.size records (taken from the
 *   middle of the run's records, so its size is their average); records/s = requests/s x batch
 *   size. autocannon sends one prebuilt body again and again: it measures what the connection and
 *   the server take, with no serialization at all.
 * - ours: HttpSinkTask, driven through its API as the runtime drives it (put of 2,000 records,
 *   flush), timed over put and flush: everything the sink does for the records is inside the
 *   clock (but a scavenge that runs while the next chunk is built, collecting the sink's garbage
 *   with the previous chunk's records, is not). Records are built before the clock starts (the
 *   runtime hands them over built), BENCH_CHUNK at a time (10,000: five puts) while nothing is in
 *   flight (each chunk ends with a flush, so no request progresses while the clock is stopped, and
 *   the sink pays a drained pipeline every 20 requests): as the runtime decodes a fetch and hands
 *   the records over fresh. (Built 100,000 at a time, most were out of the CPU's caches and
 *   promoted by the scavenger before the sink read them: BENCH_CHUNK=100000 for that shape.)
 *   Before the rounds, BENCH_WARMUP records (500,000 batched; a tenth of a round unbatched) go
 *   through the same task untimed, as a worker's sink is long past its first second; the server
 *   must have counted every timed record of a round. Values are
 *   objects, as JsonConverter with schemas.enable=true (or any transform) hands them over (the
 *   sink serializes each); in the "json" row, objects
 *   with their JSON text beside them (`valueJson`), as JsonConverter with schemas.enable=false
 *   hands them over when no transform runs; in the "bytes" row, the JSON bytes themselves, as
 *   ByteArrayConverter hands them over (nothing to serialize).
 * - with BENCH_PLAIN=1, once per row before the rounds, a plain node:http loop POSTing the same
 *   prebuilt body over the same number of keep-alive connections, with no serialization either
 *   (node:http's own work per request keeps it below autocannon in most runs).
 * Prints medians; never fails on a time.
 *   node bench/http-sink.ts     BENCH_RECORDS=1000000 BENCH_UNBATCHED_RECORDS=100000 BENCH_ROUNDS=5
 *                               BENCH_CONCURRENCY=4 BENCH_BATCH=500 BENCH_MODES=batched,json,bytes,unbatched
 *                               (also unbatched-json)
 *                               BENCH_CEILING_SECONDS=2 (each autocannon window)
 *                               BENCH_CHUNK=10000 BENCH_WARMUP=500000 BENCH_PLAIN=1
 *                               BENCH_SINK_ONLY=1 (the sink alone, BENCH_ROUNDS times, no ratio: for node --cpu-prof)
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { HttpSinkTask } from '../connectors/http/http-sink-task.ts';
import type { Logger, SinkRecord, SinkTaskContext } from '../runtime/api/index.ts';
import { median, printTable, stopChild } from './lib.ts';

const N = Number(process.env.BENCH_RECORDS ?? 1_000_000);
/** Unbatched records per round: 100,000 (about 3 s at 30k requests/s, beside autocannon's 2 s windows). */
const N_SINGLE = Number(process.env.BENCH_UNBATCHED_RECORDS ?? 100_000);
/** Interleaved rounds per row: autocannon, the sink's records, autocannon, ... (BENCH_RUNS is the old name). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? process.env.BENCH_RUNS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const PUT_SIZE = 2000;
/** Records built at a time, before the clock starts; the sink is flushed (idle) before each chunk is built. */
const CHUNK = Number(process.env.BENCH_CHUNK ?? 10_000);
/** Records sent through the same task before the clock starts (a worker's sink runs for hours, not a second). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500_000);
const MODES = (process.env.BENCH_MODES ?? 'batched,json,bytes,unbatched').split(',');
const CEILING_SECONDS = Number(process.env.BENCH_CEILING_SECONDS ?? 2);
/** The plain node:http loop too, once per row before the rounds. */
const PLAIN = process.env.BENCH_PLAIN === '1';
/** Only the sink, no ceiling and no plain loop: for `node --cpu-prof`. */
const SINK_ONLY = process.env.BENCH_SINK_ONLY === '1';

type Autocannon = (opts: Record<string, unknown>) => Promise<{ requests: { total: number }; non2xx: number; errors: number }>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const SERVER = `
const http = require('node:http');
let requests = 0, records = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET') { res.end(JSON.stringify({ requests, records })); return; }
  if (req.url === '/reset') { requests = 0; records = 0; res.end(); req.resume(); return; }
  let n = 0, any = false;
  req.on('data', (c) => { any = true; for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) n++; });
  req.on('end', () => { requests++; records += any ? n + 1 : 0; res.end('ok'); });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

function value(i: number): Record<string, unknown> {
  return { id: i, customer: `customer-${i % 10_000}`, amount: (i % 100_000) / 100, currency: 'EUR', status: i % 7 === 0 ? 'refunded' : 'paid', ts: 1_760_000_000_000 + i };
}

/**
 * How values reach the sink: `object`, as JsonConverter hands them over with schemas.enable=true
 * or after a transform (the sink serializes each); `bytes`, as ByteArrayConverter hands them over
 * (the JSON bytes are the value); `json`, as JsonConverter with schemas.enable=false and no
 * transform hands them over: the object as `value` and the JSON text read from Kafka as
 * `valueJson` (here JSON.stringify's bytes, each its own buffer as a Kafka fetch slices them).
 */
type ValueKind = 'object' | 'bytes' | 'json';

function records(from: number, count: number, kind: ValueKind = 'object'): SinkRecord[] {
  const out: SinkRecord[] = new Array(count);
  for (let k = 0; k < count; k++) {
    const i = from + k;
    const base = { topic: 'orders', kafkaPartition: 0, kafkaOffset: i, originalTopic: 'orders', originalKafkaPartition: 0, originalKafkaOffset: i, key: null };
    if (kind === 'bytes') out[k] = { ...base, value: Buffer.from(JSON.stringify(value(i))) };
    else if (kind === 'json') {
      const v = value(i);
      out[k] = { ...base, value: v, valueJson: Buffer.from(JSON.stringify(v)) };
    } else out[k] = { ...base, value: value(i) };
  }
  return out;
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function context(): SinkTaskContext {
  return {
    connectorName: 'bench',
    taskId: 0,
    logger: quiet,
    signal: new AbortController().signal,
    reportProgress() {},
    assignment: () => [{ topic: 'orders', partition: 0 }],
    pause() {},
    resume() {},
    requestCommit() {},
    async reportError(_r, e) {
      throw e;
    },
  };
}

async function stats(url: string): Promise<{ requests: number; records: number }> {
  return (await (await fetch(url)).json()) as { requests: number; records: number };
}

async function reset(url: string): Promise<void> {
  await fetch(`${url}/reset`, { method: 'POST' });
}

/** A process's CPU (user + system) in µs, from /proc (the server's; 10 ms ticks). */
function cpuOfUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
}
const TICKS = 100;

/** One measured window: records/s, and the CPU per record of this process (the client) and of the server, in µs. */
interface Window {
  recordsPerSecond: number;
  clientCpuUs: number;
  serverCpuUs: number;
}

/** A started and warmed-up sink, and how to send a number of records through it, timed. */
interface Sink {
  send(from: number, total: number): Promise<Window>;
  stop(): Promise<void>;
}

async function sink(url: string, batched: boolean, kind: ValueKind, serverPid: number): Promise<Sink> {
  const task = new HttpSinkTask();
  await task.start(
    { 'http.url': `${url}/ingest`, 'batching.enabled': String(batched), 'batch.max.size': String(BATCH), 'http.max.concurrency': String(CONCURRENCY) },
    context(),
  );
  // Warm-up, untimed and not counted: the same task, the same server, records of the same shape.
  const warm = batched ? WARMUP : Math.min(WARMUP, Math.ceil(N_SINGLE / 10));
  const warmFrom = 100_000_000;
  for (let chunk = 0; chunk < warm; chunk += CHUNK) {
    for (let i = chunk; i < Math.min(warm, chunk + CHUNK); i += PUT_SIZE) await task.put(records(warmFrom + i, Math.min(PUT_SIZE, warm - i, chunk + CHUNK - i), kind));
    await task.flush(new Map());
  }
  return {
    async send(from, total) {
      await reset(url);
      // Records are built before the clock starts (the runtime hands them over built), CHUNK at a
      // time, while nothing is in flight (after a flush): as the runtime decodes a fetch's records
      // and hands them over fresh, rather than all of them built long before and out of the caches.
      let ms = 0;
      let cpuUs = 0;
      let serverUs = 0;
      for (let chunk = 0; chunk < total; chunk += CHUNK) {
        const puts: SinkRecord[][] = [];
        for (let i = chunk; i < Math.min(total, chunk + CHUNK); i += PUT_SIZE) puts.push(records(from + i, Math.min(PUT_SIZE, total - i, chunk + CHUNK - i), kind));
        const server0 = cpuOfUs(serverPid);
        const start = performance.now();
        const cpu = process.cpuUsage();
        for (const batch of puts) await task.put(batch);
        await task.flush(new Map());
        ms += performance.now() - start;
        const used = process.cpuUsage(cpu);
        cpuUs += used.user + used.system;
        serverUs += cpuOfUs(serverPid) - server0;
      }
      const got = await stats(url);
      if (got.records !== total) throw new Error(`the server counted ${got.records} records, expected ${total}`);
      return { recordsPerSecond: total / (ms / 1000), clientCpuUs: cpuUs / total, serverCpuUs: serverUs / total };
    },
    async stop() {
      await task.stop();
    },
  };
}

function ceilingBody(total: number, batched: boolean): string {
  const middle = Math.max(0, Math.floor(total / 2) - BATCH);
  return batched ? records(middle, BATCH).map((r) => JSON.stringify(r.value)).join('\n') : JSON.stringify(value(middle));
}

/** The same prebuilt body POSTed by a bare node:http loop, CONCURRENCY requests in flight. */
async function plainLoop(url: string, total: number, batched: boolean): Promise<number> {
  await reset(url);
  const perRequest = batched ? BATCH : 1;
  const body = Buffer.from(ceilingBody(total, batched));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const target = new URL(`${url}/ingest`);
  const amount = Math.ceil(total / perRequest);
  const headers = { 'content-type': batched ? 'application/x-ndjson' : 'application/json', 'content-length': String(body.length) };
  let next = 0;
  const one = (): Promise<void> => new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < amount) await one();
  }));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  const got = await stats(url);
  if (got.requests !== amount) throw new Error(`the server counted ${got.requests} requests, the loop sent ${amount}`);
  return (amount * perRequest) / seconds;
}

async function ceiling(url: string, body: string, batched: boolean, serverPid: number): Promise<Window> {
  await reset(url);
  const perRequest = batched ? BATCH : 1;
  const server0 = cpuOfUs(serverPid);
  const cpu = process.cpuUsage();
  const start = performance.now();
  // For a duration, not an amount: with `amount`, autocannon ends on its one-second tick, so 400
  // and 2,000 requests both took a second and the "ceiling" was about N records per second.
  const result = await autocannon({
    url: `${url}/ingest`,
    method: 'POST',
    body,
    headers: { 'content-type': batched ? 'application/x-ndjson' : 'application/json' },
    connections: CONCURRENCY,
    duration: CEILING_SECONDS,
  });
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const serverUs = cpuOfUs(serverPid) - server0;
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`autocannon saw ${result.non2xx} non-2xx and ${result.errors} errors`);
  const got = await stats(url);
  // Requests still in flight when the duration ends reach the server but are not counted by autocannon.
  if (got.requests < result.requests.total || got.requests > result.requests.total + CONCURRENCY) throw new Error(`the server counted ${got.requests} requests, autocannon ${result.requests.total}`);
  const total = result.requests.total * perRequest;
  return { recordsPerSecond: total / seconds, clientCpuUs: (used.user + used.system) / total, serverCpuUs: serverUs / total };
}

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

export async function run(): Promise<void> {
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => server.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const url = `http://127.0.0.1:${port}`;
  const serverPid = server.pid!;
  try {
    const rows: Array<Record<string, string | number>> = [];
    const modes = ([
      ['batched', 'batched (NDJSON), object values', true, N, 'object'],
      ['json', 'batched (NDJSON), JSON values (value + valueJson)', true, N, 'json'],
      ['bytes', 'batched (NDJSON), byte values', true, N, 'bytes'],
      ['unbatched', 'unbatched, object values', false, N_SINGLE, 'object'],
      ['unbatched-json', 'unbatched, JSON values (value + valueJson)', false, N_SINGLE, 'json'],
    ] as const).filter(([name, , , total]) => total > 0 && MODES.includes(name));
    for (const [, mode, batched, total, kind] of modes) {
      const ours = await sink(url, batched, kind, serverPid);
      try {
        if (SINK_ONLY) {
          for (let r = 0; r < ROUNDS; r++) {
            const w = await ours.send(r * total, total);
            console.error(`  ${mode} round ${r + 1}: http sink ${Math.round(w.recordsPerSecond)} records/s, ${w.clientCpuUs.toFixed(2)} µs CPU/record (no ceiling: BENCH_SINK_ONLY)`);
          }
          continue;
        }
        const plain = PLAIN ? await plainLoop(url, total, batched) : undefined;
        // Interleaved: autocannon, sink, autocannon, sink, ..., autocannon, against the same server
        // process. Each round's ceiling is the mean of the autocannon windows just before and just
        // after its sink window, so the ratio compares figures taken seconds apart, and a ceiling
        // drifting up or down through the round counts for half on each side.
        const body = ceilingBody(total, batched);
        const cannon: Window[] = [await ceiling(url, body, batched, serverPid)];
        const sinks: Window[] = [];
        const loads: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const load = loadavg()[0];
          sinks.push(await ours.send(r * total, total));
          cannon.push(await ceiling(url, body, batched, serverPid));
          loads.push(load);
          const c = (cannon[r].recordsPerSecond + cannon[r + 1].recordsPerSecond) / 2;
          const o = sinks[r];
          console.error(`  ${mode} round ${r + 1} (load ${load.toFixed(1)}): autocannon ${fmt(cannon[r].recordsPerSecond)} / ${fmt(cannon[r + 1].recordsPerSecond)} (server ${(cannon[r].serverCpuUs * (batched ? BATCH : 1)).toFixed(0)} µs CPU per ${batched ? BATCH : 1}), http sink ${fmt(o.recordsPerSecond)} records/s (${o.clientCpuUs.toFixed(2)} µs CPU/record, server ${o.serverCpuUs.toFixed(2)}): ${pct(o.recordsPerSecond / c)} of autocannon`);
        }
        const ratios = sinks.map((o, r) => o.recordsPerSecond / ((cannon[r].recordsPerSecond + cannon[r + 1].recordsPerSecond) / 2));
        rows.push({
          mode,
          'records/round': total,
          rounds: ROUNDS,
          load: `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`,
          ...(plain !== undefined ? { 'plain loop': fmt(plain) } : {}),
          autocannon: `${fmt(median(cannon.map((w) => w.recordsPerSecond)))} (${fmt(Math.min(...cannon.map((w) => w.recordsPerSecond)))}-${fmt(Math.max(...cannon.map((w) => w.recordsPerSecond)))})`,
          'http sink': `${fmt(median(sinks.map((w) => w.recordsPerSecond)))} (${fmt(Math.min(...sinks.map((w) => w.recordsPerSecond)))}-${fmt(Math.max(...sinks.map((w) => w.recordsPerSecond)))})`,
          'client µs CPU/rec sink / autocannon': `${median(sinks.map((w) => w.clientCpuUs)).toFixed(2)} / ${median(cannon.map((w) => w.clientCpuUs)).toFixed(2)}`,
          'server µs CPU/rec sink / autocannon': `${median(sinks.map((w) => w.serverCpuUs)).toFixed(2)} / ${median(cannon.map((w) => w.serverCpuUs)).toFixed(2)}`,
          'ours / autocannon': `${pct(median(ratios))} (${pct(Math.min(...ratios))}-${pct(Math.max(...ratios))})`,
          'per round': ratios.map(pct).join(' '),
        });
      } finally {
        await ours.stop();
      }
    }
    if (rows.length > 0) printTable(`HTTP sink -> local server answering 200 (${CONCURRENCY} connections, batch ${BATCH}, ${ROUNDS} interleaved round(s) of ${CEILING_SECONDS} s autocannon / the sink's records; medians (min-max); ratio: median of the per-round ratios (min-max))`, rows);
  } finally {
    await stopChild(server);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
