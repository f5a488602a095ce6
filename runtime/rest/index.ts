/** The REST API's public surface. */
export { buildApp, listen } from './app.ts';
export type { RestOptions } from './app.ts';
export { assertSafeBinding, authenticator, isLoopback, validateAuthOptions } from './auth.ts';
export type { AuthOptions, AuthType } from './auth.ts';
export { toErrorBody } from './errors.ts';
export type { ErrorBody } from './errors.ts';
export type { ClusterLoggerLevels } from './routes/loggers.ts';
export type { MetricsSource } from './routes/root.ts';
