/** `npm run bench`: every benchmark, or those named on the command line (e.g. `npm run bench -- standalone-pipeline`). */
const all: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  'standalone-pipeline': () => import('./standalone-pipeline.ts'),
  'http-sink': () => import('./http-sink.ts'),
  's3-sink': () => import('./s3-sink.ts'),
  'postgres-cdc': () => import('./postgres-cdc.ts'),
  'postgres-snapshot': () => import('./postgres-snapshot.ts'),
  failover: () => import('./failover.ts'),
};

import { execFileSync } from 'node:child_process';

// Benchmarks run the worker as users do: built to JavaScript.
execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', 'scripts/build.ts'], { stdio: 'inherit' });

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(all)) {
  const load = all[name];
  if (!load) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(all).join(', ')}`);
    process.exit(2);
  }
  await (await load()).run();
}
