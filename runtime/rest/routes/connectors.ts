/** `/connectors/...`: Kafka Connect's ConnectorsResource, path for path, status for status. */
import type { FastifyInstance } from 'fastify';
import { HerderError } from '../../cluster/herder.ts';
import type { ConnectorInfo, ConnectorStateInfo, Herder } from '../../cluster/herder.ts';
import { configPatch, connectorConfig, createConnectorRequest, offsetsRequest, queryFlag, queryList, signalRequest, withName } from '../body.ts';

export interface ConnectorRoutesOptions {
  herder: Herder;
  /** Connect's topic.tracking.enable (default true) and topic.tracking.allow.reset (default true). */
  topicTracking?: { enabled?: boolean; allowReset?: boolean };
}

interface Named {
  Params: { name: string };
}

interface NamedTask {
  Params: { name: string; task: string };
}

function location(name: string): string {
  return `/connectors/${encodeURIComponent(name)}`;
}

/** Connect answers 404 for a task id that is not an integer (Jersey cannot bind the path parameter). */
function taskId(name: string, raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw HerderError.notFound(`Task ${raw} of connector ${name} not found: task ids are non-negative integers.`);
  return Number(raw);
}

export async function connectorRoutes(app: FastifyInstance, options: ConnectorRoutesOptions): Promise<void> {
  const { herder } = options;
  const trackingEnabled = options.topicTracking?.enabled ?? true;
  const trackingReset = options.topicTracking?.allowReset ?? true;

  app.get<{ Querystring: { expand?: string | string[] } }>('/connectors', async (request) => {
    const names = await herder.connectors();
    if (request.query.expand === undefined) return names;
    const expansions = queryList(request.query.expand);
    const out: Record<string, { status?: ConnectorStateInfo; info?: ConnectorInfo }> = {};
    const entries = await Promise.all(
      names.map(async (name) => {
        try {
          const entry: { status?: ConnectorStateInfo; info?: ConnectorInfo } = {};
          for (const expansion of expansions) {
            if (expansion === 'status') entry.status = await herder.connectorStatus(name);
            else if (expansion === 'info') entry.info = await herder.connectorInfo(name);
          }
          return [name, entry] as const;
        } catch (err) {
          // Deleted while we looked it up: leave it out, as Connect does.
          if (err instanceof HerderError && err.status === 404) return undefined;
          throw err;
        }
      }),
    );
    for (const e of entries) if (e) out[e[0]] = e[1];
    return out;
  });

  app.post('/connectors', async (request, reply) => {
    const req = createConnectorRequest(request.body);
    const { info } = await herder.putConnectorConfig(req.name, req.config, { allowReplace: false, initialState: req.initialState });
    return reply.code(201).header('location', location(req.name)).send(info);
  });

  app.get<Named>('/connectors/:name', async (request) => herder.connectorInfo(request.params.name));

  app.delete<Named>('/connectors/:name', async (request, reply) => {
    await herder.deleteConnector(request.params.name);
    return reply.code(204).send();
  });

  app.get<Named>('/connectors/:name/config', async (request) => herder.connectorConfig(request.params.name));

  app.put<Named>('/connectors/:name/config', async (request, reply) => {
    const { name } = request.params;
    const config = withName(name, connectorConfig(request.body));
    const { created, info } = await herder.putConnectorConfig(name, config, { allowReplace: true });
    if (created) reply.code(201).header('location', location(name));
    return reply.send(info);
  });

  app.patch<Named>('/connectors/:name/config', async (request) => {
    const { name } = request.params;
    const patch = configPatch(request.body);
    if ('name' in patch && patch.name !== name) {
      throw HerderError.badRequest(
        patch.name === null
          ? 'Connector name configuration cannot be removed.'
          : `Connector name configuration (${patch.name}) doesn't match connector name in the URL (${name})`,
      );
    }
    return herder.patchConnectorConfig(name, patch);
  });

  app.get<Named>('/connectors/:name/status', async (request) => herder.connectorStatus(request.params.name));

  app.get<Named>('/connectors/:name/tasks', async (request) => herder.taskConfigs(request.params.name));

  app.get<NamedTask>('/connectors/:name/tasks/:task/status', async (request) => {
    const { name, task } = request.params;
    return herder.taskStatus(name, taskId(name, task));
  });

  app.post<NamedTask>('/connectors/:name/tasks/:task/restart', async (request, reply) => {
    const { name, task } = request.params;
    await herder.restartTask(name, taskId(name, task));
    return reply.code(204).send();
  });

  app.put<Named>('/connectors/:name/pause', async (request, reply) => {
    await herder.pauseConnector(request.params.name);
    return reply.code(202).send();
  });

  app.put<Named>('/connectors/:name/resume', async (request, reply) => {
    await herder.resumeConnector(request.params.name);
    return reply.code(202).send();
  });

  // Connect answers 204 here (not 202 like pause and resume): the stop has completed.
  app.put<Named>('/connectors/:name/stop', async (request, reply) => {
    await herder.stopConnector(request.params.name);
    return reply.code(204).send();
  });

  app.post<Named & { Querystring: { includeTasks?: string; onlyFailed?: string } }>('/connectors/:name/restart', async (request, reply) => {
    const { name } = request.params;
    const includeTasks = queryFlag(request.query.includeTasks);
    const onlyFailed = queryFlag(request.query.onlyFailed);
    const status = await herder.restartConnector(name, { includeTasks, onlyFailed });
    if (!includeTasks && !onlyFailed) return reply.code(204).send();
    return reply.code(202).send(status ?? (await herder.connectorStatus(name)));
  });

  // Tributary addition: signals to a connector's tasks (Debezium's signal shape), e.g. a backfill.
  app.post<Named & { Body: unknown }>('/connectors/:name/signals', async (request, reply) => {
    const result = await herder.signalConnector(request.params.name, signalRequest(request.body));
    return reply.code(202).send(result);
  });

  app.get<Named>('/connectors/:name/topics', async (request) => {
    if (!trackingEnabled) throw new HerderError(403, 'Topic tracking is disabled.');
    return herder.connectorTopics(request.params.name);
  });

  app.put<Named>('/connectors/:name/topics/reset', async (request, reply) => {
    if (!trackingEnabled) throw new HerderError(403, 'Topic tracking is disabled.');
    if (!trackingReset) throw new HerderError(403, 'Topic tracking reset is disabled.');
    await herder.resetConnectorTopics(request.params.name);
    return reply.code(202).send();
  });

  app.get<Named>('/connectors/:name/offsets', async (request) => herder.connectorOffsets(request.params.name));

  app.patch<Named>('/connectors/:name/offsets', async (request) => {
    const offsets = offsetsRequest(request.body);
    return herder.alterConnectorOffsets(request.params.name, offsets);
  });

  app.delete<Named>('/connectors/:name/offsets', async (request) => herder.resetConnectorOffsets(request.params.name));
}
