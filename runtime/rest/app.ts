/**
 * The REST API: Kafka Connect's paths, status codes and JSON shapes over the Herder, plus
 * authentication, `/metrics`, `/health` and a dashboard at `/ui`.
 *
 * `buildApp` makes the Fastify instance (tested with `app.inject()`); `listen` binds it, after
 * `assertSafeBinding` refused an unauthenticated non-loopback address.
 */
import { fastify, LogController } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Herder } from '../cluster/herder.ts';
import { getLogger, loggerLevels, untrackedChild } from '../engine/logging.ts';
import type { Logger, LoggerLevels } from '../engine/logging.ts';
import { assertSafeBinding, authenticator, challenge } from './auth.ts';
import type { AuthOptions } from './auth.ts';
import { errorBody, errorHandler, notFoundHandler, parseJsonBody } from './errors.ts';
import { connectorRoutes } from './routes/connectors.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { loggerRoutes } from './routes/loggers.ts';
import { pluginRoutes } from './routes/plugins.ts';
import { rootRoutes } from './routes/root.ts';
import type { MetricsSource } from './routes/root.ts';

export interface RestOptions {
  herder: Herder;
  /** This worker's id (`host:port`), on the REST logger's lines. */
  workerId: string;
  metrics?: MetricsSource;
  auth?: AuthOptions;
  /** Default: `getLogger('tributary.rest')`. */
  logger?: Logger;
  /** The level registry behind `/admin/loggers`; default the process's. */
  loggerLevels?: LoggerLevels;
  /** A Herder call taking longer answers 500 "Request timed out" (Connect: 90 s). */
  requestTimeoutMs?: number;
  /** Largest accepted request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Connect's `topic.tracking.enable` and `topic.tracking.allow.reset`; both default true. */
  topicTracking?: { enabled?: boolean; allowReset?: boolean };
}

const DEFAULT_REQUEST_TIMEOUT_MS = 90_000;

/** Request lines at debug only (the API is polled; info would flood), and never with bodies. */
class DebugRequestLogs extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!(request.log as Logger).isLevelEnabled('debug')) return;
    const line = { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    request.log.debug(error ? { ...line, err: error.message } : line, 'REST request');
  }

  override routeNotFound(): void {}
}

/**
 * Every Herder call races a timer, so a stuck control plane answers 500 instead of holding the
 * connection forever (Kafka Connect's REQUEST_TIMEOUT_MS).
 */
function timeboxed(herder: Herder, ms: number): Herder {
  return new Proxy(herder, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`Request timed out: the worker did not answer ${String(prop)} within ${ms} ms.`)), ms);
        });
        return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
      };
    },
  });
}

function noSchemas(): never {
  throw new Error('REST routes do not use JSON schemas (Fastify\'s schema compilers are not loaded); validate in the handler.');
}

export function buildApp(options: RestOptions): FastifyInstance {
  const logger = (options.logger ?? getLogger('tributary.rest')).child({ worker: options.workerId });
  const levels = options.loggerLevels ?? loggerLevels;
  const herder = timeboxed(options.herder, options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const auth = options.auth ?? { type: 'none' };
  const allowed = authenticator(auth);

  const app = fastify({
    loggerInstance: logger,
    logController: new DebugRequestLogs(),
    childLoggerFactory: (parent, bindings) => untrackedChild(parent as Logger, bindings),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    // Connect has no request-id header; ours are only for debug lines.
    requestIdHeader: false,
    // No route declares a JSON schema (bodies are checked by the herder, with Connect's messages),
    // so Fastify's default compilers (Ajv twice, fast-json-stringify: ~480 modules, a fifth of
    // the worker's start-up) are never needed; these refuse a schema instead of loading them.
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
  }) as unknown as FastifyInstance;

  // JSON only (Fastify's text/plain parser goes too): a cross-site form post, which needs no
  // preflight, can then never reach a handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  app.setErrorHandler(errorHandler(logger));
  app.setNotFoundHandler(notFoundHandler);

  // Open: load balancers and orchestrators probe it without credentials. As in Kafka Connect
  // (KIP-1017), 503 until the worker can serve requests (distributed: it has joined the group).
  app.get('/health', async (_request, reply) => {
    let health: { ready: boolean; message: string };
    try {
      health = options.herder.health?.() ?? { ready: true, message: 'Worker is ready.' };
    } catch (e) {
      health = { ready: false, message: (e as Error).message };
    }
    if (!health.ready) return reply.code(503).send({ status: 'starting', message: health.message });
    return { status: 'ok', message: health.message };
  });
  void app.register(dashboardRoutes);

  void app.register(async (secured) => {
    if (auth.type !== 'none') {
      const wwwAuthenticate = challenge(auth);
      secured.addHook('onRequest', async (request, reply) => {
        if (allowed(request.headers.authorization)) return;
        const message = request.headers.authorization ? 'Invalid credentials.' : `Authentication required (${auth.type}).`;
        return reply.code(401).header('www-authenticate', wwwAuthenticate).send(errorBody(401, message));
      });
    }
    await secured.register(rootRoutes, { herder, metrics: options.metrics });
    await secured.register(connectorRoutes, { herder, topicTracking: options.topicTracking });
    await secured.register(pluginRoutes, { herder });
    await secured.register(loggerRoutes, { herder, levels });
  });

  return app;
}

/** Bind the app; refuses an unauthenticated non-loopback address (see `assertSafeBinding`). Returns the URL. */
export async function listen(app: FastifyInstance, options: { host: string; port: number; auth?: AuthOptions }): Promise<string> {
  assertSafeBinding(options.host, options.auth);
  return app.listen({ host: options.host, port: options.port });
}
