/**
 * Partitioners (which folder a record goes to) and timestamp extractors, as the Confluent storage
 * partitioners name them: `partition=<p>`, `<field>=<value>`, or a time pattern such as
 * `year=2026/month=11/day=25/hour=19`.
 */
import { ConfigError, DataError } from '../../runtime/api/index.ts';
import type { SinkRecord } from '../../runtime/api/index.ts';
import { EXTRACTORS, PARTITIONERS } from './config.ts';
import type { S3SinkConfig } from './config.ts';

export interface Partitioner {
  /** The folder path of this record below `<topics.dir>/<topic>/`, '/'-separated. Throws DataError when the record has no value for it. */
  encode(record: SinkRecord): string;
  /** Same record, same folder, whenever it is written: the condition for exactly-once by object name. */
  readonly deterministic: boolean;
}

export type TimestampExtractor = ((record: SinkRecord) => number) & { deterministic: boolean };

export function timestampExtractor(cfg: S3SinkConfig): TimestampExtractor {
  const kind = EXTRACTORS[cfg['timestamp.extractor']];
  if (kind === 'record') {
    return Object.assign((r: SinkRecord) => {
      if (r.timestamp === undefined || r.timestamp < 0) throw new DataError(`Record ${where(r)} has no timestamp, which timestamp.extractor=Record needs.`);
      return r.timestamp;
    }, { deterministic: true });
  }
  if (kind === 'recordfield') {
    const path = cfg['timestamp.field'].split('.');
    return Object.assign((r: SinkRecord) => toMillis(fieldAt(r.value, path), r, cfg['timestamp.field']), { deterministic: true });
  }
  return Object.assign(() => Date.now(), { deterministic: false });
}

export function createPartitioner(cfg: S3SinkConfig, extract: TimestampExtractor): Partitioner {
  const kind = PARTITIONERS[cfg['partitioner.class']];
  if (kind === 'field') {
    const fields = cfg['partition.field.name'];
    if (fields.length === 0) {
      const message = 'The field partitioner needs partition.field.name (one or more value fields).';
      throw new ConfigError(message, [{ name: 'partition.field.name', message }]);
    }
    const paths = fields.map((f) => f.split('.'));
    return {
      deterministic: true,
      encode(r) {
        return paths.map((p, i) => {
          const v = fieldAt(r.value, p);
          if (v === undefined || v === null) throw new DataError(`Record ${where(r)} has no value for partition.field.name ${fields[i]}.`);
          return `${fields[i]}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
        }).join('/');
      },
    };
  }
  if (kind === 'time' || kind === 'hourly' || kind === 'daily') {
    const format = kind === 'hourly' ? "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH" : kind === 'daily' ? "'year'=YYYY/'month'=MM/'day'=dd" : cfg['path.format'];
    const duration = kind === 'hourly' ? 3_600_000 : kind === 'daily' ? 86_400_000 : cfg['partition.duration.ms'];
    const errors = [];
    if (!format) errors.push({ name: 'path.format', message: "The time partitioner needs path.format, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH." });
    if (!(duration > 0)) errors.push({ name: 'partition.duration.ms', message: 'The time partitioner needs partition.duration.ms > 0 (3600000 for hourly folders).' });
    if (errors.length > 0) throw ConfigError.fromFields(errors);
    const zone = new Zone(cfg.timezone || 'UTC');
    const pattern = compilePattern(format);
    const cache = new Map<number, string>();
    return {
      deterministic: extract.deterministic,
      encode(r) {
        const bucket = zone.floor(extract(r), duration);
        let path = cache.get(bucket);
        if (path === undefined) {
          path = pattern(zone.parts(bucket));
          if (cache.size > 1000) cache.clear();
          cache.set(bucket, path);
        }
        return path;
      },
    };
  }
  return { deterministic: true, encode: (r) => `partition=${r.kafkaPartition}` };
}

export function where(r: SinkRecord): string {
  return `${r.topic}-${r.kafkaPartition}@${r.kafkaOffset}`;
}

function fieldAt(value: unknown, path: string[]): unknown {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function toMillis(v: unknown, r: SinkRecord, field: string): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const n = /^-?\d+$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isFinite(n)) return n;
  }
  throw new DataError(`Record ${where(r)}: timestamp.field ${field} is ${v === undefined ? 'missing' : JSON.stringify(v)}, not a time (epoch milliseconds, a Date or an ISO-8601 string).`);
}

export interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millis: number;
}

/** Wall-clock arithmetic in one IANA zone. */
export class Zone {
  private readonly fmt: Intl.DateTimeFormat | null;

  constructor(name: string) {
    this.fmt = name === 'UTC' || name === 'Etc/UTC' ? null : new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
  }

  parts(ms: number): DateParts {
    if (!this.fmt) {
      const d = new Date(ms);
      return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), millis: d.getUTCMilliseconds() };
    }
    const p: Record<string, number> = {};
    for (const x of this.fmt.formatToParts(new Date(ms))) if (x.type !== 'literal') p[x.type] = Number(x.value);
    return { year: p.year, month: p.month, day: p.day, hour: p.hour, minute: p.minute, second: p.second, millis: ((ms % 1000) + 1000) % 1000 };
  }

  /** Milliseconds to add to UTC to get local wall-clock time at `ms`. */
  offset(ms: number): number {
    if (!this.fmt) return 0;
    const p = this.parts(ms);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second, p.millis) - ms;
  }

  /** The start of the `duration`-wide bucket holding `ms`, aligned in local time (as Confluent's TimeBasedPartitioner aligns). */
  floor(ms: number, duration: number): number {
    const off = this.offset(ms);
    const local = ms + off;
    return Math.floor(local / duration) * duration - off;
  }
}

/** A Joda-style pattern ('literal' quoted, YYYY yyyy MM dd HH mm ss SSS) compiled to a formatter. */
export function compilePattern(pattern: string): (p: DateParts) => string {
  const parts: Array<string | ((p: DateParts) => string)> = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end === i + 1) {
        parts.push("'");
        i += 2;
        continue;
      }
      if (end < 0) throw new ConfigError(`path.format ${pattern}: unclosed quote`, [{ name: 'path.format', message: 'A quote opens literal text and must be closed.' }]);
      parts.push(pattern.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (j < pattern.length && pattern[j] === c) j++;
      const n = j - i;
      const pad = (v: number) => String(v).padStart(n, '0');
      const field: Record<string, (p: DateParts) => string> = {
        Y: (p) => (n === 2 ? pad(p.year % 100) : pad(p.year)),
        y: (p) => (n === 2 ? pad(p.year % 100) : pad(p.year)),
        M: (p) => pad(p.month),
        d: (p) => pad(p.day),
        H: (p) => pad(p.hour),
        m: (p) => pad(p.minute),
        s: (p) => pad(p.second),
        S: (p) => String(p.millis).padStart(3, '0').slice(0, n),
      };
      const f = field[c];
      if (!f) throw new ConfigError(`path.format ${pattern}: unsupported letter ${c}`, [{ name: 'path.format', message: `Unsupported pattern letter ${c}; use YYYY, MM, dd, HH, mm, ss, SSS and 'quoted' text.` }]);
      parts.push(f);
      i = j;
      continue;
    }
    parts.push(c);
    i++;
  }
  return (p) => parts.map((x) => (typeof x === 'string' ? x : x(p))).join('');
}
