/**
 * The replication connection: slot commands, then START_REPLICATION in COPY BOTH mode. Incoming
 * XLogData and keepalives queue up (pausing the socket past a high-water mark, so a slow pipeline
 * holds back the server rather than filling memory); standby status updates confirm positions.
 */
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Duplex } from 'node:stream';
import { formatLsn, readLsn, writeLsn } from './lsn.ts';
import { quoteIdent, quoteLiteral } from './connection.ts';

/** Bytes of an XLogData frame before its payload: tag, WAL start and end, send time. */
export const XLOGDATA_HEADER = 25;

/**
 * One XLogData frame (its pgoutput message starts at XLOGDATA_HEADER: no subarray per change) or
 * a keepalive.
 */
export type WalMessage =
  | { kind: 'data'; walStart: number; walEnd: number; frame: Buffer }
  | { kind: 'keepalive'; walEnd: number; replyRequested: boolean };

// Messages queued before the socket is paused, and the level it resumes at: about one poll's worth
// (max.batch.size is 2048 by default), not more. Under a backlog every queued message outlives
// V8's young generation and is copied on its way to the old one, for no throughput.
const HIGH_WATER = 2048;
const LOW_WATER = 512;

/** Microseconds between the Unix epoch and Postgres' epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;

export class ReplicationStream {
  private readonly client: pg.Client;
  private stream: Duplex | undefined;
  private readonly queue: WalMessage[] = [];
  private paused = false;
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private ended = false;

  constructor(client: pg.Client) {
    this.client = client;
  }

  async identifySystem(): Promise<{ systemId: string; timeline: number; xlogpos: string; dbname: string }> {
    const { rows } = await this.client.query('IDENTIFY_SYSTEM');
    return rows[0];
  }

  /** CREATE_REPLICATION_SLOT ... LOGICAL pgoutput; with `exportSnapshot` the snapshot stays valid until the next command on this connection. */
  async createSlot(slot: string, exportSnapshot: boolean): Promise<{ consistentPoint: string; snapshotName: string | null }> {
    const { rows } = await this.client.query(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT'}`,
    );
    return { consistentPoint: rows[0].consistent_point, snapshotName: rows[0].snapshot_name ?? null };
  }

  /** Starts streaming from `lsn` (the server starts at the slot's confirmed position when that is later). */
  start(slot: string, lsn: number, publication: string, messages: boolean): Promise<void> {
    const options = [`proto_version '1'`, `publication_names ${quoteLiteral(quoteIdent(publication))}`];
    if (messages) options.push(`messages 'true'`);
    const sql = `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${formatLsn(lsn)} (${options.join(', ')})`;
    const stream = (copyStreams as unknown as { both(text: string, options: object): Duplex }).both(sql, { alignOnCopyDataFrame: true, highWaterMark: 1 << 20 });
    this.stream = stream;
    return new Promise((resolve, reject) => {
      let started = false;
      stream.on('data', (chunk: Buffer) => {
        if (!started) {
          started = true;
          resolve();
        }
        this.onCopyData(chunk);
      });
      stream.on('error', (e: Error) => {
        this.failure = e;
        this.wake();
        if (!started) reject(e);
      });
      stream.on('end', () => {
        this.ended = true;
        this.wake();
        if (!started) reject(new Error('the server ended the replication stream at once'));
      });
      this.client.query(stream as unknown as pg.QueryConfig);
      // Buffered until the server's CopyBothResponse; asking for a reply makes it send a keepalive,
      // so the first 'data' event says the command was accepted. LSN 0 confirms nothing.
      this.sendStatus(0, true);
    });
  }

  private onCopyData(chunk: Buffer): void {
    const tag = chunk[0];
    if (tag === 0x77) { // w: XLogData
      this.queue.push({ kind: 'data', walStart: readLsn(chunk, 1), walEnd: readLsn(chunk, 9), frame: chunk });
    } else if (tag === 0x6b) { // k: primary keepalive
      this.queue.push({ kind: 'keepalive', walEnd: readLsn(chunk, 1), replyRequested: chunk[17] === 1 });
    } else {
      return;
    }
    if (!this.paused && this.queue.length >= HIGH_WATER) {
      this.paused = true;
      this.stream?.pause();
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Up to `max` messages; waits up to `waitMs` for the first one. Throws when the stream failed or ended. */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<WalMessage[]> {
    if (this.queue.length === 0 && !this.failure && !this.ended && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const onAbort = () => done();
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiter = done;
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      this.waiter = undefined;
    }
    const available = this.queue.length;
    if (available === 0) {
      if (this.failure) throw this.failure;
      if (this.ended) throw new Error('the server ended the replication stream');
      return [];
    }
    const n = Math.min(max, available);
    // Taken messages leave the queue at once (what stays is about HIGH_WATER at most, cheap to
    // move): a consumed slot left behind would keep its message and its bytes alive.
    const out = this.queue.splice(0, n);
    if (this.paused && this.queue.length <= LOW_WATER) {
      this.paused = false;
      this.stream?.resume();
    }
    return out;
  }

  /** Standby status update: everything up to `lsn` is written, flushed and applied. */
  sendStatus(lsn: number, replyRequested = false): void {
    const stream = this.stream;
    if (!stream || this.failure || this.ended || stream.writableEnded) return;
    const buf = Buffer.alloc(34);
    buf[0] = 0x72; // r
    writeLsn(buf, 1, lsn);
    writeLsn(buf, 9, lsn);
    writeLsn(buf, 17, lsn);
    buf.writeBigInt64BE(BigInt(Date.now() - PG_EPOCH_MS) * 1000n, 25);
    buf[33] = replyRequested ? 1 : 0;
    stream.write(buf);
  }

  async close(): Promise<void> {
    this.stream?.removeAllListeners('data');
    this.stream?.on('error', () => {});
    // Ending the socket is enough: the walsender exits when its client goes away.
    (this.client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await this.client.end().catch(() => {});
  }
}
