/**
 * Logging for the whole runtime: one root pino logger, named child loggers, and the level registry
 * behind Kafka Connect's `/admin/loggers`.
 *
 * - `getLogger('tributary.engine.worker', { connector, task })` returns a child carrying
 *   `{logger: name, ...bindings}`; connector and task context travel as bindings.
 * - Levels use Kafka Connect's names (TRACE DEBUG INFO WARN ERROR FATAL OFF). Setting a level on a
 *   name applies to that logger and to every logger whose name starts with `name.`; `root` applies
 *   to all. A logger never set explicitly takes its nearest ancestor's level, then root's.
 * - Every line passes through the redactor (`setRedactor`) just before it is written, so a secret
 *   value that reached a message or a binding is still replaced.
 * - Output is JSON lines on stdout; a single-line human format when stdout is a terminal (or with
 *   `configureLogging({ format: 'pretty' })`).
 */
import { pino } from 'pino';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';

export type Logger = PinoLogger;
export type ConnectLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL' | 'OFF';
export const CONNECT_LEVELS: readonly ConnectLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL', 'OFF'];
export const ROOT_LOGGER = 'root';

/** Kafka Connect's LoggerLevel JSON shape: `last_modified` is epoch millis, null when never set at runtime. */
export interface LoggerLevel {
  level: ConnectLevel;
  last_modified: number | null;
}

const TO_PINO: Record<ConnectLevel, LevelWithSilent> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error', FATAL: 'fatal', OFF: 'silent',
};

/** A level name in any case, in Connect's (log4j's) or pino's spelling; undefined when unknown. */
export function parseLevel(value: string): ConnectLevel | undefined {
  const v = value.trim().toUpperCase();
  if (v === 'ALL') return 'TRACE';
  if (v === 'SILENT') return 'OFF';
  if (v === 'WARNING') return 'WARN';
  return (CONNECT_LEVELS as readonly string[]).includes(v) ? (v as ConnectLevel) : undefined;
}

export function toPinoLevel(level: ConnectLevel): LevelWithSilent {
  return TO_PINO[level];
}

// ---- The level registry ----------------------------------------------------------------------

interface Leveled {
  level: string;
}

interface Entry {
  explicit: ConnectLevel | null;
  lastModified: number | null;
  /** Live loggers of this name; weak, so per-task loggers go away with their tasks. */
  loggers: Set<WeakRef<Leveled>>;
}

/**
 * Named loggers and their levels (log4j's hierarchy, as Connect exposes it). Attached loggers get
 * their `level` property updated when the effective level of their name changes.
 */
export class LoggerLevels {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private attachesSinceSweep = 0;

  constructor(rootLevel: ConnectLevel = 'INFO', now: () => number = Date.now) {
    this.now = now;
    this.entries.set(ROOT_LOGGER, { explicit: rootLevel, lastModified: null, loggers: new Set() });
  }

  /** The level a logger of this name logs at: its own, else its nearest ancestor's, else root's. */
  effective(name: string): ConnectLevel {
    if (name === ROOT_LOGGER) return this.entries.get(ROOT_LOGGER)!.explicit ?? 'INFO';
    let n: string | undefined = name;
    while (n !== undefined) {
      const level = this.entries.get(n)?.explicit;
      if (level) return level;
      const dot = n.lastIndexOf('.');
      n = dot > 0 ? n.slice(0, dot) : undefined;
    }
    return this.entries.get(ROOT_LOGGER)!.explicit ?? 'INFO';
  }

  /** Every known logger (created or set) with its effective level, root first, the rest by name. */
  list(): Record<string, LoggerLevel> {
    const out: Record<string, LoggerLevel> = { [ROOT_LOGGER]: this.get(ROOT_LOGGER)! };
    for (const name of [...this.entries.keys()].filter((n) => n !== ROOT_LOGGER).sort()) out[name] = this.get(name)!;
    return out;
  }

  /** A known logger's level, or undefined when no logger of that name exists. */
  get(name: string): LoggerLevel | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    return { level: this.effective(name), last_modified: entry.lastModified };
  }

  /**
   * Set the level of `namespace` and every logger below it (`namespace.` prefix; `root`: all).
   * Creates the namespace logger when absent. Returns the names affected, sorted, as Connect does.
   */
  set(namespace: string, level: ConnectLevel): string[] {
    const at = this.now();
    if (!this.entries.has(namespace)) this.entries.set(namespace, { explicit: null, lastModified: null, loggers: new Set() });
    const affected: string[] = [];
    for (const [name, entry] of this.entries) {
      if (namespace === ROOT_LOGGER || name === namespace || name.startsWith(`${namespace}.`)) {
        entry.explicit = level;
        entry.lastModified = at;
        affected.push(name);
      }
    }
    this.apply();
    return affected.sort();
  }

  /** The root level a worker starts with (its `log.level` config): not a runtime change, so no timestamp. */
  setDefault(level: ConnectLevel): void {
    this.entries.get(ROOT_LOGGER)!.explicit = level;
    this.apply();
  }

  /** Track a live logger under `name`, setting its level now and on every later change. */
  attach(name: string, logger: Leveled): void {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = { explicit: null, lastModified: null, loggers: new Set() };
      this.entries.set(name, entry);
    }
    entry.loggers.add(new WeakRef(logger));
    logger.level = toPinoLevel(this.effective(name));
    // Loggers of stopped tasks are collected; drop their refs now and then, not only on level changes.
    if (++this.attachesSinceSweep >= 1024) this.sweep();
  }

  /** How many loggers are tracked under `name` (some may be collected already): for tests. */
  trackedLoggers(name: string): number {
    return this.entries.get(name)?.loggers.size ?? 0;
  }

  private sweep(): void {
    this.attachesSinceSweep = 0;
    for (const entry of this.entries.values()) {
      for (const ref of entry.loggers) if (!ref.deref()) entry.loggers.delete(ref);
    }
  }

  private apply(): void {
    for (const [name, entry] of this.entries) {
      const pinoLevel = toPinoLevel(this.effective(name));
      for (const ref of entry.loggers) {
        const logger = ref.deref();
        if (logger) logger.level = pinoLevel;
        else entry.loggers.delete(ref);
      }
    }
  }
}

// ---- Redaction -------------------------------------------------------------------------------

export type Redactor = (line: string) => string;

let redactor: Redactor | null = null;

/** Install the function every serialized log line passes through before it is written (null: none). */
export function setRedactor(fn: Redactor | null): void {
  redactor = fn;
}

/**
 * A redactor replacing each of these secret values with `[hidden]`, both as written and as JSON
 * escapes them. Values shorter than 4 characters are ignored: replacing them would garble lines.
 */
export function secretRedactor(secrets: Iterable<string>): Redactor {
  const needles = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue;
    needles.add(s);
    needles.add(JSON.stringify(s).slice(1, -1));
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return (line) => line;
  return (line) => {
    let out = line;
    for (const n of sorted) if (out.includes(n)) out = out.split(n).join('[hidden]');
    return out;
  };
}

// ---- Output ----------------------------------------------------------------------------------

export interface LogSink {
  write(line: string): void;
}

export type LogFormat = 'json' | 'pretty';

const stdoutSink: LogSink = { write: (line) => void process.stdout.write(line) };

let sink: LogSink = stdoutSink;
let format: LogFormat = process.stdout.isTTY ? 'pretty' : 'json';
let colors = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

/** Stays the root logger's stream for its whole life, so reconfiguring reaches existing children. */
const destination = {
  write(line: string): void {
    sink.write(format === 'pretty' ? prettyLine(line, colors) : line);
  },
};

const LEVEL_LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const PRETTY_OMIT = new Set(['level', 'time', 'pid', 'hostname', 'logger', 'connector', 'task', 'msg']);

/** `2026-01-02T03:04:05.678Z INFO  [conn/0] tributary.engine.worker: message key=value` */
export function prettyLine(jsonLine: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const level = typeof rec.level === 'number' ? rec.level : 30;
  let label = (LEVEL_LABELS[level] ?? String(level)).padEnd(5);
  if (color) label = `\u001b[${LEVEL_COLORS[level] ?? '0'}m${label}\u001b[0m`;
  const time = typeof rec.time === 'string' ? rec.time : new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toISOString();
  let context = '';
  if (rec.connector !== undefined) context = rec.task !== undefined ? ` [${String(rec.connector)}/${String(rec.task)}]` : ` [${String(rec.connector)}]`;
  const name = typeof rec.logger === 'string' ? ` ${rec.logger}:` : '';
  const extras: string[] = [];
  let stack = '';
  for (const [k, v] of Object.entries(rec)) {
    if (PRETTY_OMIT.has(k)) continue;
    if (k === 'err' && v && typeof v === 'object' && typeof (v as { stack?: unknown }).stack === 'string') {
      stack = `\n    ${(v as { stack: string }).stack.split('\n').join('\n    ')}`;
      continue;
    }
    extras.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  const msg = typeof rec.msg === 'string' ? ` ${rec.msg}` : '';
  return `${time} ${label}${context}${name}${msg}${extras.length ? ` ${extras.join(' ')}` : ''}${stack}\n`;
}

// ---- The root logger and named loggers ---------------------------------------------------------

export const loggerLevels = new LoggerLevels(parseLevel(process.env.TRIBUTARY_LOG_LEVEL ?? '') ?? 'INFO');

const NAME = Symbol('tributary.loggerName');
/** Set while Fastify (or anyone) creates short-lived per-request children we should not track. */
let untracked = false;

const root: PinoLogger = pino(
  {
    level: toPinoLevel(loggerLevels.effective(ROOT_LOGGER)),
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'], censor: '[hidden]' },
    hooks: { streamWrite: (line) => (redactor ? redactor(line) : line) },
    // Children of named loggers (a connector's `context.logger.child({table})`) follow level changes too.
    onChild: (child) => {
      const name = (child as unknown as Record<symbol, string | undefined>)[NAME];
      if (name !== undefined && !untracked) loggerLevels.attach(name, child);
    },
  },
  destination,
);
loggerLevels.attach(ROOT_LOGGER, root);

export function rootLogger(): Logger {
  return root;
}

/**
 * A logger named `name` (dot-separated, e.g. `tributary.rest`), with `{logger: name, ...bindings}`
 * on every line. Its level follows the registry.
 */
export function getLogger(name: string, bindings: Record<string, unknown> = {}): Logger {
  const child = root.child({ logger: name, ...bindings });
  // pino children inherit from their parent by prototype, so descendants see this name too.
  Object.defineProperty(child, NAME, { value: name, enumerable: false });
  loggerLevels.attach(name, child);
  return child;
}

/** A child whose level is not tracked by name: for per-request loggers that live milliseconds. */
export function untrackedChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  untracked = true;
  try {
    return parent.child(bindings);
  } finally {
    untracked = false;
  }
}

/**
 * Reconfigure output at any time (existing loggers follow): `level` sets root (as the worker config
 * `log.level` would), `format` json|pretty, `destination` any `{write(line)}` (tests capture here).
 */
export function configureLogging(options: { level?: string; format?: LogFormat | 'auto'; destination?: LogSink | 'stdout'; colors?: boolean }): void {
  if (options.level !== undefined) {
    const level = parseLevel(options.level);
    if (!level) throw new Error(`Unknown log level "${options.level}"; use one of ${CONNECT_LEVELS.join(', ')}.`);
    loggerLevels.setDefault(level);
  }
  if (options.destination !== undefined) sink = options.destination === 'stdout' ? stdoutSink : options.destination;
  if (options.format !== undefined) format = options.format === 'auto' ? (process.stdout.isTTY ? 'pretty' : 'json') : options.format;
  if (options.colors !== undefined) colors = options.colors;
  else if (options.destination !== undefined) colors = options.destination === 'stdout' && Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}
