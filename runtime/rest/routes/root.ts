/** `GET /` (Kafka Connect's RootResource) and Tributary's `/metrics`. `/health` is in app.ts: it skips auth. */
import type { FastifyInstance } from 'fastify';
import { HerderError } from '../../cluster/herder.ts';
import type { Herder } from '../../cluster/herder.ts';

/** Where `/metrics` text comes from (a prom-client Registry fits: `{contentType, metrics()}`). */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

export async function rootRoutes(app: FastifyInstance, options: { herder: Herder; metrics?: MetricsSource }): Promise<void> {
  const { herder, metrics } = options;

  app.get('/', async () => herder.serverInfo());

  app.get('/metrics', async (_request, reply) => {
    if (!metrics) throw HerderError.notFound('Metrics are not enabled on this worker.');
    const text = await metrics.metrics();
    return reply.type(metrics.contentType).send(text);
  });
}
