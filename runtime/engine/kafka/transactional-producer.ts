/**
 * The producer of an exactly-once source task (KIP-618): one transactional id per task,
 * `<group.id>-<connector>-<task>` as Kafka Connect names it, so a task's successor on another
 * worker fences it.
 *
 * Unlike the pipelined producer (producer.ts) it sends one request at a time and waits for it:
 * a transaction must hold every record before it commits, and the commit is the durability point
 * anyway. Any failure fails the producer: the broker aborts the open transaction (on the next
 * `begin` of the same id at the latest), so nothing of it is ever visible, and the task restarts
 * from its last committed offsets. A fenced producer (another worker now runs the task) fails with
 * a FatalError that says so.
 */
import type { Producer } from '@platformatic/kafka';
import { FatalError, RetriableError } from '../../api/index.ts';
import type { Logger } from '../logging.ts';
import type { BusRecord, RawKafkaRecord, SendResult, TransactionalBusProducer } from '../topic-bus.ts';
import { hasProtocolError, message } from './errors.ts';
import { StickyPartitioner, lookupError, toMessage, type Message } from './producer.ts';
import type { TopicCatalog } from './topics.ts';

const FENCED = ['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'INVALID_PRODUCER_ID_MAPPING'];
const DURABLE = Promise.resolve();

type Transaction = Awaited<ReturnType<Producer['beginTransaction']>>;

export class KafkaTransactionalProducer implements TransactionalBusProducer {
  private readonly client: Producer;
  private readonly topics: TopicCatalog;
  private readonly transactionalId: string;
  private readonly logger: Logger;
  private readonly onClose: () => void;
  private readonly sticky = new StickyPartitioner();
  private tx: Transaction | undefined;
  private failure: Error | null = null;
  private closed = false;

  constructor(options: { client: Producer; topics: TopicCatalog; transactionalId: string; logger: Logger; onClose: () => void }) {
    this.client = options.client;
    this.topics = options.topics;
    this.transactionalId = options.transactionalId;
    this.logger = options.logger;
    this.onClose = options.onClose;
  }

  async begin(): Promise<void> {
    this.check();
    if (this.tx) return;
    try {
      this.tx = await this.client.beginTransaction();
    } catch (e) {
      throw this.fail(e, 'starting a transaction');
    }
  }

  async send(records: BusRecord[]): Promise<SendResult> {
    this.check();
    if (records.length === 0) return { durable: DURABLE };
    const messages: Message[] = [];
    for (const r of records) {
      let count = this.topics.partitions(r.topic);
      if (count === undefined) {
        try {
          count = await this.topics.ensure(r.topic);
        } catch (e) {
          throw lookupError(r.topic, e);
        }
      }
      messages.push(toMessage(r, count, this.sticky));
    }
    await this.begin();
    try {
      await this.tx!.send({ messages });
    } catch (e) {
      throw this.fail(e, 'sending records in a transaction');
    }
    return { durable: DURABLE };
  }

  async commit(extra: RawKafkaRecord[]): Promise<void> {
    this.check();
    if (!this.tx && extra.length === 0) return;
    await this.begin();
    try {
      if (extra.length > 0) {
        await this.tx!.send({ messages: extra.map((r) => ({ topic: r.topic, partition: r.partition, key: r.key, value: r.value ?? undefined })) as Message[] });
      }
      await this.tx!.commit();
      this.tx = undefined;
    } catch (e) {
      throw this.fail(e, 'committing a transaction');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    // An open transaction is abandoned: the broker aborts it (at once when the task's successor begins).
    if (this.tx && !this.failure) await this.tx.abort().catch(() => {});
    try {
      await this.client.close(true);
    } catch {
      // closing anyway
    }
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new FatalError(`The transactional producer ${this.transactionalId} is closed.`);
  }

  private fail(e: unknown, what: string): Error {
    const fenced = FENCED.some((code) => hasProtocolError(e, code));
    const text = fenced
      ? `Fenced while ${what}: another worker now runs this task with transactional id ${this.transactionalId} (this one is a zombie), so nothing it sends can commit.`
      : `Failed while ${what} (transactional id ${this.transactionalId}): ${message(e)}. The open transaction is aborted; the task restarts from its last committed offsets.`;
    this.failure = fenced ? new FatalError(text, { cause: e }) : new RetriableError(text, { cause: e });
    this.tx = undefined;
    this.logger.warn({ transactionalId: this.transactionalId, err: message(e) }, text);
    return this.failure;
  }
}
