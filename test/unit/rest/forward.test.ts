import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { NotLeaderError } from '../../../runtime/cluster/herder.ts';
import { listen } from '../../../runtime/rest/index.ts';
import { call, setup } from './helpers.ts';
import { MemoryHerder } from './memory-herder.ts';

/** A follower: every write throws NotLeaderError pointing at `leaderUrl`. */
function follower(leaderUrl: string): MemoryHerder {
  const herder = new MemoryHerder();
  const notLeader = async () => {
    throw new NotLeaderError(leaderUrl);
  };
  Object.assign(herder, { putConnectorConfig: notLeader, pauseConnector: notLeader, deleteConnector: notLeader });
  return herder;
}

describe('forwarding writes to the leader (distributed mode)', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  async function leader(auth?: { type: 'bearer'; tokens: string[] }): Promise<{ url: string; herder: MemoryHerder }> {
    const { app, herder } = setup(auth ? { auth } : {});
    apps.push(app);
    const url = await listen(app, { host: '127.0.0.1', port: 0, auth });
    return { url, herder };
  }

  it('sends the same method, path, query and body to the leader and answers with its response', async () => {
    const lead = await leader();
    const { app } = setup({ herder: follower(lead.url) });
    apps.push(app);
    const created = await call(app, 'POST', '/connectors', { name: 'orders', config: { 'connector.class': 'DemoSource', topic: 't' } });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe('orders');
    // The leader's herder did the write.
    expect(lead.herder.connectorsByName.has('orders')).toBe(true);
    expect((await call(app, 'PUT', '/connectors/orders/pause')).status).toBe(202);
    expect((await lead.herder.connectorStatus('orders')).connector.state).toBe('PAUSED');
    // The leader's errors come back as they are.
    const missing = await call(app, 'DELETE', '/connectors/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error_code: 404, message: 'Connector nope not found' });
  });

  it('passes the caller\'s credentials on', async () => {
    const lead = await leader({ type: 'bearer', tokens: ['s3cret'] });
    const { app } = setup({ herder: follower(lead.url), auth: { type: 'bearer', tokens: ['s3cret'] } });
    apps.push(app);
    const res = await call(app, 'POST', '/connectors', { name: 'x', config: { 'connector.class': 'DemoSource', topic: 't' } }, { authorization: 'Bearer s3cret' });
    expect(res.status).toBe(201);
  });

  it('answers 409 instead of forwarding twice, and 409 when the leader cannot be reached', async () => {
    const { app } = setup({ herder: follower('http://127.0.0.1:1') });
    apps.push(app);
    const again = await call(app, 'POST', '/connectors', { name: 'x', config: {} }, { 'x-tributary-forwarded': '1' });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('not the leader');
    const unreachable = await call(app, 'POST', '/connectors', { name: 'x', config: {} });
    expect(unreachable.status).toBe(409);
    expect(unreachable.body.message).toContain('forwarding it to the leader at http://127.0.0.1:1 failed');
  });
});
