/**
 * `/admin/loggers`: Kafka Connect's LoggingResource over the process's level registry.
 * `?scope=worker` (the default) changes this worker and answers 200 with the loggers affected;
 * `?scope=cluster` asks the Herder to change every worker when it can (answers 204).
 */
import type { FastifyInstance } from 'fastify';
import { HerderError } from '../../cluster/herder.ts';
import type { Herder } from '../../cluster/herder.ts';
import { CONNECT_LEVELS, parseLevel } from '../../engine/logging.ts';
import type { ConnectLevel, LoggerLevels } from '../../engine/logging.ts';

/** Optional Herder capability: apply a level on every worker of the cluster (Connect's setClusterLoggerLevel). */
export interface ClusterLoggerLevels {
  setClusterLoggerLevel(namespace: string, level: ConnectLevel): Promise<void>;
}

interface NamedLogger {
  Params: { logger: string };
}

export async function loggerRoutes(app: FastifyInstance, options: { herder: Herder; levels: LoggerLevels }): Promise<void> {
  const { levels } = options;
  const cluster = options.herder as Herder & Partial<ClusterLoggerLevels>;

  app.get('/admin/loggers', async () => levels.list());

  app.get<NamedLogger>('/admin/loggers/:logger', async (request) => {
    const level = levels.get(request.params.logger);
    if (!level) throw HerderError.notFound(`Logger ${request.params.logger} not found.`);
    return level;
  });

  app.put<NamedLogger & { Querystring: { scope?: string } }>('/admin/loggers/:logger', async (request, reply) => {
    const body = request.body as { level?: unknown } | undefined;
    if (typeof body !== 'object' || body === null || body.level === undefined || body.level === null) {
      throw HerderError.badRequest(`Desired 'level' parameter was not specified in request: send {"level": "DEBUG"} (one of ${CONNECT_LEVELS.join(', ')}).`);
    }
    const level = typeof body.level === 'string' ? parseLevel(body.level) : undefined;
    if (!level) throw HerderError.badRequest(`Invalid log level ${JSON.stringify(body.level)}: use one of ${CONNECT_LEVELS.join(', ')}.`);
    const namespace = request.params.logger;
    // Connect treats an unknown scope as worker (with a warning).
    if ((request.query.scope ?? 'worker').toLowerCase() === 'cluster') {
      if (typeof cluster.setClusterLoggerLevel === 'function') await cluster.setClusterLoggerLevel(namespace, level);
      else levels.set(namespace, level);
      return reply.code(204).send();
    }
    return levels.set(namespace, level);
  });
}
