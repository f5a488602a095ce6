/** Command-line parsing: `--flag value`, `--flag=value`, boolean `--flag`, `-h`, and `--` to end flags. */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  positionals: string[];
  values: Map<string, string>;
  booleans: Set<string>;
}

/** `valueFlags` take a value; every other flag is boolean. Unknown flags are kept for the caller to judge. */
export function parseArgs(argv: string[], valueFlags: ReadonlySet<string>): ParsedArgs {
  const out: ParsedArgs = { positionals: [], values: new Map(), booleans: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h') {
      out.booleans.add('help');
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      if (arg.startsWith('-') && arg.length > 1) throw new UsageError(`Unknown option ${arg}.`);
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (valueFlags.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`Option --${name} needs a value.`);
      out.values.set(name, value);
    } else {
      if (eq >= 0) throw new UsageError(`Option --${name} takes no value.`);
      out.booleans.add(name);
    }
  }
  return out;
}
