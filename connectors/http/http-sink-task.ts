import { DataError, FatalError, RetriableError } from '../../runtime/api/index.ts';
import type { Logger, SinkOffsets, SinkRecord, SinkTask, SinkTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { Allowlist } from './allowlist.ts';
import { DurableRetries, type JobOutcome, type RetryJob } from './durable-retries.ts';
import { HttpClient, NetworkError, backoffMs, parseRetryAfter, redactUrl, type HttpResponse } from './http-client.ts';
import { httpSinkConfig } from './sink-config.ts';
import { sleep } from './sleep.ts';
import { UrlTemplate } from './template.ts';
import { TokenBucket } from './token-bucket.ts';

type SinkConfig = ReturnType<typeof httpSinkConfig.parse>;

interface Request {
  url: string;
  records: SinkRecord[];
  body: string;
  contentType: string;
}

type Outcome = { ok: true } | { ok: false; rejected: HttpResponse } | { ok: false; retriable: string; retryAfterMs?: number };

/**
 * Sends records to an HTTP endpoint. `put` sends everything it is given before it returns (one
 * request per record, or batches), so `flush` has nothing left to do. Records already accepted by
 * the server are remembered (by identity) so that when the runtime calls `put` again with the same
 * records after a RetriableError, only the ones not yet delivered are sent.
 */
export class HttpSinkTask implements SinkTask {
  private context!: SinkTaskContext;
  private logger!: Logger;
  private cfg!: SinkConfig;
  private template!: UrlTemplate;
  private client!: HttpClient;
  private headers: Record<string, string> = {};
  private bucket: TokenBucket | null = null;
  private readonly delivered = new WeakSet<SinkRecord>();
  private stats = { requests: 0, records: 0, retries: 0, rejected: 0, parked: 0 };
  private durable: DurableRetries | null = null;
  private lastQueueStats = 0;

  async start(config: TaskConfig, context: SinkTaskContext): Promise<void> {
    this.cfg = httpSinkConfig.parse(config);
    this.context = context;
    this.logger = context.logger;
    this.template = UrlTemplate.parse(this.cfg['http.url']);
    const allowlist = new Allowlist(this.cfg['http.allowed.hosts']);
    this.client = new HttpClient({ maxSockets: this.cfg['http.max.concurrency'], allowlist });
    this.headers = buildHeaders(this.cfg);
    const rate = this.cfg['http.rate.limit'];
    this.bucket = rate > 0 ? new TokenBucket(rate, Math.max(1, rate)) : null;
    const redisUrl = this.cfg['redis.url'];
    if (redisUrl) {
      this.durable = new DurableRetries({
        redisUrl,
        queueName: this.cfg['retry.queue.name'] ?? `tributary-http-sink-${context.connectorName}`,
        attempts: this.cfg['retry.queue.max.attempts'],
        backoffMs: this.cfg['retry.queue.backoff.ms'],
        backoffMaxMs: Math.max(this.cfg['retry.queue.backoff.ms'], this.cfg['retry.backoff.max.ms']),
        concurrency: this.cfg['http.max.concurrency'],
        logger: this.logger,
        send: (job) => this.sendJob(job),
        giveUp: (job, reason) => this.giveUp(job, reason),
      });
      await this.durable.start();
    }
    this.logger.info({ url: redactUrl(this.template.origin + '/'), batching: this.cfg['batching.enabled'], auth: this.cfg['http.authorization.type'], durableRetries: redisUrl !== null }, 'http sink task started');
  }

  async put(records: SinkRecord[]): Promise<void> {
    this.throwIfDurableFailed();
    const requests = await this.plan(records);
    if (requests.length === 0) return;
    const signal = this.context.signal;
    let failure: { message: string; retryAfterMs?: number } | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < requests.length && !failure && !signal.aborted) {
        const req = requests[next++];
        const outcome = await this.sendWithRetries(req);
        if (outcome.ok) {
          for (const r of req.records) this.delivered.add(r);
          this.stats.records += req.records.length;
        } else if ('rejected' in outcome) {
          this.stats.rejected += req.records.length;
          const err = rejectionError(req, outcome.rejected, this.cfg['http.method']);
          // Throws when errors.tolerance=none: the task fails with the server's answer as its trace.
          for (const r of req.records) {
            await this.context.reportError(r, err);
            this.delivered.add(r);
          }
        } else if (this.durable && !signal.aborted) {
          // Park it in Redis and go on: the partition advances, the job is retried later.
          await this.durable.add(toJob(req, outcome.retriable));
          for (const r of req.records) this.delivered.add(r);
          this.stats.parked += req.records.length;
        } else {
          failure ??= { message: outcome.retriable, retryAfterMs: outcome.retryAfterMs };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.cfg['http.max.concurrency'], requests.length) }, worker));
    if (failure) {
      throw new RetriableError(`${failure.message}; giving up after ${this.cfg['max.retries']} retries in the task, the runtime will call put again`, { retryAfterMs: failure.retryAfterMs });
    }
    if (signal.aborted) throw new RetriableError('The task is stopping; records not yet sent will be delivered again');
  }

  async flush(_offsets: SinkOffsets): Promise<void> {
    this.throwIfDurableFailed();
    const progress: Record<string, unknown> = { ...this.stats };
    if (this.durable && Date.now() - this.lastQueueStats >= 1000) {
      this.lastQueueStats = Date.now();
      try {
        const q = await this.durable.stats();
        progress['retry.queue.depth'] = q.depth;
        progress['retry.queue.oldest.age.ms'] = q.oldestAgeMs;
      } catch (e) {
        this.logger.warn({ err: (e as Error).message }, 'cannot read the retry queue');
      }
    }
    this.context.reportProgress(progress);
  }

  async stop(): Promise<void> {
    await this.durable?.close().catch((e: Error) => this.logger.warn({ err: e.message }, 'closing the retry queue failed'));
    this.client?.close();
  }

  private throwIfDurableFailed(): void {
    const e = this.durable?.fatal;
    if (e !== undefined) throw new FatalError(`A durable retry could not be dead-lettered: ${(e as Error).message ?? String(e)}`, { cause: e });
  }

  /** One attempt of a parked request; BullMQ owns the retries. */
  private async sendJob(job: RetryJob): Promise<JobOutcome> {
    const req: Request = { url: job.url, body: job.body, contentType: job.contentType, records: [] };
    const outcome = await this.sendWithRetries(req, 0);
    if (outcome.ok) {
      this.stats.records += job.records.length;
      return outcome;
    }
    if ('rejected' in outcome) return { ok: false, rejected: rejectionError({ ...req, records: job.records.map(asSinkRecord) }, outcome.rejected, this.cfg['http.method']).message };
    return { ok: false, retriable: outcome.retriable };
  }

  private async giveUp(job: RetryJob, reason: string): Promise<void> {
    this.stats.rejected += job.records.length;
    for (const r of job.records) await this.context.reportError(asSinkRecord(r), new DataError(reason));
  }

  /** Requests for the records not yet delivered, in record order (batched by equal URL). */
  private async plan(records: SinkRecord[]): Promise<Request[]> {
    const batching = this.cfg['batching.enabled'];
    const max = batching ? this.cfg['batch.max.size'] : 1;
    const open = new Map<string, SinkRecord[]>();
    const out: Request[] = [];
    const close = (url: string, group: SinkRecord[]): void => {
      out.push(this.request(url, group));
      open.delete(url);
    };
    for (const r of records) {
      if (this.delivered.has(r)) continue;
      if (r.value === null || r.value === undefined) {
        this.delivered.add(r); // a tombstone has nothing to send
        continue;
      }
      let url: string;
      try {
        url = this.template.render(r);
      } catch (e) {
        await this.context.reportError(r, new DataError(`Cannot build the URL of record ${r.topic}-${r.kafkaPartition}@${r.kafkaOffset}: ${(e as Error).message}`, { cause: e }));
        this.delivered.add(r);
        continue;
      }
      let group = open.get(url);
      if (!group) open.set(url, (group = []));
      group.push(r);
      if (group.length >= max) close(url, group);
    }
    for (const [url, group] of open) close(url, group);
    return out;
  }

  private request(url: string, records: SinkRecord[]): Request {
    const explicit = this.cfg['http.headers.content.type'];
    if (!this.cfg['batching.enabled']) {
      const v = records[0].value;
      const text = typeof v === 'string' || v instanceof Uint8Array;
      return { url, records, body: bodyOf(v), contentType: explicit ?? (text ? 'text/plain; charset=utf-8' : 'application/json') };
    }
    if (this.cfg['batch.format'] === 'json-array') {
      return { url, records, body: `[${records.map((r) => jsonOf(r.value)).join(',')}]`, contentType: explicit ?? 'application/json' };
    }
    const body = this.cfg['batch.prefix'] + records.map((r) => bodyOf(r.value)).join(this.cfg['batch.separator']) + this.cfg['batch.suffix'];
    return { url, records, body, contentType: explicit ?? 'application/x-ndjson' };
  }

  private async sendWithRetries(req: Request, maxRetries = this.cfg['max.retries']): Promise<Outcome> {
    const signal = this.context.signal;
    const target = `${this.cfg['http.method']} ${redactUrl(req.url)}`;
    for (let attempt = 0; ; attempt++) {
      await this.rateLimit(signal);
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        this.stats.requests++;
        const res = await this.client.send({
          url: req.url,
          method: this.cfg['http.method'],
          headers: { ...this.headers, 'content-type': req.contentType },
          body: req.body,
          timeoutMs: this.cfg['http.timeout'] * 1000,
          maxBodyBytes: 4096,
          signal,
        });
        if (res.status >= 200 && res.status < 300) return { ok: true };
        if (res.status !== 408 && res.status !== 429 && res.status < 500) return { ok: false, rejected: res };
        retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        reason = `${target} answered ${res.status}${res.body ? `: ${snippet(res.body)}` : ''}`;
      } catch (e) {
        const code = e instanceof NetworkError ? e.code : 'ENETWORK';
        if (code === 'EHOSTNOTALLOWED' || code === 'EINVALIDURL') {
          return { ok: false, rejected: { status: 0, headers: {}, body: (e as Error).message, truncated: false } };
        }
        reason = `${target} failed: ${code === 'ETIMEDOUT' ? `no response within ${this.cfg['http.timeout']} s` : `${code} ${(e as Error).message}`}`;
      }
      if (signal.aborted) return { ok: false, retriable: `${reason} (task stopping)` };
      if (attempt >= maxRetries) return { ok: false, retriable: reason, retryAfterMs };
      const wait = retryAfterMs ?? backoffMs(attempt, this.cfg['retry.backoff.ms'], this.cfg['retry.backoff.max.ms']);
      this.stats.retries++;
      this.logger.warn({ target, attempt: attempt + 1, of: maxRetries, waitMs: wait, reason }, 'http request failed; retrying');
      await sleep(wait, signal);
    }
  }

  private async rateLimit(signal: AbortSignal): Promise<void> {
    const bucket = this.bucket;
    if (!bucket) return;
    for (;;) {
      if (bucket.take(1) === 1) return;
      await sleep(Math.max(1, bucket.msUntil(1)), signal);
      if (signal.aborted) return;
    }
  }
}

function toJob(req: Request, reason: string): RetryJob {
  const records = req.records.map((r) => ({ topic: r.topic, kafkaPartition: r.kafkaPartition, kafkaOffset: r.kafkaOffset, key: JSON.parse(jsonOf(r.key ?? null)), value: JSON.parse(jsonOf(r.value)) }));
  return { url: req.url, body: req.body, contentType: req.contentType, records, firstFailedAt: Date.now(), reason };
}

function asSinkRecord(r: RetryJob['records'][number]): SinkRecord {
  return { ...r, originalTopic: r.topic, originalKafkaPartition: r.kafkaPartition, originalKafkaOffset: r.kafkaOffset };
}

function buildHeaders(cfg: SinkConfig): Record<string, string> {
  const h: Record<string, string> = {};
  for (const entry of cfg['http.headers.additional']) {
    const colon = entry.indexOf(':');
    h[entry.slice(0, colon).trim().toLowerCase()] = entry.slice(colon + 1).trim();
  }
  switch (cfg['http.authorization.type']) {
    case 'static':
      h[cfg['http.authorization.header'].toLowerCase()] = cfg['http.headers.authorization'] ?? '';
      break;
    case 'basic':
      h.authorization = `Basic ${Buffer.from(`${cfg['http.auth.username']}:${cfg['http.auth.password'] ?? ''}`).toString('base64')}`;
      break;
    case 'bearer':
      h.authorization = `Bearer ${cfg['http.auth.token']}`;
      break;
  }
  return h;
}

/** What the server said, in the DLQ record's exception message (and so its __connect.errors.exception.message header). */
function rejectionError(req: Request, res: HttpResponse, method: string): DataError {
  const first = req.records[0];
  const where = `${first.topic}-${first.kafkaPartition}@${first.kafkaOffset}${req.records.length > 1 ? ` (one of ${req.records.length} records in the request)` : ''}`;
  const what = res.status === 0 ? res.body : `HTTP ${res.status} from ${method} ${redactUrl(req.url)}; response body: ${snippet(res.body)}${res.truncated ? '…' : ''}`;
  return new DataError(`Record ${where} was rejected: ${what}`);
}

function snippet(body: string): string {
  const s = body.length > 1000 ? `${body.slice(0, 1000)}…` : body;
  return s.replace(/\s+/g, ' ').trim();
}

/** A record's body on its own: strings and bytes as they are, anything else as JSON. */
export function bodyOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  return jsonOf(value);
}

/** JSON, with bytes as base64 and bigints as numbers (strings past 2^53). */
export function jsonOf(value: unknown): string {
  let fast: string | undefined;
  try {
    fast = JSON.stringify(value);
  } catch {
    // a bigint somewhere
  }
  if (fast !== undefined && !fast.includes('"type":"Buffer"')) return fast;
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    const original = this[key];
    if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
    return v;
  }) ?? 'null';
}
