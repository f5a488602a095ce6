/**
 * Forwarding a write to the group leader (distributed mode), as Kafka Connect does: the follower
 * that got the request sends the same method, path, query and body to the leader's REST URL with
 * the caller's credentials, and answers with the leader's response. The forwarded request carries
 * `FORWARDED_HEADER`, so a worker that is not the leader either (leadership moved meanwhile)
 * answers 409 instead of forwarding again.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.ts';

export const FORWARDED_HEADER = 'x-tributary-forwarded';
const FORWARD_TIMEOUT_MS = 60_000;

export function wasForwarded(request: FastifyRequest): boolean {
  return request.headers[FORWARDED_HEADER] !== undefined;
}

export async function forwardToLeader(request: FastifyRequest, reply: FastifyReply, leaderUrl: string): Promise<void> {
  const target = new URL(request.url, leaderUrl.endsWith('/') ? leaderUrl : `${leaderUrl}/`);
  const headers: Record<string, string> = { [FORWARDED_HEADER]: '1', accept: 'application/json' };
  if (request.headers.authorization) headers.authorization = request.headers.authorization;
  let body: string | undefined;
  if (request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD') {
    body = JSON.stringify(request.body);
    headers['content-type'] = 'application/json';
  }
  try {
    const res = await fetch(target, { method: request.method, headers, body, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) });
    const text = await res.text();
    void reply.code(res.status);
    const type = res.headers.get('content-type');
    if (type) void reply.type(type);
    await reply.send(text.length > 0 ? text : undefined);
  } catch (e) {
    await reply.code(409).type('application/json; charset=utf-8').send(errorBody(409, `Cannot complete the request: forwarding it to the leader at ${leaderUrl} failed (${(e as Error).message}). A rebalance may be in progress; retry.`));
  }
}
