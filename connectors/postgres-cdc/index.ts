/** Postgres change data capture: a pgoutput logical replication stream (after an optional snapshot) as Debezium-shaped change events. */
import { defineSourceConnector, lazySourceTask } from '../../runtime/api/index.ts';
import type { ConnectorPlugin } from '../../runtime/api/index.ts';
import { postgresCdcConfig, unsupportedKeys } from './config.ts';
import { PostgresCdcConnector } from './postgres-cdc-connector.ts';

export const postgresCdcSource = defineSourceConnector({
  className: 'io.tributary.connect.postgres.PostgresCdcConnector',
  aliases: ['io.debezium.connector.postgresql.PostgresConnector', 'PostgresConnector', 'postgres-cdc'],
  version: '0.1.0',
  description: 'Streams row changes from Postgres through a pgoutput replication slot, after an optional consistent snapshot, as Debezium-compatible change events.',
  config: postgresCdcConfig,
  validate: (config) => unsupportedKeys(config),
  async onDelete(config, logger) {
    const cfg = postgresCdcConfig.parse(config);
    const redisUrl = cfg['redis.url'];
    if (redisUrl && config.name) {
      // The chunk jobs of a snapshot interrupted by the deletion (none once a snapshot finished).
      const { SnapshotJobQueue } = await import('./chunk-queue.ts');
      const queue = new SnapshotJobQueue(redisUrl, config.name, logger);
      await queue.cleanup().catch((e: Error) => logger.warn({ err: e.message }, 'could not drop the snapshot chunk jobs'));
      await queue.close().catch(() => {});
    }
    if (!cfg['slot.drop.on.delete']) return;
    const { dropSlot } = await import('./connection.ts');
    await dropSlot(cfg, logger, 'slot.drop.on.delete');
  },
  createConnector: () => new PostgresCdcConnector(),
  // pg and the replication code load with the first task, not with every worker.
  createTask: () => lazySourceTask(async () => new (await import('./role-task.ts')).PostgresCdcRoleTask()),
});

export const plugins: ConnectorPlugin[] = [postgresCdcSource];

export { postgresCdcConfig, PostgresCdcConnector };
