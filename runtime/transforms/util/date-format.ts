/**
 * The part of java.text.SimpleDateFormat that Connect transforms' `format`/`timestamp.format`
 * configs use, always in UTC (as TimestampConverter and TimestampRouter set it).
 *
 * Supported letters: y M L D d E u a H k K h m s S z Z X, quoted literals ('T', '' for a quote).
 * Other letters Java accepts (G Y w W F) are refused with a clear message rather than guessed at.
 * Parsing follows SimpleDateFormat's lenient defaults: it reads from the start of the text and
 * ignores what follows the pattern, out-of-range fields roll over (month 13 is January next
 * year), two-digit years land within 80 years before and 20 after now, and a numeric field that
 * directly precedes another numeric field (yyyyMMdd) reads exactly its pattern width.
 */

type Token = { kind: 'literal'; text: string } | { kind: 'field'; letter: string; count: number };

export interface DateFormat {
  readonly pattern: string;
  format(epochMillis: number): string;
  /** Epoch milliseconds; throws an Error saying where the text stopped matching. */
  parse(text: string): number;
}

const JAVA_LETTERS = 'GyYMLwWDdFEuaHkKhmsSzZX';
const SUPPORTED_LETTERS = 'yMLDdEuaHkKhmsSzZX';
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MS_PER_DAY = 86_400_000;

/** Throws an Error naming the problem when the pattern is not one we can honour. */
export function compileDateFormat(pattern: string): DateFormat {
  const tokens = tokenize(pattern);
  return {
    pattern,
    format: (ms) => format(tokens, ms),
    parse: (text) => parse(tokens, pattern, text),
  };
}

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  const literal = (text: string) => {
    const last = tokens[tokens.length - 1];
    if (last?.kind === 'literal') last.text += text;
    else tokens.push({ kind: 'literal', text });
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === "'") {
      if (pattern[i + 1] === "'") {
        literal("'");
        i += 2;
        continue;
      }
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= pattern.length) throw new Error(`Unterminated quote in date pattern "${pattern}".`);
        if (pattern[j] === "'") {
          if (pattern[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += pattern[j++];
      }
      literal(text);
      i = j + 1;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      if (!JAVA_LETTERS.includes(c)) throw new Error(`Illegal pattern character '${c}' in date pattern "${pattern}"; quote literal text, e.g. 'T'.`);
      if (!SUPPORTED_LETTERS.includes(c)) {
        throw new Error(`Pattern letter '${c}' in "${pattern}" is not supported; supported letters are ${SUPPORTED_LETTERS.split('').join(' ')}.`);
      }
      let j = i;
      while (pattern[j] === c) j++;
      const count = j - i;
      if (c === 'X' && count > 3) throw new Error(`Invalid ISO 8601 zone 'X' of length ${count} in date pattern "${pattern}" (use X, XX or XXX).`);
      tokens.push({ kind: 'field', letter: c, count });
      i = j;
      continue;
    }
    literal(c);
    i++;
  }
  return tokens;
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n)).padStart(width, '0');
  return n < 0 ? `-${s}` : s;
}

function format(tokens: Token[], ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new Error(`Cannot format ${ms}: not a valid time.`);
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'literal') {
      out += t.text;
      continue;
    }
    const n = t.count;
    const hour = d.getUTCHours();
    switch (t.letter) {
      case 'y': {
        const year = d.getUTCFullYear();
        out += n === 2 ? pad(((year % 100) + 100) % 100, 2) : pad(year, n);
        break;
      }
      case 'M':
      case 'L':
        out += n >= 4 ? MONTHS[d.getUTCMonth()] : n === 3 ? MONTHS[d.getUTCMonth()].slice(0, 3) : pad(d.getUTCMonth() + 1, n);
        break;
      case 'D': {
        const startOfYear = new Date(0);
        startOfYear.setUTCFullYear(d.getUTCFullYear(), 0, 1);
        out += pad(Math.floor((ms - startOfYear.getTime()) / MS_PER_DAY) + 1, n);
        break;
      }
      case 'd':
        out += pad(d.getUTCDate(), n);
        break;
      case 'E':
        out += n >= 4 ? DAYS[d.getUTCDay()] : DAYS[d.getUTCDay()].slice(0, 3);
        break;
      case 'u':
        out += pad(((d.getUTCDay() + 6) % 7) + 1, n);
        break;
      case 'a':
        out += hour < 12 ? 'AM' : 'PM';
        break;
      case 'H':
        out += pad(hour, n);
        break;
      case 'k':
        out += pad(hour === 0 ? 24 : hour, n);
        break;
      case 'K':
        out += pad(hour % 12, n);
        break;
      case 'h':
        out += pad(hour % 12 === 0 ? 12 : hour % 12, n);
        break;
      case 'm':
        out += pad(d.getUTCMinutes(), n);
        break;
      case 's':
        out += pad(d.getUTCSeconds(), n);
        break;
      case 'S':
        out += pad(d.getUTCMilliseconds(), n);
        break;
      case 'z':
        out += n >= 4 ? 'Coordinated Universal Time' : 'UTC';
        break;
      case 'Z':
        out += '+0000';
        break;
      case 'X':
        out += 'Z';
        break;
    }
  }
  return out;
}

function isNumeric(t: Token | undefined): boolean {
  if (!t || t.kind !== 'field') return false;
  if (t.letter === 'M' || t.letter === 'L') return t.count <= 2;
  return 'yDduHkKhmsS'.includes(t.letter);
}

class Cursor {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  skipSpaces(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  /** Digits: exactly `width` of them when given, else as many as there are (at least one). */
  digits(width?: number): { value: number; length: number } | undefined {
    const start = this.pos;
    let end = start;
    while (end < this.text.length && this.text[end] >= '0' && this.text[end] <= '9' && (width === undefined || end - start < width)) end++;
    if (end === start || (width !== undefined && end - start !== width)) return undefined;
    this.pos = end;
    return { value: Number(this.text.slice(start, end)), length: end - start };
  }

  /** The index of the longest name that the text continues with (case-insensitive). */
  oneOf(names: string[]): number | undefined {
    let best: number | undefined;
    let bestLength = 0;
    const rest = this.text.slice(this.pos).toLowerCase();
    names.forEach((name, i) => {
      if (name.length > bestLength && rest.startsWith(name.toLowerCase())) {
        best = i;
        bestLength = name.length;
      }
    });
    if (best !== undefined) this.pos += bestLength;
    return best;
  }

  /** A zone offset in minutes: Z, UTC or GMT (optionally followed by an offset), or ±HH, ±HHMM, ±HH:MM. */
  zone(): number | undefined {
    const rest = this.text.slice(this.pos);
    const m = /^(?:(Z)(?![a-z])|(?:(UTC|GMT)(?:([+-])(\d{1,2})(?::?(\d{2}))?)?)|([+-])(\d{2})(?::?(\d{2}))?)/i.exec(rest);
    if (!m) return undefined;
    this.pos += m[0].length;
    if (m[1]) return 0;
    const sign = m[3] ?? m[6];
    if (!sign) return 0;
    const hours = Number(m[4] ?? m[7]);
    const minutes = Number(m[5] ?? m[8] ?? 0);
    return (sign === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
}

function parse(tokens: Token[], pattern: string, text: string): number {
  const c = new Cursor(text);
  let year = 1970;
  let month = 0;
  let day = 1;
  let dayOfYear: number | undefined;
  let hourOfDay: number | undefined;
  let hour12: number | undefined;
  let pm: boolean | undefined;
  let minute = 0;
  let second = 0;
  let milli = 0;
  let offsetMinutes = 0;
  const fail = (): never => {
    throw new Error(`Unparseable date "${text}": it does not match the pattern "${pattern}" at position ${c.pos}.`);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'literal') {
      if (!text.startsWith(t.text, c.pos)) fail();
      c.pos += t.text.length;
      continue;
    }
    c.skipSpaces();
    const width = isNumeric(t) && isNumeric(tokens[i + 1]) ? t.count : undefined;
    const num = () => c.digits(width) ?? fail();
    switch (t.letter) {
      case 'y': {
        const { value, length } = num();
        year = t.count <= 2 && length === 2 ? twoDigitYear(value) : value;
        break;
      }
      case 'M':
      case 'L':
        if (t.count >= 3) {
          const full = c.oneOf([...MONTHS, ...MONTHS.map((m) => m.slice(0, 3))]) ?? fail();
          month = full % 12;
        } else {
          month = num().value - 1;
        }
        break;
      case 'D':
        dayOfYear = num().value;
        break;
      case 'd':
        day = num().value;
        break;
      case 'E':
        if (c.oneOf([...DAYS, ...DAYS.map((d) => d.slice(0, 3))]) === undefined) fail();
        break;
      case 'u':
        num();
        break;
      case 'a':
        pm = (c.oneOf(['AM', 'PM']) ?? fail()) === 1;
        break;
      case 'H':
        hourOfDay = num().value;
        break;
      case 'k': {
        const v = num().value;
        hourOfDay = v === 24 ? 0 : v;
        break;
      }
      case 'K':
        hour12 = num().value;
        break;
      case 'h': {
        const v = num().value;
        hour12 = v === 12 ? 0 : v;
        break;
      }
      case 'm':
        minute = num().value;
        break;
      case 's':
        second = num().value;
        break;
      case 'S':
        milli = num().value;
        break;
      case 'z':
      case 'Z':
      case 'X':
        offsetMinutes = c.zone() ?? fail();
        break;
    }
  }
  if (dayOfYear !== undefined) {
    month = 0;
    day = dayOfYear;
  }
  const hour = hourOfDay ?? (hour12 ?? 0) + (pm ? 12 : 0);
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, minute, second, milli);
  const ms = d.getTime() - offsetMinutes * 60_000;
  if (Number.isNaN(ms)) fail();
  return ms;
}

function twoDigitYear(yy: number): number {
  const start = new Date().getUTCFullYear() - 80;
  let year = Math.floor(start / 100) * 100 + yy;
  if (year < start) year += 100;
  return year;
}
