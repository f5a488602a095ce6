// vitest global setup of the `integration` project: starts the four test services if they are not
// already up (see services.ts), then hands their addresses to the tests as TRIBUTARY_TEST_*
// environment variables (read by env.ts) and as `inject('tributaryServices')`.
// There is deliberately no teardown: the services stay up so the next run reuses them in about a
// second; `npm run services:down` stops what was started.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { toEnv } from './env.ts';
import type { ServiceInfo } from './env.ts';
import { ServiceError } from './common.ts';
import { ensureServices } from './services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    tributaryServices: ServiceInfo;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  let info: ServiceInfo;
  try {
    info = await ensureServices({ log: (line) => console.log(`[test services] ${line}`) });
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error;
    // The line already says which service and why; a stack into this file would only hide it.
    const failure = new Error(`test services could not start: ${error.line}`);
    failure.stack = failure.message;
    throw failure;
  }
  Object.assign(process.env, toEnv(info));
  project.provide('tributaryServices', info);
}
