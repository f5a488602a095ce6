/**
 * Error mapping: every error response is Kafka Connect's `{"error_code": <status>, "message": "..."}`.
 *
 * | thrown                         | status                  | message                          |
 * |--------------------------------|-------------------------|----------------------------------|
 * | NotLeaderError (distributed)   | the leader's answer     | forwarded to the leader's URL    |
 * | HerderError                    | its status              | its message                      |
 * | ConfigError (runtime/api)      | 400                     | names every bad field            |
 * | Fastify client errors (4xx)    | theirs (415, 413, ...)  | theirs                           |
 * | anything else                  | 500                     | the message, never a stack       |
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../api/errors.ts';
import { HerderError, NotLeaderError } from '../cluster/herder.ts';
import type { Logger } from '../engine/logging.ts';
import { forwardToLeader, wasForwarded } from './forward.ts';
import { parseJson } from './json.ts';

export interface ErrorBody {
  error_code: number;
  message: string;
}

export function errorBody(status: number, message: string): ErrorBody {
  return { error_code: status, message };
}

/** A 400 for a request the REST layer itself rejects (before the Herder sees it). */
export function badRequest(message: string): HerderError {
  return HerderError.badRequest(message);
}

/** Connect's wording, with each field on its own line so a user can fix them all in one go. */
export function configErrorMessage(err: ConfigError): string {
  if (err.fields.length === 0) return err.message;
  const lines = err.fields.map((f) => `${f.name}: ${f.message}`);
  return `Connector configuration is invalid and contains the following ${err.fields.length} error(s):\n${lines.join('\n')}`;
}

export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof HerderError) return errorBody(err.status, err.message);
  if (err instanceof ConfigError) return errorBody(400, configErrorMessage(err));
  const code = (err as Partial<FastifyError> | null)?.code;
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    // Only JSON is accepted, which also keeps cross-site form posts (no preflight) from reaching the API.
    return errorBody(415, 'Unsupported Content-Type: send a JSON body with "Content-Type: application/json".');
  }
  const fastifyStatus = (err as Partial<FastifyError> | null)?.statusCode;
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500 && code?.startsWith('FST_')) {
    return errorBody(fastifyStatus, (err as Error).message);
  }
  const message = err instanceof Error ? err.message || err.name : String(err);
  return errorBody(500, message || 'Internal server error');
}

export function errorHandler(log: Logger) {
  return async (err: unknown, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // Distributed mode: a write that reached a follower goes on to the leader (once).
    if (err instanceof NotLeaderError && err.leaderUrl && !wasForwarded(request)) {
      await forwardToLeader(request, reply, err.leaderUrl);
      return;
    }
    const body = toErrorBody(err);
    if (body.error_code >= 500) {
      log.error({ err, method: request.method, url: request.routeOptions.url ?? request.url }, 'REST request failed');
    }
    await reply.code(body.error_code).type('application/json; charset=utf-8').send(body);
  };
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const path = request.url.split('?')[0];
  void reply.code(404).send(errorBody(404, `Unknown endpoint: ${request.method} ${path}`));
}

/** JSON bodies parsed by us, so that a malformed one gets a 400 saying what is wrong and where. */
export function parseJsonBody(_request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void): void {
  if (body.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    done(null, parseJson(body));
  } catch (e) {
    done(badRequest(`Request body is not valid JSON: ${(e as Error).message}`));
  }
}
