/** Reading @platformatic/kafka's errors: protocol error ids and retriability across wrapped errors. */

interface ErrorLike {
  findBy?: (property: string, value: unknown) => unknown;
  errors?: unknown[];
  response?: unknown;
}

/** Whether the error (or any error it wraps) is the Kafka protocol error `id`, e.g. `TOPIC_ALREADY_EXISTS`. */
export function hasProtocolError(error: unknown, id: string): boolean {
  const e = error as ErrorLike | null;
  return typeof e?.findBy === 'function' && e.findBy('apiId', id) != null;
}

/** Whether the client considers every error in the chain retriable. */
export function isRetriable(error: unknown): boolean {
  const e = error as ErrorLike | null;
  if (typeof e?.findBy !== 'function') return false;
  return e.findBy('canRetry', false) == null;
}

/**
 * The parsed response a response error carries (partial errors, e.g. one fetch partition out of
 * range), from the latest attempt when the client retried.
 */
export function errorResponse<T>(error: unknown, has: (r: any) => boolean): T | undefined {
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  let found: T | undefined;
  while (stack.length > 0) {
    const e = stack.pop() as ErrorLike | null;
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    if (found === undefined && e.response && has(e.response)) found = e.response as T;
    if (Array.isArray(e.errors)) stack.push(...e.errors);
  }
  return found;
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
