/**
 * URL templates: `${topic}`, `${partition}`, `${offset}`, `${key}`, `${key.<path>}` and
 * `${value.<path>}` (a dot path into a struct or map), each replaced by its URL-encoded value.
 * Placeholders may appear only in the path and query, never in the scheme, host or port, so the
 * address a sink calls is fixed by its config (and checked against the allowlist once).
 */
import type { SinkRecord } from '../../runtime/api/index.ts';

type Part = { text: string } | { field: 'topic' | 'partition' | 'offset' | 'key' | 'value'; path: string[]; source: string };

export class UrlTemplate {
  readonly source: string;
  readonly parts: Part[];
  /** The scheme, host and port: never templated. */
  readonly origin: string;
  readonly isStatic: boolean;
  /** Whether the template reads the record key or value (records missing them cannot be sent). */
  readonly usesRecord: boolean;

  private constructor(source: string, parts: Part[], origin: string) {
    this.source = source;
    this.parts = parts;
    this.origin = origin;
    this.isStatic = parts.every((p) => 'text' in p);
    this.usesRecord = parts.some((p) => 'field' in p && (p.field === 'key' || p.field === 'value'));
  }

  /** Parses a template; throws an Error whose message says what is wrong (the caller names the field). */
  static parse(source: string): UrlTemplate {
    const parts: Part[] = [];
    let i = 0;
    while (i < source.length) {
      const open = source.indexOf('${', i);
      if (open < 0) {
        parts.push({ text: source.slice(i) });
        break;
      }
      if (open > i) parts.push({ text: source.slice(i, open) });
      const close = source.indexOf('}', open);
      if (close < 0) throw new Error(`Unclosed placeholder at character ${open + 1}: "${source.slice(open)}". Close it with "}".`);
      const name = source.slice(open + 2, close).trim();
      parts.push(placeholder(name));
      i = close + 1;
    }
    const firstPlaceholder = source.indexOf('${');
    const slashes = source.indexOf('//');
    const authorityEnd = slashes < 0 ? -1 : source.slice(slashes + 2).search(/[/?#]/);
    const originEnd = slashes < 0 ? 0 : authorityEnd < 0 ? source.length : slashes + 2 + authorityEnd;
    if (firstPlaceholder >= 0 && firstPlaceholder < originEnd) {
      throw new Error('Placeholders may appear only in the path and query, not in the scheme, host or port (the address a connector calls is fixed by its config).');
    }
    // Render with sample values to check the result is a URL, and that the origin holds no placeholder.
    const sample = parts.map((p) => ('text' in p ? p.text : 'x')).join('');
    let url: URL;
    try {
      url = new URL(sample);
    } catch {
      throw new Error('Not a valid URL; expected something like http://host:port/path/${topic}.');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('The URL scheme must be http or https.');
    return new UrlTemplate(source, parts, url.origin);
  }

  /** The URL for one record; throws an Error when the record lacks a field the template needs. */
  render(record: SinkRecord): string {
    if (this.isStatic) return this.source;
    let out = '';
    for (const p of this.parts) {
      if ('text' in p) {
        out += p.text;
        continue;
      }
      out += encodeURIComponent(fieldValue(record, p));
    }
    return out;
  }
}

function placeholder(name: string): Part {
  const [head, ...path] = name.split('.');
  if ((head === 'topic' || head === 'partition' || head === 'offset') && path.length === 0) return { field: head, path, source: name };
  if ((head === 'key' || head === 'value') && path.every((s) => s !== '')) return { field: head, path, source: name };
  throw new Error(`Unknown placeholder \${${name}}; use \${topic}, \${partition}, \${offset}, \${key}, \${key.<field>} or \${value.<field>}.`);
}

function fieldValue(record: SinkRecord, p: Extract<Part, { field: string }>): string {
  switch (p.field) {
    case 'topic':
      return record.topic;
    case 'partition':
      return String(record.kafkaPartition);
    case 'offset':
      return String(record.kafkaOffset);
    default: {
      let v: unknown = p.field === 'key' ? record.key : record.value;
      for (const seg of p.path) {
        v = v !== null && typeof v === 'object' ? (v instanceof Map ? v.get(seg) : (v as Record<string, unknown>)[seg]) : undefined;
      }
      if (v === null || v === undefined) throw new Error(`the URL template needs \${${p.source}}, which this record does not have`);
      if (typeof v === 'object') {
        if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
        return JSON.stringify(v);
      }
      return String(v);
    }
  }
}
