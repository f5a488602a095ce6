/**
 * Config providers: Kafka Connect's `${provider:path:key}` references in connector configs,
 * resolved just before a connector or task starts, so secrets stay out of stored configs.
 *
 * - `${env:VAR}` (also `${env::VAR}`): an environment variable of the worker.
 * - `${file:/path/to/file.properties:key}`: a key of a Java properties file.
 * - `${file:/path/to/secret.txt}`: a whole file, trimmed (a Tributary shorthand).
 * - `${directory:/path/to/dir:name}`: the content of the file `name` in a directory, as is
 *   (Kafka Connect's DirectoryConfigProvider, e.g. Kubernetes secrets mounted as files).
 *
 * As in Connect: a value may hold several references and text around them; references are not
 * resolved recursively; a reference to a provider that is not configured is left as it is (it
 * may be literal text). Unlike Connect, a reference a provider cannot satisfy (an unset
 * variable, a missing file or key) is a ConfigError naming the config key and the reference,
 * rather than being passed on unresolved.
 *
 * Stored configs keep their `${...}` references; only resolved copies reach connectors, and the
 * keys whose values came from a provider are reported so they can be masked.
 */
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, resolve as resolvePath, sep } from 'node:path';
import { ConfigError, type FieldError } from '../api/index.ts';

export interface ConfigProvider {
  /**
   * Values of `keys` at `path` (undefined for `${provider:key}`), read once per resolution.
   * Keys the source does not have are left out of the result. Throws ConfigProviderError when
   * the source itself cannot be read (a missing file, a path outside the allowed ones).
   */
  get(path: string | undefined, keys: ReadonlySet<string>): Promise<Map<string, string>>;
  /** Why `key` was not found, for the error message: "environment variable X is not set on this worker". */
  describeMissing?(path: string | undefined, key: string): string;
}

/** A provider could not read its source; the message says what and why, never a secret. */
export class ConfigProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigProviderError';
  }
}

export interface ResolvedConfig {
  resolved: Record<string, string>;
  /** Config keys whose values came wholly or partly from a provider. */
  secretKeys: Set<string>;
}

/** Connect's ConfigTransformer pattern: `${provider:key}` or `${provider:path:key}`. */
const REFERENCE = /\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}/g;

/** Whether a value holds a `${provider:...}` reference (to any provider). */
export function hasReferences(value: string): boolean {
  REFERENCE.lastIndex = 0;
  return REFERENCE.test(value);
}

// ---- Providers -------------------------------------------------------------------------------

export interface EnvProviderOptions {
  /** The environment to read; defaults to process.env at lookup time. */
  env?: Record<string, string | undefined>;
  /** Only variables whose names match may be read (Connect's `allowlist.pattern`). Default: all. */
  allowlist?: RegExp;
}

/** Kafka Connect's EnvVarConfigProvider. */
export function envConfigProvider(options: EnvProviderOptions = {}): ConfigProvider {
  return {
    async get(path, keys) {
      if (path !== undefined && path !== '') {
        throw new ConfigProviderError(`the env provider takes no path; write \${env:VARIABLE}`);
      }
      const env = options.env ?? process.env;
      const out = new Map<string, string>();
      for (const key of keys) {
        if (options.allowlist && !wholeMatch(options.allowlist, key)) continue;
        const v = env[key];
        if (v !== undefined) out.set(key, v);
      }
      return out;
    },
    describeMissing(_path, key) {
      if (options.allowlist && !wholeMatch(options.allowlist, key)) {
        return `environment variable ${key} is not in the env provider's allowlist (${options.allowlist.source})`;
      }
      return `environment variable ${key} is not set on this worker. Set it in the worker's environment, or change the reference`;
    },
  };
}

function wholeMatch(re: RegExp, s: string): boolean {
  const m = new RegExp(re.source, re.flags.replace('g', '')).exec(s);
  return m !== null && m.index === 0 && m[0].length === s.length;
}

export interface FileProviderOptions {
  /**
   * Files may be read only under these directories (Connect's `allowed.paths`). Default: any
   * path, as in Connect; set it on workers that accept connector configs from untrusted users.
   */
  allowedPaths?: string[];
}

/**
 * Kafka Connect's FileConfigProvider: `${file:/path/file.properties:key}` reads a key of a
 * properties file. Also `${file:/path/secret.txt}`: the whole file, trimmed.
 */
export function fileConfigProvider(options: FileProviderOptions = {}): ConfigProvider {
  return {
    async get(path, keys) {
      const out = new Map<string, string>();
      if (path === undefined) {
        // ${file:/path/secret.txt}: each "key" is a file read whole.
        for (const file of keys) out.set(file, (await readAllowed(file, options.allowedPaths)).trim());
        return out;
      }
      const props = parseProperties(await readAllowed(path, options.allowedPaths));
      for (const key of keys) {
        const v = props.get(key);
        if (v !== undefined) out.set(key, v);
      }
      return out;
    },
    describeMissing(path, key) {
      return `the properties file ${path} has no key ${JSON.stringify(key)}`;
    },
  };
}

/** Kafka Connect's DirectoryConfigProvider: `${directory:/run/secrets:db-password}` reads one file of a directory. */
export function directoryConfigProvider(options: FileProviderOptions = {}): ConfigProvider {
  return {
    async get(path, keys) {
      if (path === undefined || path === '') throw new ConfigProviderError('the directory provider needs a directory: ${directory:/path/to/dir:file}');
      const out = new Map<string, string>();
      for (const key of keys) {
        if (key === '' || key === '.' || key === '..' || key.includes('/') || key.includes('\\')) {
          throw new ConfigProviderError(`${JSON.stringify(key)} is not a file name; the directory provider reads only files directly inside ${path}`);
        }
        try {
          out.set(key, await readAllowed(join(path, key), options.allowedPaths));
        } catch (e) {
          if (e instanceof ConfigProviderError && (e as ConfigProviderError & { missing?: boolean }).missing) continue;
          throw e;
        }
      }
      return out;
    },
    describeMissing(path, key) {
      return `the directory ${path} has no file ${JSON.stringify(key)}`;
    },
  };
}

async function readAllowed(file: string, allowedPaths: string[] | undefined): Promise<string> {
  if (!isAbsolute(file)) throw new ConfigProviderError(`${file} is not an absolute path; config providers read files by absolute path`);
  try {
    if (allowedPaths !== undefined) {
      const real = await realpath(file);
      const roots = await Promise.all(allowedPaths.map((p) => realpath(resolvePath(p)).catch(() => resolvePath(p))));
      if (!roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
        throw new ConfigProviderError(`${file} is outside the paths config providers may read (${allowedPaths.join(', ')})`);
      }
    }
    return await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigProviderError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw Object.assign(new ConfigProviderError(`the file ${file} does not exist on this worker`), { missing: true });
    }
    if (code === 'EACCES' || code === 'EPERM') throw new ConfigProviderError(`the file ${file} cannot be read by this worker (permission denied)`);
    if (code === 'EISDIR') throw new ConfigProviderError(`${file} is a directory, not a file`);
    throw new ConfigProviderError(`the file ${file} cannot be read: ${(e as Error).message}`);
  }
}

// ---- Java properties files --------------------------------------------------------------------

const WS = new Set([' ', '\t', '\f']);

/**
 * A Java properties file as `java.util.Properties.load` reads it: `key=value`, `key: value` or
 * `key value`; `#` and `!` comment lines; a line ending in an odd number of backslashes continues
 * on the next (whose leading whitespace is dropped); escapes `\t \n \r \f \uXXXX` and `\x` -> x.
 * A later duplicate key wins. Throws ConfigProviderError on a malformed `\u` escape.
 */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = stripLeading(lines[i]);
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    while (endsWithContinuation(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + stripLeading(lines[++i]);
    }
    if (endsWithContinuation(line)) line = line.slice(0, -1);
    const [key, value] = splitKeyValue(line);
    out.set(unescape(key, i + 1), unescape(value, i + 1));
  }
  return out;
}

function stripLeading(s: string): string {
  let i = 0;
  while (i < s.length && WS.has(s[i])) i++;
  return s.slice(i);
}

function endsWithContinuation(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function splitKeyValue(line: string): [string, string] {
  let keyEnd = line.length;
  let valueStart = line.length;
  let hasSeparator = false;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (!escaped && (c === '=' || c === ':')) {
      keyEnd = i;
      valueStart = i + 1;
      hasSeparator = true;
      break;
    }
    if (!escaped && WS.has(c)) {
      keyEnd = i;
      valueStart = i + 1;
      break;
    }
    escaped = c === '\\' ? !escaped : false;
  }
  while (valueStart < line.length) {
    const c = line[valueStart];
    if (!WS.has(c)) {
      if (!hasSeparator && (c === '=' || c === ':')) hasSeparator = true;
      else break;
    }
    valueStart++;
  }
  return [line.slice(0, keyEnd), line.slice(valueStart)];
}

const ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescape(s: string, lineNo: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i];
    if (next === undefined) break;
    if (next === 'u') {
      const hex = s.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ConfigProviderError(`malformed \\uxxxx escape on line ${lineNo} of the properties file`);
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += ESCAPES[next] ?? next;
    }
  }
  return out;
}

// ---- Resolution ------------------------------------------------------------------------------

export interface ConfigResolverOptions {
  /** Providers by name; defaults to env, file and directory. */
  providers?: Record<string, ConfigProvider>;
  /** For the default env provider. */
  env?: Record<string, string | undefined>;
  /** For the default file and directory providers. */
  allowedPaths?: string[];
}

export interface ConfigResolver {
  resolveConfig(config: Record<string, string>): Promise<ResolvedConfig>;
}

export function defaultConfigProviders(options: Omit<ConfigResolverOptions, 'providers'> = {}): Record<string, ConfigProvider> {
  return {
    env: envConfigProvider({ env: options.env }),
    file: fileConfigProvider({ allowedPaths: options.allowedPaths }),
    directory: directoryConfigProvider({ allowedPaths: options.allowedPaths }),
  };
}

interface Reference {
  provider: string;
  path: string | undefined;
  key: string;
}

interface Lookup {
  values?: Map<string, string>;
  error?: string;
}

export function createConfigResolver(options: ConfigResolverOptions = {}): ConfigResolver {
  const providers = options.providers ?? defaultConfigProviders(options);
  const providerOf = (name: string): ConfigProvider | undefined => (Object.hasOwn(providers, name) ? providers[name] : undefined);

  return {
    async resolveConfig(config) {
      // 1. Find references, grouped by provider and path so each source is read once.
      const groups = new Map<string, { ref: Omit<Reference, 'key'>; keys: Set<string> }>();
      const referring: string[] = [];
      for (const [name, value] of Object.entries(config)) {
        if (typeof value !== 'string' || !value.includes('${')) continue;
        let found = false;
        for (const m of value.matchAll(REFERENCE)) {
          const ref = toReference(m);
          if (!providerOf(ref.provider)) continue;
          found = true;
          const g = groupKey(ref);
          let group = groups.get(g);
          if (!group) groups.set(g, (group = { ref: { provider: ref.provider, path: ref.path }, keys: new Set() }));
          group.keys.add(ref.key);
        }
        if (found) referring.push(name);
      }
      if (referring.length === 0) return { resolved: { ...config }, secretKeys: new Set() };

      // 2. Read each source.
      const lookups = new Map<string, Lookup>();
      await Promise.all(
        [...groups].map(async ([g, { ref, keys }]) => {
          try {
            lookups.set(g, { values: await providerOf(ref.provider)!.get(ref.path, keys) });
          } catch (e) {
            lookups.set(g, { error: e instanceof ConfigProviderError ? e.message : `the ${ref.provider} provider failed: ${(e as Error).message}` });
          }
        }),
      );

      // 3. Substitute, collecting every problem so the user can fix them in one go.
      const resolved: Record<string, string> = { ...config };
      const errors: FieldError[] = [];
      for (const name of referring) {
        resolved[name] = config[name].replace(REFERENCE, (whole, ...groupsOfMatch: unknown[]) => {
          const ref = toReference([whole, ...groupsOfMatch] as unknown as RegExpMatchArray);
          const provider = providerOf(ref.provider);
          if (!provider) return whole;
          const lookup = lookups.get(groupKey(ref))!;
          if (lookup.error !== undefined) {
            errors.push({ name, message: `${whole}: ${lookup.error}.` });
            return whole;
          }
          const v = lookup.values!.get(ref.key);
          if (v === undefined) {
            const why = provider.describeMissing?.(ref.path, ref.key) ?? `the ${ref.provider} provider has no value for ${JSON.stringify(ref.key)}${ref.path ? ` at ${ref.path}` : ''}`;
            errors.push({ name, message: `${whole}: ${why}.` });
            return whole;
          }
          return v;
        });
      }
      if (errors.length > 0) throw ConfigError.fromFields(errors, 'Cannot resolve config provider references');
      return { resolved, secretKeys: new Set(referring) };
    },
  };
}

function toReference(m: RegExpMatchArray): Reference {
  return { provider: m[1], path: m[2] ?? undefined, key: m[3] };
}

function groupKey(ref: Omit<Reference, 'key'>): string {
  return `${ref.provider}\u0000${ref.path ?? '\u0001'}`;
}

const defaultResolver = createConfigResolver();

/** Resolves references with the env, file and directory providers (env read from process.env at call time). */
export function resolveConfig(config: Record<string, string>): Promise<ResolvedConfig> {
  return defaultResolver.resolveConfig(config);
}
