// S3Proxy (an S3 API over the local filesystem) from Maven Central, for integration tests:
// `node test/infra/s3.ts up|down|status`.
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  INFRA_DIR, ServiceError, cacheDir, errorText, isMain, isPortOpen, livePid, logHint, recordedPort, removeFile,
  requireJava, resolveWithMaven, runCli, seconds, shown, spawnDetached, terminate, waitFor, withLock, withTimeout,
} from './common.ts';
import type { EnsureOptions, Log } from './common.ts';
import { HOST, s3Info, s3Port } from './endpoints.ts';
import type { S3Info } from './endpoints.ts';

export { s3Info };
export type { S3Info };

export const S3PROXY_VERSION = '3.3.0';
const SERVICE = 's3';
const START_TIMEOUT_MS = 60_000;

export interface S3Status extends S3Info {
  running: boolean;
  startedByUs: boolean;
  pid?: number;
}

function paths() {
  const dir = cacheDir('s3proxy');
  return {
    dir,
    libs: join(dir, 'libs'),
    data: join(dir, 'data'),
    conf: join(dir, 's3proxy.conf'),
    serverLog: join(dir, 's3proxy.log'),
    stdout: join(dir, 'stdout.log'),
    pidFile: join(dir, 's3proxy.pid'),
    pom: join(INFRA_DIR, 's3proxy', 'pom.xml'),
    logback: join(INFRA_DIR, 's3proxy', 'logback.xml'),
  };
}

/** An S3 client for the test server (path-style, SigV4, the SDK's default checksums). */
export function s3Client(info: S3Info = s3Info()): S3Client {
  return new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
  });
}

type Probe = { ok: true } | { ok: false; reason: string };

/** A SigV4-signed ListBuckets with our credentials. */
export async function s3Probe(info: S3Info = s3Info(), timeoutMs = 3000): Promise<Probe> {
  const client = new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    await withTimeout('ListBuckets', timeoutMs, client.send(new ListBucketsCommand({})));
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: errorText(error) };
  } finally {
    client.destroy();
  }
}

function ourPid(): number | undefined {
  return livePid(paths().pidFile, 'org.gaul.s3proxy.Main');
}

export async function s3Status(): Promise<S3Status> {
  const pid = ourPid();
  const running = (await s3Probe()).ok;
  return { ...s3Info(), running, startedByUs: pid !== undefined, ...(pid !== undefined ? { pid } : {}) };
}

function proxyProperties(info: S3Info, dataDir: string): string {
  return [
    '# Written by test/infra/s3.ts on every start; edit that file, not this one.',
    `s3proxy.endpoint=${info.endpoint}`,
    's3proxy.authorization=aws-v2-or-v4',
    `s3proxy.identity=${info.accessKeyId}`,
    `s3proxy.credential=${info.secretAccessKey}`,
    // filesystem-nio2 is what `filesystem` means from S3Proxy 3.x on; it keeps multipart parts on
    // disk and assembles them on CompleteMultipartUpload (checked by the smoke test, 11 MiB in 3 parts).
    'jclouds.provider=filesystem-nio2',
    `jclouds.filesystem.basedir=${dataDir}`,
    '',
  ].join('\n');
}

/** Starts S3Proxy unless an S3 server with our credentials answers on the port. Idempotent. */
export async function ensureS3(opts: EnsureOptions = {}): Promise<S3Info> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const info = s3Info();
  const port = s3Port();
  const p = paths();
  const started = Date.now();

  if ((await s3Probe(info)).ok) {
    log(`s3: already running, listening on ${info.endpoint} (region ${info.region}, path-style)`);
    return info;
  }

  return withLock(SERVICE, async () => {
    let pid = ourPid();
    const startedHere = pid === undefined;
    const pidPort = recordedPort(p.pidFile);
    if (pid !== undefined && pidPort !== undefined && pidPort !== port) {
      throw new ServiceError(SERVICE, `our S3Proxy (pid ${pid}) serves port ${pidPort}, but port ${port} is asked for (TRIBUTARY_TEST_S3_PORT); stop it first: node test/infra/s3.ts down`);
    }
    if (pid === undefined) {
      const probe = await s3Probe(info);
      if (probe.ok) {
        log(`s3: already running, listening on ${info.endpoint} (region ${info.region}, path-style)`);
        return info;
      }
      if (await isPortOpen(HOST, port)) {
        throw new ServiceError(SERVICE, `port ${port} on ${HOST} is taken by a program that refuses an S3 ListBuckets with our credentials (${probe.reason}); stop it or set TRIBUTARY_TEST_S3_PORT`);
      }
      const java = await requireJava(SERVICE);
      await resolveWithMaven(SERVICE, p.pom, p.libs, log);
      mkdirSync(p.data, { recursive: true });
      writeFileSync(p.conf, proxyProperties(info, p.data));
      removeFile(p.serverLog);
      pid = spawnDetached(java, [
        '-Xms64m', '-Xmx384m', '-Djava.awt.headless=true',
        `-Dlogback.configurationFile=${p.logback}`, `-Ds3proxy.logs.dir=${p.dir}`,
        '-cp', `${p.libs}/*`, 'org.gaul.s3proxy.Main', '--properties', p.conf,
      ], { outFile: p.stdout, pidFile: p.pidFile, port });
    }

    const ourProcess = pid;
    const outcome = await waitFor({
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 250,
      ready: async () => (await s3Probe(info, 2000)).ok,
      gone: () => (livePid(p.pidFile, 'org.gaul.s3proxy.Main') === ourProcess ? undefined : 'exited'),
    });
    if (outcome === 'exited') {
      removeFile(p.pidFile);
      throw new ServiceError(SERVICE, `S3Proxy exited during startup${logHint(p.serverLog)}`);
    }
    if (outcome === 'timeout') {
      throw new ServiceError(SERVICE, `startup timed out after ${START_TIMEOUT_MS / 1000}s (pid ${ourProcess} still running)${logHint(p.serverLog)}`);
    }
    const who = startedHere ? `started S3Proxy ${S3PROXY_VERSION} (pid ${ourProcess})` : `waited for the S3Proxy another process was starting (pid ${ourProcess})`;
    log(`s3: ${who} in ${seconds(started)}, listening on ${info.endpoint} (region ${info.region}, path-style, data in ${shown(p.data)})`);
    return info;
  });
}

/** Stops S3Proxy if we started it (pid file). */
export async function stopS3(opts: EnsureOptions = {}): Promise<void> {
  const log: Log = opts.log ?? ((line) => console.log(line));
  const p = paths();
  const pid = ourPid();
  if (pid === undefined) {
    removeFile(p.pidFile);
    const other = (await s3Probe()).ok;
    log(other ? `s3: left running: the server on ${s3Info().endpoint} was not started by us` : 's3: not running');
    return;
  }
  const how = await terminate(pid, 10_000);
  removeFile(p.pidFile);
  log(`s3: stopped (pid ${pid}${how === 'killed' ? ', killed after 10s' : ''})`);
}

if (isMain(import.meta.url)) {
  await runCli({
    name: SERVICE,
    up: () => ensureS3(),
    down: () => stopS3(),
    status: async (json) => {
      const status = await s3Status();
      if (json) console.log(JSON.stringify(status));
      else console.log(`s3: ${status.running ? 'running' : 'not running'} on ${status.endpoint}${status.startedByUs ? ` (started by us, pid ${status.pid})` : ''}`);
    },
  });
}
