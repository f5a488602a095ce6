import { describe, expect, it } from 'vitest';
import { TASK_ROLE, chunkJobId, chunkJobs, jobsDone, runOf, snapshotQueueName, taskConfigsFor, taskRole } from '../../../../connectors/postgres-cdc/chunk-jobs.ts';
import { postgresCdcConfig } from '../../../../connectors/postgres-cdc/config.ts';
import { PostgresCdcConnector } from '../../../../connectors/postgres-cdc/postgres-cdc-connector.ts';
import type { PlannedTable } from '../../../../connectors/postgres-cdc/parallel-snapshot.ts';
import type { CatalogTable } from '../../../../connectors/postgres-cdc/catalog.ts';
import type { ConnectorContext } from '../../../../runtime/api/index.ts';
import { silentLogger } from '../fake-context.ts';

const props = {
  'database.hostname': 'db', 'database.user': 'u', 'database.dbname': 'd', 'topic.prefix': 'p',
};

function table(schema: string, name: string): CatalogTable {
  return { schema, table: name, oid: 1, columns: [], keyColumns: ['id'], replicaIdentity: 'd', estimatedRows: 0 };
}

describe('chunk jobs: task roles', () => {
  const context: ConnectorContext = { connectorName: 'c', logger: silentLogger, requestTaskReconfiguration() {}, raiseError() {} };

  it('gives one task without redis.url, whatever tasks.max says', () => {
    const c = new PostgresCdcConnector();
    c.start(props, context);
    const configs = c.taskConfigs(4) as Array<Record<string, string>>;
    expect(configs).toHaveLength(1);
    expect(taskRole(configs[0])).toBeNull();
  });

  it('gives task 0 the main role and the others the chunk worker role with redis.url and tasks.max > 1', () => {
    const c = new PostgresCdcConnector();
    c.start({ ...props, 'redis.url': 'redis://127.0.0.1:6379' }, context);
    const configs = c.taskConfigs(3) as Array<Record<string, string>>;
    expect(configs.map(taskRole)).toEqual(['main', 'chunk-worker', 'chunk-worker']);
    expect(configs.every((t) => t['topic.prefix'] === 'p' && t['redis.url'] === 'redis://127.0.0.1:6379')).toBe(true);
  });

  it('keeps one task with tasks.max 1, or when the snapshot mode never snapshots', () => {
    const withRedis = { ...props, 'redis.url': 'redis://r:6379' };
    expect(taskConfigsFor(withRedis, 1)).toHaveLength(1);
    expect(taskConfigsFor({ ...withRedis, 'snapshot.mode': 'never' }, 3)).toHaveLength(1);
    expect(taskConfigsFor({ ...withRedis, 'snapshot.mode': 'no_data' }, 3)).toHaveLength(1);
    expect(taskConfigsFor({ ...withRedis, 'snapshot.mode': 'initial_only' }, 3)).toHaveLength(3);
    // A role left in the props (it never is, but) does not leak into the single task.
    expect(taskConfigsFor({ ...props, [TASK_ROLE]: 'chunk-worker' }, 3)[0][TASK_ROLE]).toBeUndefined();
  });

  it('rejects a redis.url that is not a redis URL as a field error', () => {
    expect(postgresCdcConfig.errors({ ...props, 'redis.url': 'http://x' }).map((e) => e.name)).toEqual(['redis.url']);
    expect(postgresCdcConfig.errors({ ...props, 'redis.url': 'not a url' }).map((e) => e.name)).toEqual(['redis.url']);
    expect(postgresCdcConfig.errors({ ...props, 'redis.url': 'rediss://user:pw@r:6380/2' })).toEqual([]);
  });
});

describe('chunk jobs: plan to jobs', () => {
  const planned: PlannedTable[] = [
    { table: table('public', 'a'), name: 'public.a', plan: { kind: 'key', bounds: [['10'], ['20']] }, count: 3, done: new Set([1]) },
    { table: table('odd:schema', 'b.c'), name: 'odd:schema.b.c', plan: { kind: 'pages', span: 8, count: 2, filenode: 5 }, count: 2, done: new Set() },
  ];

  it('makes a job per chunk not done, with its range, in table and chunk order', () => {
    const jobs = chunkJobs(planned, 'run1', 'snap-1', 1);
    expect(jobs.map((j) => j.id)).toEqual(['public.a#0', 'public.a#2', `${encodeURIComponent('odd:schema.b.c')}#0`, `${encodeURIComponent('odd:schema.b.c')}#1`]);
    expect(jobs[0].data).toEqual({ run: 'run1', snapshot: 'snap-1', generation: 1, table: 'public.a', schema: 'public', rel: 'a', index: 0, range: { kind: 'key', lo: null, hi: ['10'] } });
    expect(jobs[1].data.range).toEqual({ kind: 'key', lo: ['20'], hi: null });
    expect(jobs[3].data).toMatchObject({ schema: 'odd:schema', rel: 'b.c', range: { kind: 'pages', lo: 8, hi: null } });
  });

  it('gives deterministic ids BullMQ accepts (no colon, never an integer)', () => {
    const a = chunkJobs(planned, 'run1', 's1', 1).map((j) => j.id);
    const b = chunkJobs(planned, 'run2', 's2', 2).map((j) => j.id);
    expect(a).toEqual(b);
    for (const id of a) {
      expect(id).not.toContain(':');
      expect(Number.isInteger(Number(id))).toBe(false);
    }
    expect(chunkJobId('public.t', 3)).toBe('public.t#3');
    expect(snapshotQueueName('a:b')).not.toContain(':');
  });
});

describe('chunk jobs: offsets', () => {
  it('finds the run of a job snapshot in progress in task 0\'s offset only', () => {
    expect(runOf({ lsn: 5, snapshot: true, snapshot_done: [], snapshot_chunks: {}, snapshot_jobs: 'r1' })).toBe('r1');
    expect(runOf({ lsn: 5, snapshot: true, snapshot_done: [], snapshot_chunks: {} })).toBeNull();
    expect(runOf({ lsn: 5, snapshot_jobs: 'r1' })).toBeNull();
    expect(runOf(null)).toBeNull();
  });

  it('counts the jobs a chunk worker offset says were delivered, for this task instance only', () => {
    expect(jobsDone({ run: 'i1', jobs_done: 4 }, 'i1')).toBe(4);
    expect(jobsDone({ run: 'i0', jobs_done: 9 }, 'i1')).toBe(0);
    expect(jobsDone({ run: 'i1' }, 'i1')).toBe(0);
    expect(jobsDone(null, 'i1')).toBe(0);
  });
});
