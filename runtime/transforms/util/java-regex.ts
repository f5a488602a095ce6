/**
 * Java regular expressions (java.util.regex.Pattern) as JavaScript RegExps, for the configs that
 * Connect documents as Java regexes (RegexRouter, TopicNameMatches).
 *
 * The common syntax is the same in both. Translated here: leading inline flags `(?i)`, `(?s)`,
 * `(?m)`; `\Q...\E` quoting; the `\A`, `\z`, `\Z` anchors. Unicode property classes (`\p{L}`)
 * switch on the `u` flag. Java-only constructs that JavaScript lacks (possessive quantifiers,
 * atomic groups, class intersections `[a-z&&[^x]]`, `(?x)`) are refused or fail to compile, so
 * they surface as config errors instead of silently matching something else.
 */
import { custom, type Validator } from '../../api/config-spec.ts';

export interface JavaRegex {
  readonly source: string;
  /** Matches only the whole input (Matcher.matches()). Use fullMatch(). */
  readonly whole: RegExp;
  readonly groupCount: number;
  readonly groupNames: readonly string[];
}

/** Throws an Error with a message fit for a config error when the pattern cannot be used. */
export function compileJavaRegex(source: string): JavaRegex {
  const { pattern, flags } = translate(source);
  let probe: RegExpExecArray | null;
  let whole: RegExp;
  try {
    whole = new RegExp(`(?:${pattern})(?![\\s\\S])`, `${flags}y`);
    probe = new RegExp(`${pattern}|`, flags).exec('');
  } catch (e) {
    throw new Error(`Not a valid regular expression: ${(e as Error).message}`);
  }
  return {
    source,
    whole,
    groupCount: (probe?.length ?? 1) - 1,
    groupNames: Object.keys(probe?.groups ?? {}),
  };
}

/** The match of the whole input, or null (Java's Matcher.matches()). */
export function fullMatch(regex: JavaRegex, input: string): RegExpExecArray | null {
  regex.whole.lastIndex = 0;
  return regex.whole.exec(input);
}

function translate(source: string): { pattern: string; flags: string } {
  const flags = new Set<string>();
  let i = 0;
  for (;;) {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(source.slice(i));
    if (!m) break;
    for (const f of m[1]) {
      if (f === 'i' || f === 'm' || f === 's') flags.add(f);
      else if (f === 'u' || f === 'd' || f === 'U') continue;
      else if (f === 'x') throw new Error('The (?x) comments flag of Java regexes is not supported; remove the whitespace and comments.');
      else throw new Error(`Unknown inline flag (?${f}) in regular expression.`);
    }
    i += m[0].length;
  }
  let out = '';
  let inClass = false;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) throw new Error('Not a valid regular expression: it ends with a lone backslash.');
      if (n === 'Q') {
        const end = source.indexOf('\\E', i + 2);
        const quoted = end < 0 ? source.slice(i + 2) : source.slice(i + 2, end);
        out += quoted.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
        i = end < 0 ? source.length : end + 2;
        continue;
      }
      if (!inClass && n === 'A') out += '(?<![\\s\\S])';
      else if (!inClass && n === 'z') out += '(?![\\s\\S])';
      else if (!inClass && n === 'Z') out += '(?=\\n?(?![\\s\\S]))';
      else {
        if (n === 'p' || n === 'P') flags.add('u');
        out += c + n;
      }
      i += 2;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    else if (inClass && c === '&' && source[i + 1] === '&') {
      throw new Error('Character class intersections (&&) of Java regexes are not supported.');
    }
    out += c;
    i++;
  }
  return { pattern: out, flags: [...flags].join('') };
}

type ReplacementPart = string | number | { name: string };

/**
 * A Java replacement string (Matcher.replaceFirst): `$n` and `${name}` refer to groups, `\x`
 * is a literal x. Group references are checked against the regex now, not on the first record.
 */
export function compileJavaReplacement(replacement: string, regex: JavaRegex): (match: RegExpExecArray) => string {
  const parts: ReplacementPart[] = [];
  let literal = '';
  const flush = () => {
    if (literal) parts.push(literal);
    literal = '';
  };
  let i = 0;
  while (i < replacement.length) {
    const c = replacement[i];
    if (c === '\\') {
      if (i + 1 >= replacement.length) throw new Error('The replacement ends with a backslash; escape a literal backslash as \\\\.');
      literal += replacement[i + 1];
      i += 2;
      continue;
    }
    if (c !== '$') {
      literal += c;
      i++;
      continue;
    }
    i++;
    if (replacement[i] === '{') {
      const end = replacement.indexOf('}', i);
      if (end < 0) throw new Error(`The group reference at position ${i - 1} of the replacement is missing its closing '}'.`);
      const name = replacement.slice(i + 1, end);
      if (!regex.groupNames.includes(name)) throw new Error(`The replacement refers to group \${${name}}, but the regex has no group named "${name}".`);
      flush();
      parts.push({ name });
      i = end + 1;
      continue;
    }
    const digit = (j: number) => (replacement[j] >= '0' && replacement[j] <= '9' ? Number(replacement[j]) : undefined);
    const first = digit(i);
    if (first === undefined) {
      throw new Error(`Illegal group reference at position ${i - 1} of the replacement: '$' must be followed by a group number or {name}; write \\$ for a literal dollar sign.`);
    }
    let ref: number = first;
    if (ref > regex.groupCount) throw new Error(`The replacement refers to group $${ref}, but the regex has only ${regex.groupCount} group(s).`);
    i++;
    for (let d = digit(i); d !== undefined; d = digit(i)) {
      const longer: number = ref * 10 + d;
      if (longer > regex.groupCount) break;
      ref = longer;
      i++;
    }
    flush();
    parts.push(ref);
  }
  flush();
  return (match) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else if (typeof p === 'number') out += match[p] ?? '';
      else out += match.groups?.[p.name] ?? '';
    }
    return out;
  };
}

/** A config validator: the value must compile with compileJavaRegex. */
export function javaRegexValidator(): Validator<string> {
  return custom<string>((v) => {
    try {
      compileJavaRegex(v);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }, 'a Java regular expression');
}
