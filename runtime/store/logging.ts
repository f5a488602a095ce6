import type { Logger } from '../api/index.ts';

/** Used when no logger is given: warnings and errors to stderr, the rest dropped. */
export const defaultLogger: Logger = {
  debug() {},
  info() {},
  warn(obj: unknown, msg?: string) {
    console.warn(msg ?? '', obj);
  },
  error(obj: unknown, msg?: string) {
    console.error(msg ?? '', obj);
  },
  child() {
    return defaultLogger;
  },
};
