import { custom, defineConfig, nonEmpty, oneOf, range } from '../../runtime/api/index.ts';

export const httpReceiverConfig = defineConfig({
  topic: { type: 'string', doc: 'The topic every received event is written to.', importance: 'high', validate: nonEmpty() },
  'http.listener.host': {
    type: 'string',
    default: '127.0.0.1',
    doc: 'The address the receiver listens on. Any address other than loopback (0.0.0.0 for every interface, say) requires http.receiver.auth.type secret or hmac-sha256.',
    importance: 'medium',
  },
  'http.listener.port': { type: 'int', doc: 'The port the receiver owns.', importance: 'high', validate: range(1, 65_535) },
  'http.listener.path': {
    type: 'string',
    default: '/',
    doc: 'The path events are POSTed to; other paths get 404.',
    importance: 'medium',
    validate: custom<string>((v) => (v.startsWith('/') ? undefined : 'Must start with /.')),
  },
  'http.receiver.format': {
    type: 'string',
    default: 'json',
    doc: '`json`: the body is one JSON value (an array becomes one record per element when http.receiver.json.split.arrays is true); `ndjson`: one JSON value per line; `raw`: the body as one string record. A body that does not parse gets 400 and nothing of it is written.',
    importance: 'high',
    validate: oneOf(['json', 'ndjson', 'raw']),
  },
  'http.receiver.json.split.arrays': {
    type: 'boolean',
    default: true,
    doc: 'With the json format, a top-level array becomes one record per element.',
    importance: 'low',
  },
  'http.receiver.auth.type': {
    type: 'string',
    default: 'none',
    doc: '`none`; `secret`: the request must carry http.receiver.secret in the header http.receiver.auth.header (default X-Webhook-Secret); `hmac-sha256`: that header (default X-Hub-Signature-256) must hold the HMAC-SHA256 of the raw body keyed by http.receiver.secret, as hex (optionally prefixed sha256=) or base64.',
    importance: 'high',
    validate: custom<string>((v, all) => {
      if (!['none', 'secret', 'hmac-sha256'].includes(v)) return 'Must be one of none, secret, hmac-sha256.';
      if (v !== 'none' && !all['http.receiver.secret']) return `${v} authentication needs http.receiver.secret.`;
      const host = String(all['http.listener.host'] ?? '127.0.0.1');
      if (v === 'none' && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
        return `A receiver listening on ${host} (beyond this machine) needs authentication: set secret or hmac-sha256 with http.receiver.secret.`;
      }
      return undefined;
    }, '[none, secret, hmac-sha256]'),
  },
  'http.receiver.secret': { type: 'password', default: null, doc: 'The shared secret or HMAC key.', importance: 'high' },
  'http.receiver.auth.header': {
    type: 'string',
    default: null,
    doc: 'The header carrying the secret or signature (defaults: X-Webhook-Secret, X-Hub-Signature-256).',
    importance: 'low',
  },
  'http.receiver.buffer.max.records': {
    type: 'int',
    default: 10_000,
    doc: 'The most records received but not yet durably committed. A request that would go past it gets 429 with Retry-After, so memory stays bounded.',
    importance: 'medium',
    validate: range(1, 10_000_000),
  },
  'http.receiver.retry.after.seconds': {
    type: 'int',
    default: 1,
    doc: 'The Retry-After sent with a 429.',
    importance: 'low',
    validate: range(0, 3600),
  },
  'http.receiver.max.body.bytes': {
    type: 'int',
    default: 10 * 1024 * 1024,
    doc: 'The largest body accepted; a larger one gets 413.',
    importance: 'low',
    validate: range(1, 1024 * 1024 * 1024),
  },
  'http.receiver.ack.timeout.ms': {
    type: 'int',
    default: 30_000,
    doc: 'How long a request waits for its records to be committed before it is answered 503 (they may still arrive: the sender should retry, and may then duplicate them).',
    importance: 'low',
    validate: range(100, 3_600_000),
  },
  'batch.size': { type: 'int', default: 2000, doc: 'The most records one poll returns.', importance: 'low', validate: range(1, 1_000_000) },
});
