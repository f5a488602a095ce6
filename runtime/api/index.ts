/** The public connector API. Connectors (ours and third parties') import only this module. */
export * from './errors.ts';
export * from './records.ts';
export * from './config-spec.ts';
export * from './connector.ts';
export * from './transform.ts';
export * from './lazy.ts';
export * from './timing.ts';
export * from './redis.ts';
