/**
 * Where objects go: an S3-compatible bucket, or a local folder (`file://`) with the same key layout.
 * Errors come out as the API's classes: RetriableError for what may pass (5xx, SlowDown, throttling,
 * network), ConfigError for what the user must fix (missing bucket, wrong credentials).
 */
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConfigError, FatalError, RetriableError } from '../../runtime/api/index.ts';

export interface StoredObject {
  key: string;
  size: number;
}

export interface ObjectStore {
  /** A short description for logs and errors (`s3://bucket` or `file:///path`). */
  readonly where: string;
  /** Check that the bucket (folder) exists and that we may use it. */
  check(): Promise<void>;
  /** Write a whole object atomically: readers see the old object or the complete new one, never part of it. */
  put(key: string, body: Buffer, metadata: Record<string, string>, contentType: string): Promise<{ parts: number }>;
  /** Keys under `prefix` after `startAfter`, in key order (UTF-8 byte order, as S3 lists them). */
  list(prefix: string, startAfter?: string): AsyncIterable<StoredObject>;
  /** User metadata of one object, or null when it does not exist. */
  head(key: string): Promise<{ size: number; metadata: Record<string, string> } | null>;
  /** The bytes of an object from `start` on. */
  get(key: string, start?: number): Promise<Buffer>;
  close(): void;
}

export interface StoreOptions {
  url: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  partSize: number;
  retries: number;
}

export function openStore(o: StoreOptions): ObjectStore {
  if (o.url.startsWith('file:')) return new FileStore(fileURLToPath(o.url));
  if (!o.bucket) throw new ConfigError('s3.bucket.name is required for an S3 store', [{ name: 's3.bucket.name', message: 'Give the bucket to write to (or a file:// store.url for a local folder).' }]);
  return new S3Store(o);
}

// ---- S3 -------------------------------------------------------------------------------------

const RETRIABLE_CODES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TooManyRequests', 'RequestLimitExceeded']);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'InvalidToken', 'ExpiredToken', 'AuthorizationHeaderMalformed', 'CredentialsError']);

class S3Store implements ObjectStore {
  readonly where: string;
  private readonly client: S3Client;
  private readonly o: StoreOptions;

  constructor(o: StoreOptions) {
    this.o = o;
    this.where = `s3://${o.bucket}${o.url ? ` at ${o.url}` : ''}`;
    this.client = new S3Client({
      region: o.region,
      endpoint: o.url || undefined,
      forcePathStyle: o.pathStyle,
      credentials: o.accessKeyId && o.secretAccessKey ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } : undefined,
      // The SDK retries 5xx, SlowDown and network errors itself (standard mode, exponential backoff
      // with jitter); what is still failing afterwards goes to the runtime as a RetriableError.
      maxAttempts: o.retries + 1,
      retryMode: 'standard',
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
    });
  }

  async check(): Promise<void> {
    await this.call(`check bucket ${this.o.bucket}`, () => this.client.send(new HeadBucketCommand({ Bucket: this.o.bucket })));
  }

  async put(key: string, body: Buffer, metadata: Record<string, string>, contentType: string): Promise<{ parts: number }> {
    return this.call(`upload ${key}`, async () => {
      if (body.length <= this.o.partSize) {
        await this.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: body, Metadata: metadata, ContentType: contentType }));
        return { parts: 1 };
      }
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.o.bucket, Key: key, Body: body, Metadata: metadata, ContentType: contentType },
        partSize: this.o.partSize,
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
      return { parts: Math.ceil(body.length / this.o.partSize) };
    });
  }

  async *list(prefix: string, startAfter?: string): AsyncIterable<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.call(`list ${prefix}`, () => this.client.send(new ListObjectsV2Command({
        Bucket: this.o.bucket, Prefix: prefix || undefined, StartAfter: token ? undefined : startAfter, ContinuationToken: token,
      })));
      for (const c of page.Contents ?? []) yield { key: c.Key!, size: c.Size ?? 0 };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async head(key: string): Promise<{ size: number; metadata: Record<string, string> } | null> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: key }));
      return { size: h.ContentLength ?? 0, metadata: h.Metadata ?? {} };
    } catch (e) {
      if (e instanceof S3ServiceException && (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404)) return null;
      throw this.translate(e, `read the metadata of ${key}`);
    }
  }

  async get(key: string, start = 0): Promise<Buffer> {
    return this.call(`download ${key}`, async () => {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.o.bucket, Key: key, Range: start > 0 ? `bytes=${start}-` : undefined }));
      return Buffer.from(await r.Body!.transformToByteArray());
    });
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.translate(e, what);
    }
  }

  private translate(e: unknown, what: string): Error {
    return classifyS3Error(e, `Cannot ${what} in ${this.where}`, { bucket: this.o.bucket, url: this.o.url, checkingBucket: what.startsWith('check bucket') });
  }
}

/**
 * An AWS SDK error as one of the API's classes: what the user must fix (missing bucket, credentials)
 * is a ConfigError naming the field; what may pass (5xx, SlowDown and other throttling, no
 * response at all) is a RetriableError; anything else is fatal.
 */
export function classifyS3Error(e: unknown, prefix: string, o: { bucket: string; url: string; checkingBucket?: boolean }): Error {
  const err = e as Error & { $metadata?: { httpStatusCode?: number }; Code?: string; code?: string };
  const status = err.$metadata?.httpStatusCode;
  const code = err.name === 'Error' && err.Code ? err.Code : err.name;
  if (code === 'NoSuchBucket' || (o.checkingBucket && (code === 'NotFound' || status === 404))) {
    const message = `${prefix}: the bucket ${o.bucket} does not exist. Create it, or fix s3.bucket.name.`;
    return new ConfigError(message, [{ name: 's3.bucket.name', message }], { cause: e });
  }
  if (CREDENTIAL_CODES.has(code) || status === 403 || status === 401) {
    const message = `${prefix}: access denied (${code}). Check aws.access.key.id and aws.secret.access.key and the bucket's permissions.`;
    return new ConfigError(message, [{ name: 'aws.access.key.id', message }], { cause: e });
  }
  if (RETRIABLE_CODES.has(code) || (status !== undefined && (status >= 500 || status === 429))) {
    return new RetriableError(`${prefix}: ${code} (HTTP ${status ?? '?'}): ${err.message}. Retrying.`, { cause: e });
  }
  if (status === undefined) {
    // No HTTP response at all: connection refused, DNS, timeout.
    const net = err.code ?? code;
    return new RetriableError(`${prefix}: the endpoint ${o.url || 'AWS S3'} cannot be reached (${net}: ${err.message}). Check store.url; retrying.`, { cause: e });
  }
  return new FatalError(`${prefix}: ${code} (HTTP ${status}): ${err.message}`, { cause: e });
}

// ---- local folder ---------------------------------------------------------------------------

const META_SUFFIX = '.tributary-meta';

/**
 * The same layout in a folder. Objects are written to a temporary name, fsynced and renamed, so
 * a crash never leaves half an object under its real name. User metadata lives in a hidden
 * sidecar (`.<name>.tributary-meta`) that lake readers skip (Spark, Hive and DuckDB ignore dot files).
 */
class FileStore implements ObjectStore {
  readonly where: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
    this.where = `file://${root}`;
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
    } catch (e) {
      const message = `Cannot create the folder ${this.root}: ${(e as Error).message}. Fix store.url.`;
      throw new ConfigError(message, [{ name: 'store.url', message }], { cause: e });
    }
  }

  async put(key: string, body: Buffer, metadata: Record<string, string>): Promise<{ parts: number }> {
    const path = join(this.root, key);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(this.metaPath(key), JSON.stringify(metadata));
      const tmp = join(dirname(path), `.${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      return { parts: 1 };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      const message = `Cannot write ${path}: ${(e as Error).message}`;
      throw ['ENOSPC', 'EDQUOT', 'EAGAIN', 'EBUSY', 'EMFILE'].includes(code) ? new RetriableError(message, { cause: e }) : new FatalError(message, { cause: e });
    }
  }

  async *list(prefix: string, startAfter?: string): AsyncIterable<StoredObject> {
    // Keys are '/'-separated; walk the folders that can hold the prefix.
    const cut = prefix.lastIndexOf('/');
    const base = join(this.root, prefix.slice(0, cut + 1));
    const keys: StoredObject[] = [];
    await this.walk(base, keys);
    const sorted = keys
      .filter((o) => o.key.startsWith(prefix) && (startAfter === undefined || Buffer.compare(Buffer.from(o.key), Buffer.from(startAfter)) > 0))
      .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    yield* sorted;
  }

  async head(key: string): Promise<{ size: number; metadata: Record<string, string> } | null> {
    try {
      const s = await stat(join(this.root, key));
      let metadata: Record<string, string> = {};
      try {
        metadata = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as Record<string, string>;
      } catch {
        // no sidecar: written by something else
      }
      return { size: s.size, metadata };
    } catch {
      return null;
    }
  }

  async get(key: string, start = 0): Promise<Buffer> {
    const all = await readFile(join(this.root, key));
    return start > 0 ? all.subarray(start) : all;
  }

  close(): void {}

  private metaPath(key: string): string {
    const path = join(this.root, key);
    return join(dirname(path), `.${path.slice(dirname(path).length + 1)}${META_SUFFIX}`);
  }

  private async walk(dir: string, out: StoredObject[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) await this.walk(path, out);
      else if (e.isFile()) out.push({ key: relative(this.root, path).split(sep).join('/'), size: (await stat(path)).size });
    }
  }
}
