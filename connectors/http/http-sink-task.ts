import { DataError, FatalError, RetriableError } from '../../runtime/api/index.ts';
import type { Logger, SinkOffsets, SinkRecord, SinkTask, SinkTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { Allowlist } from './allowlist.ts';
// BullMQ (and ioredis) load only when redis.url is set: they cost a worker ~30 MB and most of a second to import.
import type { DurableRetries, JobOutcome, RetryJob } from './durable-retries.ts';
import { HttpClient, NetworkError, backoffMs, parseRetryAfter, redactUrl, type HttpResponse } from './http-client.ts';
import { httpSinkConfig } from './sink-config.ts';
import { sleep } from '../../runtime/api/index.ts';
import { UrlTemplate } from './template.ts';
import { TokenBucket } from '../../runtime/api/index.ts';

type SinkConfig = ReturnType<typeof httpSinkConfig.parse>;

interface Request {
  url: string;
  records: SinkRecord[];
  /** Positions of the records in the put's array: a list, or the first of consecutive ones. */
  index: number[] | number;
  body: string | Buffer;
  contentType: string;
}

/** Records that go in one request, before its body is built. */
interface Group {
  url: string;
  records: SinkRecord[];
  /** Positions of the records in the put's array: a list, or the first of consecutive ones. */
  index: number[] | number;
}

const OK = { ok: true } as const;

type Outcome = { ok: true } | { ok: false; rejected: HttpResponse } | { ok: false; retriable: string; retryAfterMs?: number };

/**
 * Sends records to an HTTP endpoint, one request per record or per batch. `put` starts the
 * requests (at most http.max.concurrency in flight; it waits for a free slot) and returns; `flush`
 * waits for every request and returns only when all were accepted (2xx), dead-lettered (4xx) or
 * parked in Redis, so offsets are committed only for delivered records. A request whose retries
 * in the task are spent is kept and sent again on the next put or flush, after a RetriableError
 * has let the runtime back off (honouring Retry-After); at concurrency 1 nothing overtakes it.
 * Which records of a put went out is remembered, so when the runtime calls `put` again with the
 * same records after a RetriableError, only the others are sent.
 */
export class HttpSinkTask implements SinkTask {
  private context!: SinkTaskContext;
  private logger!: Logger;
  private cfg!: SinkConfig;
  private template!: UrlTemplate;
  private client!: HttpClient;
  private headers: Record<string, string> = {};
  /** The headers of a request per content type, built once (they do not depend on the record). */
  private readonly headersByType = new Map<string, Record<string, string>>();
  private bucket: TokenBucket | null = null;
  private framing!: Framing;
  /** The last put's records and which of them are done (sent, skipped or dead-lettered), for its retry. */
  private last: { records: SinkRecord[]; done: Uint8Array } | null = null;
  /** Requests in flight (sent, or waiting for their retry's backoff). */
  private inflight = 0;
  /** Who waits for a request to end (a free slot, or none in flight). */
  private readonly waiters: Array<() => void> = [];
  /** Requests whose retries in the task are spent, to send again after the runtime's backoff. */
  private failed: Request[] = [];
  private failureReported = false;
  private lastFailure: { message: string; retryAfterMs?: number } | undefined;
  /** Requests the server refused (4xx): their records go to the DLQ before put or flush goes on. */
  private rejected: Array<{ req: Request; res: HttpResponse }> = [];
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
    this.framing = framing(this.cfg['batch.prefix'], this.cfg['batch.separator'], this.cfg['batch.suffix']);
    const rate = this.cfg['http.rate.limit'];
    this.bucket = rate > 0 ? new TokenBucket(rate, Math.max(1, rate)) : null;
    const redisUrl = this.cfg['redis.url'];
    if (redisUrl) {
      const { DurableRetries } = await import('./durable-retries.ts');
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
    await this.settleBacklog();
    const done = this.last?.records === records ? this.last.done : new Uint8Array(records.length);
    this.last = { records, done };
    const groups = await this.plan(records, done);
    const signal = this.context.signal;
    for (const group of groups) {
      // Each body is built while the requests before it are in flight, and goes out as soon as a
      // connection is free: the connections do not wait for the whole put to be serialized.
      const req = this.request(group.url, group.records, group.index);
      await this.slot();
      // A request failed meanwhile: stop here so that, at concurrency 1, nothing overtakes it.
      if (this.failed.length > 0) this.throwFailure();
      if (signal.aborted) throw new RetriableError('The task is stopping; records not yet sent will be delivered again');
      // From here the request is in flight: a retry of this put must not send it again.
      if (typeof req.index === 'number') done.fill(1, req.index, req.index + req.records.length);
      else for (const i of req.index) done[i] = 1;
      this.launch(req);
    }
    this.last = null;
  }

  /** Waits until fewer than http.max.concurrency requests are in flight. */
  private async slot(): Promise<void> {
    const max = this.cfg['http.max.concurrency'];
    while (this.inflight >= max) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Waits until no request is in flight. */
  private async idle(): Promise<void> {
    while (this.inflight > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private launch(req: Request): void {
    this.inflight++;
    void this.deliver(req);
  }

  /** One request to its end: delivered, rejected (to the DLQ), parked in Redis, or kept to send again. */
  private async deliver(req: Request): Promise<void> {
    try {
      const outcome = await this.sendWithRetries(req);
      if (outcome.ok) {
        this.stats.records += req.records.length;
      } else if ('rejected' in outcome) {
        this.rejected.push({ req, res: outcome.rejected });
      } else if (this.durable && !this.context.signal.aborted) {
        // Park it in Redis and go on: the partition advances, the job is retried later.
        try {
          await this.durable.add(toJob(req, outcome.retriable));
          this.stats.parked += req.records.length;
        } catch (e) {
          this.fail(req, `${outcome.retriable}; parking it in Redis failed too: ${(e as Error).message}`);
        }
      } else {
        this.fail(req, outcome.retriable, outcome.retryAfterMs);
      }
    } catch (e) {
      this.fail(req, `sending failed: ${(e as Error).message ?? String(e)}`);
    } finally {
      this.inflight--;
      // Whoever waits for a free connection, or for every request to end, goes on.
      if (this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
    }
  }

  private fail(req: Request, message: string, retryAfterMs?: number): void {
    this.failed.push(req);
    this.lastFailure = { message, retryAfterMs };
  }

  private throwFailure(): never {
    this.failureReported = true;
    const f = this.lastFailure ?? { message: 'a request failed' };
    throw new RetriableError(`${f.message}; ${this.failed.length} request(s) wait to be sent again after the runtime's backoff (max.retries=${this.cfg['max.retries']} spent in the task)`, { retryAfterMs: f.retryAfterMs });
  }

  /**
   * Before new records go out: report what the server rejected (the DLQ, or the task fails), and
   * send again what failed. A fresh failure is first handed to the runtime (a RetriableError with
   * the server's Retry-After), so its backoff runs before the next attempt.
   */
  private async settleBacklog(): Promise<void> {
    if (this.failed.length > 0) {
      await this.idle();
      if (!this.failureReported) this.throwFailure();
      const again = this.failed.splice(0);
      for (const req of again) {
        await this.slot();
        this.launch(req);
      }
      await this.idle();
      if (this.failed.length > 0) this.throwFailure();
      this.failureReported = false;
    }
    for (const { req, res } of this.rejected.splice(0)) {
      this.stats.rejected += req.records.length;
      const err = rejectionError(req, res, this.cfg['http.method']);
      // Throws when errors.tolerance=none: the task fails with the server's answer as its trace.
      for (const r of req.records) await this.context.reportError(r, err);
    }
  }

  async flush(_offsets: SinkOffsets): Promise<void> {
    this.throwIfDurableFailed();
    await this.idle();
    await this.settleBacklog();
    await this.idle();
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
    this.failed = [];
    this.rejected = [];
    await this.durable?.close().catch((e: Error) => this.logger.warn({ err: e.message }, 'closing the retry queue failed'));
    this.client?.close();
  }

  private throwIfDurableFailed(): void {
    const e = this.durable?.fatal;
    if (e !== undefined) throw new FatalError(`A durable retry could not be dead-lettered: ${(e as Error).message ?? String(e)}`, { cause: e });
  }

  /** One attempt of a parked request; BullMQ owns the retries. */
  private async sendJob(job: RetryJob): Promise<JobOutcome> {
    const req: Request = { url: job.url, body: job.body, contentType: job.contentType, records: [], index: [] };
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

  /** The requests' records for those not yet delivered, in record order (batched by equal URL). */
  private async plan(records: SinkRecord[], done: Uint8Array): Promise<Group[]> {
    const batching = this.cfg['batching.enabled'];
    const max = batching ? this.cfg['batch.max.size'] : 1;
    if (this.template.isStatic) return this.planStatic(records, done, max);
    const open = new Map<string, { records: SinkRecord[]; index: number[] }>();
    const out: Group[] = [];
    const close = (url: string, group: { records: SinkRecord[]; index: number[] }): void => {
      out.push({ url, records: group.records, index: group.index });
      open.delete(url);
    };
    const byPartition = this.template.parts.every((p) => 'text' in p || p.field === 'topic' || p.field === 'partition');
    let lastTopic: string | undefined;
    let lastPartition = -1;
    let lastUrl = '';
    for (let i = 0; i < records.length; i++) {
      if (done[i]) continue;
      const r = records[i];
      if (r.value === null || r.value === undefined) {
        done[i] = 1; // a tombstone has nothing to send
        continue;
      }
      let url: string;
      try {
        // A template of ${topic} and ${partition} only is rendered once per run of records of one partition.
        if (byPartition && r.topic === lastTopic && r.kafkaPartition === lastPartition) url = lastUrl;
        else {
          url = this.template.render(r);
          lastTopic = r.topic;
          lastPartition = r.kafkaPartition;
          lastUrl = url;
        }
      } catch (e) {
        await this.context.reportError(r, new DataError(`Cannot build the URL of record ${r.topic}-${r.kafkaPartition}@${r.kafkaOffset}: ${(e as Error).message}`, { cause: e }));
        done[i] = 1;
        continue;
      }
      let group = open.get(url);
      if (!group) open.set(url, (group = { records: [], index: [] }));
      group.records.push(r);
      group.index.push(i);
      if (group.records.length >= max) close(url, group);
    }
    for (const [url, group] of open) close(url, group);
    return out;
  }

  /** One URL for every record: consecutive records in batches of `max`, no template to render. */
  private planStatic(records: SinkRecord[], done: Uint8Array, max: number): Group[] {
    const url = this.template.source;
    const out: Group[] = [];
    const n = records.length;
    let gaps = false;
    for (let i = 0; i < n; i++) {
      if (done[i] || records[i].value === null || records[i].value === undefined) {
        gaps = true;
        break;
      }
    }
    if (!gaps) {
      // Every record goes out (the common case): slices of the put, positions as a range.
      for (let i = 0; i < n; i += max) out.push({ url, records: records.slice(i, i + max), index: i });
      return out;
    }
    let group: SinkRecord[] = [];
    let index: number[] = [];
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const r = records[i];
      if (r.value === null || r.value === undefined) {
        done[i] = 1; // a tombstone has nothing to send
        continue;
      }
      group.push(r);
      index.push(i);
      if (group.length >= max) {
        out.push({ url, records: group, index });
        group = [];
        index = [];
      }
    }
    if (group.length > 0) out.push({ url, records: group, index });
    return out;
  }

  private request(url: string, records: SinkRecord[], index: number[] | number): Request {
    const explicit = this.cfg['http.headers.content.type'];
    if (!this.cfg['batching.enabled']) {
      const r = records[0];
      const v = r.value;
      const text = typeof v === 'string' || v instanceof Uint8Array;
      // The value's JSON as read from Kafka is its body as it is: no serializing it again.
      const body = v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : !text && r.valueJson !== undefined && r.valueJson.length > 0 ? r.valueJson : bodyOf(v);
      return { url, records, index, body, contentType: explicit ?? (text ? 'text/plain; charset=utf-8' : 'application/json') };
    }
    if (this.cfg['batch.format'] === 'json-array') {
      return { url, records, index, body: jsonArrayOf(records), contentType: explicit ?? 'application/json' };
    }
    return { url, records, index, body: linesOf(records, this.framing), contentType: explicit ?? 'application/x-ndjson' };
  }

  private async sendWithRetries(req: Request, maxRetries = this.cfg['max.retries']): Promise<Outcome> {
    const signal = this.context.signal;
    const method = this.cfg['http.method'];
    const headers = this.headersFor(req.contentType);
    const timeoutMs = this.cfg['http.timeout'] * 1000;
    for (let attempt = 0; ; attempt++) {
      const waiting = this.rateLimit(signal);
      if (waiting) await waiting;
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        this.stats.requests++;
        const res = await this.client.send({ url: req.url, method, headers, body: req.body, timeoutMs, maxBodyBytes: 4096, signal });
        if (res.status >= 200 && res.status < 300) return OK;
        if (res.status !== 408 && res.status !== 429 && res.status < 500) return { ok: false, rejected: res };
        retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        reason = `${method} ${redactUrl(req.url)} answered ${res.status}${res.body ? `: ${snippet(res.body)}` : ''}`;
      } catch (e) {
        const code = e instanceof NetworkError ? e.code : 'ENETWORK';
        if (code === 'EHOSTNOTALLOWED' || code === 'EINVALIDURL') {
          return { ok: false, rejected: { status: 0, headers: {}, body: (e as Error).message, truncated: false } };
        }
        reason = `${method} ${redactUrl(req.url)} failed: ${code === 'ETIMEDOUT' ? `no response within ${this.cfg['http.timeout']} s` : `${code} ${(e as Error).message}`}`;
      }
      if (signal.aborted) return { ok: false, retriable: `${reason} (task stopping)` };
      if (attempt >= maxRetries) return { ok: false, retriable: reason, retryAfterMs };
      const wait = retryAfterMs ?? backoffMs(attempt, this.cfg['retry.backoff.ms'], this.cfg['retry.backoff.max.ms']);
      this.stats.retries++;
      this.logger.warn({ target: `${method} ${redactUrl(req.url)}`, attempt: attempt + 1, of: maxRetries, waitMs: wait, reason }, 'http request failed; retrying');
      await sleep(wait, signal);
    }
  }

  private headersFor(contentType: string): Record<string, string> {
    let h = this.headersByType.get(contentType);
    if (!h) this.headersByType.set(contentType, (h = { ...this.headers, 'content-type': contentType }));
    return h;
  }

  private rateLimit(signal: AbortSignal): Promise<void> | undefined {
    const bucket = this.bucket;
    if (!bucket || bucket.take(1) === 1) return undefined;
    return this.waitForToken(bucket, signal);
  }

  private async waitForToken(bucket: TokenBucket, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (bucket.take(1) === 1) return;
      await sleep(Math.max(1, bucket.msUntil(1)), signal);
      if (signal.aborted) return;
    }
  }
}

function toJob(req: Request, reason: string): RetryJob {
  const records = req.records.map((r) => ({ topic: r.topic, kafkaPartition: r.kafkaPartition, kafkaOffset: r.kafkaOffset, key: JSON.parse(jsonOf(r.key ?? null)), value: JSON.parse(jsonOf(r.value)) }));
  const body = typeof req.body === 'string' ? req.body : req.body.toString('utf8');
  return { url: req.url, body, contentType: req.contentType, records, firstFailedAt: Date.now(), reason };
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

/**
 * How a batch body is framed: prefix, separator and suffix as bytes (encoded once per task), and
 * the line-break bytes of the separator, which a record's JSON text copied as it is (valueJson)
 * must not contain, or an NDJSON line would be split (JSON may be pretty-printed in Kafka).
 */
export interface Framing {
  prefix: Buffer;
  separator: Buffer;
  suffix: Buffer;
  /** 10 and/or 13 when the separator holds them: a valueJson holding one is serialized instead. */
  breaks: number[];
}

export function framing(prefix: string, separator: string, suffix: string): Framing {
  const breaks = [10, 13].filter((b) => separator.includes(String.fromCharCode(b)));
  return { prefix: Buffer.from(prefix), separator: Buffer.from(separator), suffix: Buffer.from(suffix), breaks };
}

/** Where the separators of the batch being built go, and its bodies: reused from batch to batch. */
let separatorAt = new Int32Array(1024);
let lines: Array<Uint8Array | undefined> = new Array(1024);

/**
 * The bodies of a batch between prefix and suffix, joined by the separator. When every record has
 * its body as bytes (a bytes value, as ByteArrayConverter hands it over, or the JSON text read from
 * Kafka, `valueJson`, for a value sent as JSON), they are copied once into a buffer of the exact
 * size, with no string in between. Otherwise the text path: values are stringified without a
 * replacer and the joined text is checked once for a serialized Buffer, rather than each value (the
 * check per value was a fifth of the sink's CPU in the benchmark).
 */
export function linesOf(records: SinkRecord[], f: Framing): string | Buffer {
  return bytesOf(records, f) ?? textLinesOf(records, f);
}

/** A record's NDJSON body as bytes, when it has one: bytes values, or valueJson for values sent as JSON (not strings, sent as they are). */
function rawLine(r: SinkRecord): Uint8Array | undefined {
  const j = r.valueJson;
  const v = r.value;
  if (j !== undefined && j.length > 0 && typeof v !== 'string') return v instanceof Uint8Array ? v : j;
  return v instanceof Uint8Array ? v : undefined;
}

/** When every record's body is bytes: prefix, bodies and separators copied into one buffer; else undefined. */
function bytesOf(records: SinkRecord[], f: Framing): Buffer | undefined {
  const n = records.length;
  if (lines.length < n) lines = new Array(n * 2);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const b = rawLine(records[i]);
    if (b === undefined) {
      lines.fill(undefined, 0, i);
      return undefined;
    }
    lines[i] = b;
    size += b.byteLength;
  }
  const { prefix, separator, suffix, breaks } = f;
  const sepLength = separator.length;
  const sep0 = separator[0];
  const out = Buffer.allocUnsafe(prefix.length + size + sepLength * Math.max(0, n - 1) + suffix.length);
  let at = prefix.copy(out, 0);
  const start = at;
  if (breaks.length === 0) {
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        if (sepLength === 1) out[at++] = sep0;
        else at += separator.copy(out, at);
      }
      const b = lines[i]!;
      out.set(b, at);
      at += b.byteLength;
    }
    lines.fill(undefined, 0, n);
  } else {
    // Separators go in as spaces first, so that one search of the whole batch tells whether any
    // body holds a line break; then they are written where they belong.
    if (separatorAt.length < n) separatorAt = new Int32Array(n * 2);
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        separatorAt[i] = at;
        if (sepLength === 1) out[at++] = 32;
        else {
          out.fill(32, at, at + sepLength);
          at += sepLength;
        }
      }
      const b = lines[i]!;
      out.set(b, at);
      at += b.byteLength;
    }
    lines.fill(undefined, 0, n);
    const values = out.subarray(start, at);
    for (const brk of breaks) {
      // A body with a line break: bytes values are sent as they are, as ever; the others are serialized.
      if (values.indexOf(brk) >= 0) return records.some((r) => r.valueJson !== undefined && !(r.value instanceof Uint8Array) && hasBreak(r.valueJson, breaks)) ? undefined : finishBytes(out, at, f, n);
    }
    if (sepLength === 1) for (let i = 1; i < n; i++) out[separatorAt[i]] = sep0;
    else for (let i = 1; i < n; i++) separator.copy(out, separatorAt[i]);
  }
  suffix.copy(out, at);
  return out;
}

/** The separators and suffix of a bytes batch built with space placeholders (a bytes value holds a line break). */
function finishBytes(out: Buffer, at: number, f: Framing, n: number): Buffer {
  for (let i = 1; i < n; i++) f.separator.copy(out, separatorAt[i]);
  f.suffix.copy(out, at);
  return out;
}

function hasBreak(b: Buffer, breaks: number[]): boolean {
  for (const brk of breaks) if (b.indexOf(brk) >= 0) return true;
  return false;
}

function textLinesOf(records: SinkRecord[], f: Framing): string {
  const prefix = f.prefix.toString();
  const separator = f.separator.toString();
  const suffix = f.suffix.toString();
  const parts: string[] = new Array(records.length);
  let plain = true;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const v = r.value;
    if (typeof v === 'string') parts[i] = v;
    else if (v instanceof Uint8Array) parts[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
    else if (r.valueJson !== undefined && r.valueJson.length > 0 && !hasBreak(r.valueJson, f.breaks)) parts[i] = r.valueJson.toString('utf8');
    else {
      let text: string | undefined;
      try {
        text = JSON.stringify(v);
      } catch {
        // a bigint somewhere
      }
      if (text === undefined) {
        plain = false;
        break;
      }
      parts[i] = text;
    }
  }
  if (plain) {
    const body = parts.join(separator);
    if (!body.includes('"type":"Buffer"')) return prefix + body + suffix;
  }
  return prefix + records.map((r) => (r.valueJson !== undefined && r.valueJson.length > 0 && typeof r.value !== 'string' && !(r.value instanceof Uint8Array) && !hasBreak(r.valueJson, f.breaks) ? r.valueJson.toString('utf8') : bodyOf(r.value))).join(separator) + suffix;
}

/** A JSON array of the values: their JSON text as read (valueJson) copied when every record has it, else serialized. */
export function jsonArrayOf(records: SinkRecord[]): string | Buffer {
  const n = records.length;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const j = records[i].valueJson;
    if (j === undefined || j.length === 0 || records[i].value instanceof Uint8Array) return serializedArrayOf(records);
    size += j.length;
  }
  const out = Buffer.allocUnsafe(size + Math.max(0, n - 1) + 2);
  out[0] = 91; // [
  let at = 1;
  for (let i = 0; i < n; i++) {
    if (i > 0) out[at++] = 44; // ,
    const j = records[i].valueJson!;
    out.set(j, at);
    at += j.length;
  }
  out[at] = 93; // ]
  return out;
}

function serializedArrayOf(records: SinkRecord[]): string {
  const values = records.map((r) => r.value);
  let body: string | undefined;
  try {
    body = JSON.stringify(values);
  } catch {
    // a bigint somewhere
  }
  if (body !== undefined && !body.includes('"type":"Buffer"')) return body;
  return `[${records.map((r) => (r.valueJson !== undefined && r.valueJson.length > 0 && !(r.value instanceof Uint8Array) ? r.valueJson.toString('utf8') : jsonOf(r.value))).join(',')}]`;
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
