import { custom, defineConfig, listOf, oneOf, range, url } from '../../runtime/api/index.ts';
import { Allowlist } from './allowlist.ts';
import { UrlTemplate } from './template.ts';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A URL template whose host is checked against `allowedKey` when that list is set. */
export function urlTemplateValidator(allowedKey: string) {
  return custom<string>((v, all) => {
    let t: UrlTemplate;
    try {
      t = UrlTemplate.parse(v);
    } catch (e) {
      return (e as Error).message;
    }
    return hostAllowedMessage(t.origin, all[allowedKey], allowedKey);
  }, 'an http(s) URL; ${topic}, ${partition}, ${offset}, ${key}, ${key.<field>}, ${value.<field>} in the path or query');
}

export function hostAllowedMessage(origin: string, allowed: unknown, allowedKey: string): string | undefined {
  if (!Array.isArray(allowed) || allowed.length === 0) return undefined;
  let list: Allowlist;
  try {
    list = new Allowlist(allowed as string[]);
  } catch {
    return undefined; // the allowlist's own field reports it
  }
  const host = new URL(origin).hostname;
  return list.precheck(host) === false ? `The host ${host} is not in ${allowedKey} (${(allowed as string[]).join(', ')}). Add it there or call another address.` : undefined;
}

export const allowlistValidator = listOf(custom<string>((v) => Allowlist.check(v), 'host names, *.wildcards, IPs or CIDR ranges'));

export const headerListValidator = listOf(
  custom<string>((v) => {
    const colon = v.indexOf(':');
    if (colon <= 0) return 'Expected Name:value.';
    return HEADER_NAME.test(v.slice(0, colon).trim()) ? undefined : `"${v.slice(0, colon)}" is not a valid header name.`;
  }, 'Name:value entries'),
);

export const AUTH_TYPES = ['none', 'static', 'basic', 'bearer'] as const;

export const httpSinkConfig = defineConfig({
  'http.url': {
    type: 'string',
    doc: 'Where to send records. May hold placeholders in its path and query: ${topic}, ${partition}, ${offset}, ${key}, ${key.<field>}, ${value.<field>} (URL-encoded per record; with batching, records go in one request only when their URLs are equal).',
    importance: 'high',
    validate: urlTemplateValidator('http.allowed.hosts'),
  },
  'http.method': {
    type: 'string',
    default: 'POST',
    doc: 'The HTTP method of each request.',
    importance: 'medium',
    validate: oneOf(['POST', 'PUT', 'PATCH'], { caseInsensitive: true }),
  },
  'http.authorization.type': {
    type: 'string',
    default: 'none',
    doc: '`none`; `static`: send http.headers.authorization as the Authorization header (or the header named by http.authorization.header; use ${env:...} or ${file:...} to take it from a config provider); `basic`: http.auth.username and http.auth.password; `bearer`: http.auth.token.',
    importance: 'high',
    validate: custom<string>((v, all) => {
      if (!(AUTH_TYPES as readonly string[]).includes(v)) return `Must be one of ${AUTH_TYPES.join(', ')}${v === 'oauth2' || v === 'apikey' ? ` (${v} is not supported yet)` : ''}.`;
      if (v === 'static' && !all['http.headers.authorization']) return 'static authorization needs http.headers.authorization.';
      if (v === 'basic' && (!all['http.auth.username'] || all['http.auth.password'] == null)) return 'basic authorization needs http.auth.username and http.auth.password.';
      if (v === 'bearer' && !all['http.auth.token']) return 'bearer authorization needs http.auth.token.';
      return undefined;
    }, `[${AUTH_TYPES.join(', ')}]`),
  },
  'http.headers.authorization': {
    type: 'password',
    default: null,
    doc: 'The header value sent with http.authorization.type=static, e.g. `Bearer abc` or an API key.',
    importance: 'medium',
  },
  'http.authorization.header': {
    type: 'string',
    default: 'Authorization',
    doc: 'The header that carries http.headers.authorization with static authorization (e.g. X-API-Key).',
    importance: 'low',
    validate: custom<string>((v) => (HEADER_NAME.test(v) ? undefined : 'Not a valid header name.')),
  },
  'http.auth.username': { type: 'string', default: null, doc: 'User name for basic authorization.', importance: 'medium' },
  'http.auth.password': { type: 'password', default: null, doc: 'Password for basic authorization.', importance: 'medium' },
  'http.auth.token': { type: 'password', default: null, doc: 'Token for bearer authorization (sent as `Authorization: Bearer <token>`).', importance: 'medium' },
  'http.headers.content.type': {
    type: 'string',
    default: null,
    doc: 'The Content-Type of requests. By default application/json for single records and JSON arrays, application/x-ndjson for line batches, text/plain for string values sent one by one.',
    importance: 'low',
  },
  'http.headers.additional': {
    type: 'list',
    default: [],
    doc: 'More headers, as a comma-separated list of Name:value.',
    importance: 'low',
    validate: headerListValidator,
  },
  'http.timeout': {
    type: 'int',
    default: 30,
    doc: 'Seconds one request may take, from connecting to the end of the response; a timeout is retried.',
    importance: 'medium',
    validate: range(1, 86_400),
  },
  'http.max.concurrency': {
    type: 'int',
    default: 1,
    doc: 'Requests in flight at once per task. Above 1, records of one put may arrive out of order (and a retried request may follow newer ones).',
    importance: 'medium',
    validate: range(1, 1024),
  },
  'http.rate.limit': {
    type: 'double',
    default: 0,
    doc: 'Most requests per second per task; 0 means no limit.',
    importance: 'low',
    validate: range(0),
  },
  'http.allowed.hosts': {
    type: 'list',
    default: [],
    doc: 'When set, the only hosts this connector may call: names, *.wildcards, IP addresses or CIDR ranges. Names resolving outside the listed ranges are refused at connect time.',
    importance: 'medium',
    validate: allowlistValidator,
  },
  'batching.enabled': {
    type: 'boolean',
    default: false,
    doc: 'Send up to batch.max.size records per request (consecutive records with the same URL) instead of one request per record.',
    importance: 'high',
  },
  'batch.max.size': {
    type: 'int',
    default: 500,
    doc: 'The most records in one batched request.',
    importance: 'medium',
    validate: range(1, 1_000_000),
  },
  'batch.format': {
    type: 'string',
    default: 'ndjson',
    doc: 'A batch body: `ndjson`, record bodies joined by batch.separator between batch.prefix and batch.suffix (the Aiven sink\'s format: one per line by default); `json-array`, one JSON array of the values.',
    importance: 'medium',
    validate: oneOf(['ndjson', 'json-array']),
  },
  'batch.prefix': { type: 'string', default: '', doc: 'Text before the records of an ndjson batch.', importance: 'low' },
  'batch.suffix': { type: 'string', default: '', doc: 'Text after the records of an ndjson batch.', importance: 'low' },
  'batch.separator': { type: 'string', default: '\n', doc: 'Text between the records of an ndjson batch.', importance: 'low' },
  'max.retries': {
    type: 'int',
    default: 1,
    doc: 'Retries of one request, in the task, on network errors, timeouts, 408, 429 and 5xx; then put or flush fails with a retriable error and the runtime calls again after its own backoff (per errors.retry.timeout: by default forever, blocking the partition), sending that request first.',
    importance: 'medium',
    validate: range(0, 1_000_000),
  },
  'retry.backoff.ms': {
    type: 'int',
    default: 3000,
    doc: 'The first retry\'s backoff; each further retry doubles it (with jitter) up to retry.backoff.max.ms. A Retry-After header wins.',
    importance: 'medium',
    validate: range(0, 86_400_000),
  },
  'retry.backoff.max.ms': {
    type: 'int',
    default: 60_000,
    doc: 'The longest backoff between two retries of a request (a Retry-After header may ask for longer and is honoured).',
    importance: 'low',
    validate: range(0, 86_400_000),
  },
  'redis.url': {
    type: 'password',
    default: null,
    doc: 'When set (e.g. `${env:TRIBUTARY_REDIS_URL}`), a request still failing after max.retries becomes a delayed BullMQ job in Redis instead of blocking: the partition advances, and the job is retried with backoff by any task of this connector, across worker restarts. Records then arrive out of order. Unset: retries block in place (Kafka Connect\'s behaviour).',
    importance: 'medium',
    validate: url(['redis:', 'rediss:']),
  },
  'retry.queue.name': {
    type: 'string',
    default: null,
    doc: 'The BullMQ queue of durable retries; by default `tributary-http-sink-<connector name>`.',
    importance: 'low',
  },
  'retry.queue.max.attempts': {
    type: 'int',
    default: 20,
    doc: 'Attempts of a durable retry job before its records go to the dead-letter queue.',
    importance: 'low',
    validate: range(1, 1_000_000),
  },
  'retry.queue.backoff.ms': {
    type: 'int',
    default: 5000,
    doc: 'The delay before a durable retry job\'s first attempt; it doubles with each attempt (with jitter) up to retry.backoff.max.ms.',
    importance: 'low',
    validate: range(1, 86_400_000),
  },
});
