import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { FatalError } from '../../runtime/api/index.ts';
import type { JsonObject, Logger, SourceRecord, SourceTask, SourceTaskContext, TaskConfig } from '../../runtime/api/index.ts';
import { httpReceiverConfig } from './receiver-config.ts';
import { sleep } from '../../runtime/api/index.ts';

type ReceiverConfig = ReturnType<typeof httpReceiverConfig.parse>;

interface Waiting {
  lastSeq: number;
  count: number;
  answer(status: number, body: unknown): void;
}

/**
 * Receives events POSTed to a port and path it owns. A request is answered only after every
 * record it carried was committed by the runtime (`commit()` reports an offset at or past its
 * last sequence number): written to Kafka, or flushed by every standalone sink of the topic.
 * Records received but not committed are bounded (429 with Retry-After beyond). A body is parsed
 * whole before any of it is queued, so a bad body is refused with 400 and nothing of it lands.
 */
export class HttpReceiverTask implements SourceTask {
  private cfg!: ReceiverConfig;
  private logger!: Logger;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private partition: JsonObject = {};
  private seq = 0;
  private queue: SourceRecord[] = [];
  private readonly waiting: Waiting[] = [];
  /** Records accepted and not yet committed (queued or in the runtime). */
  private uncommitted = 0;
  private wake: (() => void) | null = null;
  private stats = { requests: 0, accepted: 0, rejected: 0, throttled: 0 };

  async start(config: TaskConfig, context: SourceTaskContext): Promise<void> {
    this.cfg = httpReceiverConfig.parse(config);
    this.logger = context.logger;
    this.partition = { listener: `${this.cfg['http.listener.port']}${this.cfg['http.listener.path']}` };
    const stored = await context.offsetStorageReader.offset(this.partition);
    this.seq = typeof stored?.seq === 'number' ? stored.seq : 0;
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new FatalError(`Cannot listen on ${this.cfg['http.listener.host']}:${this.cfg['http.listener.port']} (${e.code}): ${e.message}. Choose a free port in http.listener.port.`, { cause: e })),
      );
      server.listen(this.cfg['http.listener.port'], this.cfg['http.listener.host'], () => resolve());
    });
    this.server = server;
    this.logger.info({ host: this.cfg['http.listener.host'], port: this.cfg['http.listener.port'], path: this.cfg['http.listener.path'] }, 'http receiver listening');
  }

  async poll(signal: AbortSignal): Promise<SourceRecord[]> {
    if (this.queue.length === 0) {
      const woken = new AbortController();
      this.wake = () => woken.abort();
      await sleep(1000, signal, woken.signal);
      this.wake = null;
    }
    const max = this.cfg['batch.size'];
    if (this.queue.length <= max) {
      const out = this.queue;
      this.queue = [];
      return out;
    }
    return this.queue.splice(0, max);
  }

  commit(committed: Array<{ partition: JsonObject; offset: JsonObject }>): void {
    const mine = committed.find((c) => c.partition.listener === this.partition.listener);
    const seq = mine?.offset.seq;
    if (typeof seq !== 'number') return;
    while (this.waiting.length > 0 && this.waiting[0].lastSeq <= seq) {
      const w = this.waiting.shift()!;
      this.uncommitted -= w.count;
      w.answer(200, { accepted: w.count });
    }
  }

  async stop(): Promise<void> {
    for (const w of this.waiting.splice(0)) w.answer(503, { error: 'The receiver stopped before these records were committed; send them again.' });
    this.queue = [];
    const server = this.server;
    this.server = null;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of this.sockets) s.destroy();
      });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    this.stats.requests++;
    const path = (req.url ?? '/').split('?')[0];
    if (path !== this.cfg['http.listener.path']) return send(404, { error: `Events go to ${this.cfg['http.listener.path']}.` });
    if (req.method !== 'POST') return send(405, { error: 'Use POST.' }, { allow: 'POST' });
    if (this.server === null) return send(503, { error: 'The receiver is stopping.' });
    let body: Buffer;
    try {
      body = await readBody(req, this.cfg['http.receiver.max.body.bytes']);
    } catch (e) {
      if ((e as Error).message === 'too large') {
        send(413, { error: `The body is larger than http.receiver.max.body.bytes (${this.cfg['http.receiver.max.body.bytes']}).` }, { connection: 'close' });
        req.destroy();
      }
      return;
    }
    const denied = this.authenticate(req, body);
    if (denied) {
      this.stats.rejected++;
      return send(401, { error: denied });
    }
    let values: unknown[];
    try {
      values = parseBody(body, this.cfg['http.receiver.format'], this.cfg['http.receiver.json.split.arrays']);
    } catch (e) {
      this.stats.rejected++;
      return send(400, { error: (e as Error).message });
    }
    if (values.length === 0) return send(200, { accepted: 0 });
    const max = this.cfg['http.receiver.buffer.max.records'];
    if (values.length > max) return send(413, { error: `One request carries ${values.length} records, more than http.receiver.buffer.max.records (${max}).` });
    if (this.uncommitted + values.length > max) {
      this.stats.throttled++;
      const retryAfter = String(this.cfg['http.receiver.retry.after.seconds']);
      return send(429, { error: 'The receiver is full; retry later.' }, { 'retry-after': retryAfter });
    }
    const now = Date.now();
    const contentType = req.headers['content-type'];
    for (const value of values) {
      this.seq++;
      this.queue.push({
        topic: this.cfg.topic,
        value,
        timestamp: now,
        headers: contentType ? [{ key: 'content-type', value: contentType }] : undefined,
        sourcePartition: this.partition,
        sourceOffset: { seq: this.seq },
      });
    }
    this.uncommitted += values.length;
    this.stats.accepted += values.length;
    const timer = setTimeout(() => {
      const i = this.waiting.indexOf(waiting);
      if (i >= 0) this.waiting.splice(i, 1);
      send(503, { error: `The records were not committed within ${this.cfg['http.receiver.ack.timeout.ms']} ms; they may still arrive. Send them again if you need them for sure.` });
    }, this.cfg['http.receiver.ack.timeout.ms']);
    const waiting: Waiting = {
      lastSeq: this.seq,
      count: values.length,
      answer: (status, b) => {
        clearTimeout(timer);
        send(status, b);
      },
    };
    this.waiting.push(waiting);
    this.wake?.();
  }

  private authenticate(req: IncomingMessage, body: Buffer): string | undefined {
    const type = this.cfg['http.receiver.auth.type'];
    if (type === 'none') return undefined;
    const secret = this.cfg['http.receiver.secret'] ?? '';
    const headerName = (this.cfg['http.receiver.auth.header'] ?? (type === 'secret' ? 'X-Webhook-Secret' : 'X-Hub-Signature-256')).toLowerCase();
    const raw = req.headers[headerName];
    const given = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!given) return `Missing the ${headerName} header.`;
    if (type === 'secret') return safeEqual(Buffer.from(given), Buffer.from(secret)) ? undefined : `Wrong ${headerName}.`;
    const mac = createHmac('sha256', secret).update(body).digest();
    const sig = given.startsWith('sha256=') ? given.slice(7) : given;
    const candidate = /^[0-9a-f]{64}$/i.test(sig) ? Buffer.from(sig, 'hex') : Buffer.from(sig, 'base64');
    return safeEqual(candidate, mac) ? undefined : `The ${headerName} signature does not match the body.`;
  }
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        reject(new Error('too large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Every value of a body, or an Error naming what does not parse (then nothing is taken). */
export function parseBody(body: Buffer, format: string, splitArrays: boolean): unknown[] {
  const text = body.toString('utf8');
  if (format === 'raw') return text.length === 0 ? [] : [text];
  if (format === 'ndjson') {
    const out: unknown[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === '') continue;
      try {
        out.push(JSON.parse(line));
      } catch (e) {
        throw new Error(`Line ${i + 1} is not JSON (${(e as Error).message}); nothing of this body was accepted.`);
      }
    }
    return out;
  }
  if (text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`The body is not JSON (${(e as Error).message}); nothing of it was accepted.`);
  }
  return splitArrays && Array.isArray(value) ? value : [value];
}
