/**
 * Which topics exist and how many partitions they have, creating missing ones on first use (as
 * Kafka Connect's `topic.creation` does for source topics) with the bus's default partition count
 * and replication factor. Known topics are cached; concurrent first uses of a topic share one
 * lookup.
 */
import type { Admin } from '@platformatic/kafka';
import type { Logger } from '../logging.ts';
import { hasProtocolError, isRetriable } from './errors.ts';

export interface TopicCatalogOptions {
  admin: Admin;
  /** Partitions of topics this catalog creates; -1 = the broker's `num.partitions`. */
  defaultPartitions: number;
  /** Replication factor of topics this catalog creates; -1 = the broker's `default.replication.factor`. */
  replicationFactor: number;
  logger: Logger;
}

const VISIBLE_TIMEOUT_MS = 15_000;

export class TopicCatalog {
  private readonly o: TopicCatalogOptions;
  private readonly counts = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<number>>();

  constructor(options: TopicCatalogOptions) {
    this.o = options;
  }

  /** Partition count of a topic already looked up, else undefined. */
  partitions(topic: string): number | undefined {
    return this.counts.get(topic);
  }

  /** Partition count of `topic`, creating the topic when it does not exist. */
  ensure(topic: string): Promise<number> {
    const known = this.counts.get(topic);
    if (known !== undefined) return Promise.resolve(known);
    let lookup = this.lookups.get(topic);
    if (!lookup) {
      lookup = this.lookup(topic).finally(() => this.lookups.delete(topic));
      this.lookups.set(topic, lookup);
    }
    return lookup;
  }

  /** Re-read the partition count (partitions may have been added since it was cached). */
  async refresh(topic: string): Promise<number> {
    const n = await this.describe(topic);
    this.counts.set(topic, n);
    return n;
  }

  private async lookup(topic: string): Promise<number> {
    // Asking for a missing topic's metadata is retried by the client for seconds; ask the list first.
    const names = await this.o.admin.listTopics();
    if (names.includes(topic)) return this.refresh(topic);
    try {
      await this.o.admin.createTopics({ topics: [topic], partitions: this.o.defaultPartitions, replicas: this.o.replicationFactor });
      this.o.logger.info({ topic, partitions: this.o.defaultPartitions, replicationFactor: this.o.replicationFactor }, 'created topic');
    } catch (e) {
      if (!hasProtocolError(e, 'TOPIC_ALREADY_EXISTS')) throw e;
    }
    // A new topic's partitions need a moment to get leaders everywhere.
    const deadline = Date.now() + VISIBLE_TIMEOUT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.refresh(topic);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * attempt, 500)));
      }
    }
  }

  private async describe(topic: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const md = await this.o.admin.metadata({ topics: [topic], forceUpdate: true });
        const t = md.topics.get(topic);
        if (!t) throw new Error(`Topic ${topic} is not in the cluster metadata.`);
        if (t.partitions.some((p) => p === undefined || p.leader < 0)) throw new Error(`Topic ${topic} has partitions without a leader.`);
        return t.partitionsCount;
      } catch (e) {
        if (attempt >= 3 || !isRetriable(e)) throw e;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }
}
