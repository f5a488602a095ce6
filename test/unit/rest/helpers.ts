import type { FastifyInstance, InjectOptions } from 'fastify';
import { configureLogging, getLogger } from '../../../runtime/engine/logging.ts';
import { buildApp } from '../../../runtime/rest/index.ts';
import type { RestOptions } from '../../../runtime/rest/index.ts';
import { DEMO_SOURCE, MemoryHerder } from './memory-herder.ts';

/** Log lines written while tests run, instead of stdout. */
export const logLines: string[] = [];
configureLogging({ destination: { write: (l) => void logLines.push(l) }, format: 'json' });

export function setup(options: Partial<RestOptions> = {}): { app: FastifyInstance; herder: MemoryHerder } {
  const herder = (options.herder as MemoryHerder | undefined) ?? new MemoryHerder();
  const app = buildApp({ workerId: 'worker-1:8083', logger: getLogger('test.rest'), ...options, herder });
  return { app, herder };
}

export async function call(app: FastifyInstance, method: InjectOptions['method'], url: string, payload?: unknown, headers: Record<string, string> = {}) {
  const res = await app.inject({ method, url, payload: payload as InjectOptions['payload'], headers });
  let body: unknown;
  try {
    body = res.body === '' ? undefined : JSON.parse(res.body);
  } catch {
    body = res.body;
  }
  return { status: res.statusCode, headers: res.headers, body: body as any, raw: res.body };
}

export function demoConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { 'connector.class': DEMO_SOURCE, topic: 'events', 'tasks.max': '2', ...extra };
}

/** Assert the Connect error shape exactly: two keys, a number and a string. */
export function isErrorBody(body: unknown, status: number): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const keys = Object.keys(body).sort();
  const b = body as { error_code: unknown; message: unknown };
  return keys.join(',') === 'error_code,message' && b.error_code === status && typeof b.message === 'string' && b.message.length > 0;
}
