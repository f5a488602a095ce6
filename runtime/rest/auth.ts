/**
 * REST authentication: none, HTTP Basic (users and passwords) or Bearer tokens. Credentials are
 * compared in constant time (over SHA-256 digests, so lengths leak nothing either).
 *
 * Unauthenticated serving is allowed by default only on loopback: `assertSafeBinding` refuses a
 * non-loopback address with `type: 'none'` unless `allowInsecure` (`rest.auth.allow.insecure=true`).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export type AuthType = 'none' | 'basic' | 'bearer';

export interface AuthOptions {
  type: AuthType;
  /** basic: user -> password. */
  users?: Record<string, string>;
  /** bearer: accepted tokens. */
  tokens?: string[];
  /** Serve without authentication on a non-loopback address anyway (`rest.auth.allow.insecure`). */
  allowInsecure?: boolean;
  /** Shown in `WWW-Authenticate`; default `tributary`. */
  realm?: string;
}

/** Loopback names and addresses: localhost, 127.0.0.0/8, ::1 (and IPv4-mapped 127.x). */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){0,5}:?ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h);
  return false;
}

/** Throws when the auth options cannot work (basic without users, bearer without tokens, ...). */
export function validateAuthOptions(auth: AuthOptions | undefined): void {
  if (!auth) return;
  if (!['none', 'basic', 'bearer'].includes(auth.type)) {
    throw new Error(`Unknown REST authentication type "${String(auth.type)}"; use none, basic or bearer.`);
  }
  if (auth.type === 'basic' && Object.keys(auth.users ?? {}).length === 0) {
    throw new Error('REST authentication is basic but no users are configured; set rest.auth.users (user:password pairs).');
  }
  if (auth.type === 'basic' && Object.keys(auth.users ?? {}).some((u) => u.includes(':'))) {
    throw new Error('REST basic authentication user names must not contain ":".');
  }
  if (auth.type === 'bearer' && (auth.tokens ?? []).filter((t) => t !== '').length === 0) {
    throw new Error('REST authentication is bearer but no tokens are configured; set rest.auth.tokens.');
  }
}

/**
 * Refuse to serve the REST API without authentication on anything but loopback, unless the
 * operator explicitly accepted it. Call before `listen`.
 */
export function assertSafeBinding(host: string, auth: AuthOptions | undefined): void {
  validateAuthOptions(auth);
  const type = auth?.type ?? 'none';
  if (type !== 'none' || auth?.allowInsecure || isLoopback(host)) return;
  throw new Error(
    `Refusing to serve the REST API on ${host} without authentication: anyone who can reach this address could ` +
      'create connectors and read their configs. Either bind to a loopback address (rest.host=127.0.0.1), ' +
      'enable authentication (rest.auth.type=basic with rest.auth.users, or rest.auth.type=bearer with rest.auth.tokens), ' +
      'or set rest.auth.allow.insecure=true to accept the risk.',
  );
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function same(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}

/** A credential check for one `Authorization` header value; true when allowed. */
export function authenticator(auth: AuthOptions | undefined): (authorization: string | undefined) => boolean {
  validateAuthOptions(auth);
  if (!auth || auth.type === 'none') return () => true;

  if (auth.type === 'bearer') {
    const tokens = (auth.tokens ?? []).filter((t) => t !== '').map(digest);
    return (header) => {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
      if (!m) return false;
      const given = digest(m[1]);
      let ok = false;
      for (const t of tokens) ok = same(given, t) || ok; // no early exit
      return ok;
    };
  }

  const users = new Map(Object.entries(auth.users ?? {}).map(([u, p]) => [u, digest(p)]));
  const decoy = digest(randomBytes(16).toString('hex'));
  return (header) => {
    const m = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header ?? '');
    if (!m) return false;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const expected = users.get(decoded.slice(0, colon));
    const matches = same(digest(decoded.slice(colon + 1)), expected ?? decoy);
    return expected !== undefined && matches;
  };
}

export function challenge(auth: AuthOptions): string {
  const realm = (auth.realm ?? 'tributary').replace(/["\\]/g, '');
  return auth.type === 'bearer' ? `Bearer realm="${realm}"` : `Basic realm="${realm}", charset="UTF-8"`;
}
