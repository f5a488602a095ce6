/**
 * The closed set of errors a connector (or the runtime) may raise. The runtime decides what to do
 * by class, never by message text:
 *
 * | class            | retriable | what the runtime does                                          |
 * |------------------|-----------|----------------------------------------------------------------|
 * | RetriableError   | yes       | retries the same call with backoff (errors.retry.*, then fails)|
 * | DataError        | no        | one record is bad: dead-letter queue or fail, per errors.tolerance |
 * | ConfigError      | no        | the configuration is wrong: fail (400 with the fields at REST) |
 * | FatalError       | no        | fail the task with a trace in its status                       |
 * | EndOfInputError  | no        | a finite source has no more data: the task stops cleanly       |
 *
 * Any other thrown value is treated as a FatalError.
 */

export type ErrorCode = 'RETRIABLE' | 'DATA' | 'CONFIG' | 'FATAL' | 'END_OF_INPUT';

export interface FieldError {
  /** The config key that is wrong, e.g. `database.port`. */
  name: string;
  /** What is wrong and what to do about it. */
  message: string;
}

export class ConnectError extends Error {
  readonly code: ErrorCode = 'FATAL';
  readonly retriable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class RetriableError extends ConnectError {
  override readonly code: ErrorCode = 'RETRIABLE';
  override readonly retriable = true;
  /** When the far side said how long to wait (a Retry-After header, say), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export class DataError extends ConnectError {
  override readonly code: ErrorCode = 'DATA';
}

export class ConfigError extends ConnectError {
  override readonly code: ErrorCode = 'CONFIG';
  readonly fields: FieldError[];

  constructor(message: string, fields: FieldError[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.fields = fields;
  }

  /** One error listing every bad field, so a user can fix them all in one go. */
  static fromFields(fields: FieldError[], prefix = 'Invalid configuration'): ConfigError {
    const detail = fields.map((f) => `${f.name}: ${f.message}`).join('; ');
    return new ConfigError(`${prefix}: ${detail}`, fields);
  }
}

export class FatalError extends ConnectError {
  override readonly code: ErrorCode = 'FATAL';
}

export class EndOfInputError extends ConnectError {
  override readonly code: ErrorCode = 'END_OF_INPUT';

  constructor(message = 'end of input', options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof ConnectError && err.retriable;
}

/** The code of any thrown value; unknown errors count as FATAL. */
export function errorCode(err: unknown): ErrorCode {
  return err instanceof ConnectError ? err.code : 'FATAL';
}

/** A stack trace for status `trace` fields and DLQ headers. */
export function traceOf(err: unknown): string {
  if (err instanceof Error) {
    let out = err.stack ?? `${err.name}: ${err.message}`;
    let cause = (err as { cause?: unknown }).cause;
    while (cause instanceof Error) {
      out += `\nCaused by: ${cause.stack ?? cause.message}`;
      cause = (cause as { cause?: unknown }).cause;
    }
    return out;
  }
  return String(err);
}
