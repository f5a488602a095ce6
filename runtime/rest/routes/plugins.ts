/** `/connector-plugins`: Kafka Connect's ConnectorPluginsResource. */
import type { FastifyInstance } from 'fastify';
import type { Herder } from '../../cluster/herder.ts';
import { connectorConfig } from '../body.ts';

interface Plugin {
  Params: { plugin: string };
}

export async function pluginRoutes(app: FastifyInstance, options: { herder: Herder }): Promise<void> {
  const { herder } = options;

  // connectorsOnly defaults to true; only an explicit "false" lists transforms, predicates and converters.
  app.get<{ Querystring: { connectorsOnly?: string } }>('/connector-plugins', async (request) => {
    const raw = request.query.connectorsOnly;
    const connectorsOnly = !(typeof raw === 'string' && raw.toLowerCase() === 'false');
    return herder.plugins({ connectorsOnly });
  });

  app.get<Plugin>('/connector-plugins/:plugin/config', async (request) => herder.pluginConfig(request.params.plugin));

  // The Herder resolves aliases, so it (not REST) checks that a `connector.class` in the body names this plugin.
  app.put<Plugin>('/connector-plugins/:plugin/config/validate', async (request) =>
    herder.validateConnectorConfig(request.params.plugin, connectorConfig(request.body)),
  );
}
