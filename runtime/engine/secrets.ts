/**
 * Which config values are secret, and keeping them out of responses and log lines.
 *
 * A key is secret when its ConfigSpec type is `password`, when its value came from a config
 * provider, or, as a safety net for keys no spec describes (converter, transform and client
 * overrides), when its name or value looks like a secret. Masked values read `[hidden]`, as in
 * Kafka Connect.
 */
import type { ConfigSpec } from '../api/index.ts';

export const MASK = '[hidden]';

/**
 * Key names that usually hold secrets: `...password`, `...secret`, `...token`, `...credentials`,
 * `...authorization`, `api.key`, `secret.key`, `private.key`, `secret.access.key`, `passphrase`,
 * `sasl.jaas.config`, `basic.auth.user.info`, `keystore.key`.
 */
const SECRET_NAME = new RegExp(
  '(?:password|passwd|passphrase|secret|token|credentials?|authorization' +
    '|api[._-]?key|secret[._-]?key|private[._-]?key|secret[._-]access[._-]key|keystore[._-]key' +
    '|sasl[._-]jaas[._-]config|basic[._-]auth[._-]user[._-]info)$',
  'i',
);

/** Values that carry a password whatever their key: URLs with `user:password@`, `password=` parameters, Azure-style keys. */
const SECRET_VALUE = /^[a-z][a-z0-9+.-]*:\/\/[^/\s@:]*:[^/\s@]+@|[?&;]\s*(?:password|pwd)=|(?:^|;)\s*(?:AccountKey|SharedAccessKey|Password|Pwd)\s*=/i;

export function isSecretKeyName(key: string): boolean {
  return SECRET_NAME.test(key);
}

export function looksLikeSecretValue(value: unknown): boolean {
  return typeof value === 'string' && SECRET_VALUE.test(value);
}

/**
 * The keys of `config` to mask: the spec's password-typed keys, `providerKeys` (from
 * resolveConfig's `secretKeys`), and keys whose names or values look secret.
 */
export function secretKeysFor(
  config: Record<string, unknown>,
  spec?: Pick<ConfigSpec, 'secretKeys'> | null,
  providerKeys: Iterable<string> = [],
): Set<string> {
  const out = new Set<string>(spec?.secretKeys() ?? []);
  for (const k of providerKeys) out.add(k);
  for (const [k, v] of Object.entries(config)) {
    if (isSecretKeyName(k) || looksLikeSecretValue(v)) out.add(k);
  }
  return out;
}

/** A copy of `config` with the value of each secret key present replaced by `[hidden]`. */
export function maskConfig<V>(config: Record<string, V>, secretKeys: Iterable<string>): Record<string, V | string> {
  const out: Record<string, V | string> = { ...config };
  for (const k of secretKeys) {
    if (Object.hasOwn(out, k) && out[k] !== null && out[k] !== undefined) out[k] = MASK;
  }
  return out;
}

/**
 * For a PUT of a config fetched masked: each secret key whose incoming value is `[hidden]` gets
 * its stored value back, so a GET-edit-PUT round trip keeps the real secret.
 */
export function restoreMaskedValues(
  incoming: Record<string, string>,
  stored: Record<string, string> | undefined,
  secretKeys: Iterable<string>,
): Record<string, string> {
  if (!stored) return incoming;
  let out: Record<string, string> | undefined;
  for (const k of secretKeys) {
    if (incoming[k] === MASK && Object.hasOwn(stored, k)) {
      out ??= { ...incoming };
      out[k] = stored[k];
    }
  }
  return out ?? incoming;
}

/** Values a key matched by name may hold that are not secrets; hiding them would garble every log line. */
const NOT_SECRET_VALUES = new Set(['true', 'false', 'null', 'none']);

/**
 * The resolved values of secret keys, for the log line redactor (`secretRedactor` in
 * logging.ts), which replaces them wherever they turn up in a line. Leaves out empty values,
 * `[hidden]` and the words true, false, null and none.
 */
export function secretValues(resolved: Record<string, string>, secretKeys: Iterable<string>): string[] {
  const out: string[] = [];
  for (const k of secretKeys) {
    const v = resolved[k];
    if (typeof v === 'string' && v !== '' && v !== MASK && !NOT_SECRET_VALUES.has(v.toLowerCase())) out.push(v);
  }
  return out;
}

const MAX_DEPTH = 10;

/**
 * A copy of a log object with every property named like a secret key (in `secretKeys`, or by
 * the name heuristics) masked, at any depth. Parts without secrets are shared, not copied, and
 * an object without secrets is returned as it is. Errors, Buffers, Dates and Maps pass through.
 * Use it as a pino serializer (`serializers: { config: (c) => redactSecrets(c, keys) }`) or
 * before logging a config.
 */
export function redactSecrets<T>(obj: T, secretKeys: Iterable<string> = []): T {
  const keys = secretKeys instanceof Set ? (secretKeys as Set<string>) : new Set(secretKeys);
  return redact(obj, keys, 0, new WeakSet()) as T;
}

function redact(v: unknown, keys: Set<string>, depth: number, seen: WeakSet<object>): unknown {
  if (typeof v !== 'object' || v === null || depth > MAX_DEPTH || seen.has(v)) return v;
  if (v instanceof Error || ArrayBuffer.isView(v) || v instanceof Date || v instanceof Map || v instanceof Set) return v;
  seen.add(v);
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const r = redact(v[i], keys, depth + 1, seen);
      if (r !== v[i]) (copy ??= [...v])[i] = r;
    }
    return copy ?? v;
  }
  let copy: Record<string, unknown> | undefined;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    let r: unknown;
    if (x !== null && x !== undefined && x !== MASK && (keys.has(k) || isSecretKeyName(k))) r = MASK;
    else r = redact(x, keys, depth + 1, seen);
    if (r !== x) {
      if (!copy) copy = { ...o };
      if (k === '__proto__') Object.defineProperty(copy, k, { value: r, writable: true, enumerable: true, configurable: true });
      else copy[k] = r;
    }
  }
  return copy ?? v;
}

/**
 * pino `redact` options hiding these keys under each root (`config` by default), e.g. for
 * `logger.child({connector}, { redact: pinoRedactOptions(keys) })`. A child's redact options
 * replace its parent's, so pass every path the child needs.
 */
export function pinoRedactOptions(secretKeys: Iterable<string>, roots: string[] = ['config', '*.config']): { paths: string[]; censor: string } {
  const paths: string[] = [];
  for (const k of secretKeys) {
    for (const root of roots) paths.push(`${root}[${JSON.stringify(k)}]`);
  }
  return { paths, censor: MASK };
}
