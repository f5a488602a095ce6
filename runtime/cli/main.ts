#!/usr/bin/env node
/**
 * The `tributary` command: `start` runs a worker; everything else is a client of a running worker's
 * REST API (the Kafka Connect API), so it works against any worker of a cluster.
 *
 * Exit codes: 0 done, 1 failed (the worker refused, or could not be reached), 2 bad usage.
 */
import { PACKAGE } from '../engine/package-info.ts';
import { parseArgs, UsageError } from './args.ts';
import { apply } from './apply.ts';
import { RestClient, RestError, UnreachableError } from './client.ts';
import {
  connectorsDelete,
  connectorsGet,
  connectorsList,
  connectorsRestart,
  connectorsSignal,
  connectorsStatus,
  connectorsTargetState,
  offsetsGet,
  offsetsReset,
  pluginsList,
} from './commands.ts';
import type { Context } from './context.ts';

const DEFAULT_URL = 'http://127.0.0.1:8083';
const VALUE_FLAGS = new Set(['url', 'user', 'password', 'token']);
const GLOBAL_FLAGS = new Set(['url', 'user', 'password', 'token', 'json', 'help']);

interface Command {
  /** Words after `tributary`, e.g. ['connectors', 'status']. */
  words: string[];
  aliases?: string[][];
  /** Positional arguments: `<name>` required, `[<name>]` optional. */
  args: string[];
  summary: string;
  details?: string;
  /** Extra boolean flags of this command, with their help. */
  flags?: Record<string, string>;
  run(ctx: Context, args: string[]): Promise<number>;
}

const APPLY_DETAILS = `Every *.json file (of a directory, not recursive) holds one connector in Kafka Connect's format:
  {"name": "orders-cdc", "config": {"connector.class": "...", ...}}
Each is PUT to /connectors/{name}/config; the result is printed per file: created, updated or
unchanged. Files are all checked before anything is applied. Configs with secrets are always
re-applied (the worker masks secrets, so they cannot be compared).`;

const COMMANDS: Command[] = [
  { words: ['apply'], args: ['<dir|file>'], summary: 'Create or update connectors from JSON files', details: APPLY_DETAILS, run: (ctx, [t]) => apply(ctx, t) },
  { words: ['connectors', 'list'], aliases: [['connectors', 'ls']], args: [], summary: 'List connectors with their state and tasks', run: (ctx) => connectorsList(ctx) },
  { words: ['connectors', 'get'], args: ['<name>'], summary: "Show a connector's config and tasks", run: (ctx, [n]) => connectorsGet(ctx, n) },
  {
    words: ['connectors', 'status'],
    args: ['[<name>]'],
    summary: 'Show the state of connectors and their tasks, with failure traces',
    flags: { watch: 'with a name: progress bars of its snapshots and backfills, redrawn every second until done' },
    run: (ctx, [n]) => connectorsStatus(ctx, n),
  },
  { words: ['connectors', 'apply'], args: ['<dir|file>'], summary: 'Same as `tributary apply`', details: APPLY_DETAILS, run: (ctx, [t]) => apply(ctx, t) },
  { words: ['connectors', 'delete'], aliases: [['connectors', 'rm']], args: ['<name>'], summary: 'Delete a connector (its offsets are kept)', run: (ctx, [n]) => connectorsDelete(ctx, n) },
  { words: ['connectors', 'pause'], args: ['<name>'], summary: 'Pause a connector and its tasks', run: (ctx, [n]) => connectorsTargetState(ctx, n, 'pause') },
  { words: ['connectors', 'resume'], args: ['<name>'], summary: 'Resume a paused or stopped connector', run: (ctx, [n]) => connectorsTargetState(ctx, n, 'resume') },
  {
    words: ['connectors', 'stop'],
    args: ['<name>'],
    summary: 'Stop a connector and shut its tasks down (needed before offsets can be changed)',
    run: (ctx, [n]) => connectorsTargetState(ctx, n, 'stop'),
  },
  {
    words: ['connectors', 'restart'],
    args: ['<name>'],
    summary: 'Restart a connector (and optionally its tasks)',
    flags: { 'include-tasks': 'restart its tasks too', 'only-failed': 'restart only the instances that FAILED' },
    run: (ctx, [n]) => connectorsRestart(ctx, n),
  },
  {
    words: ['connectors', 'signal'],
    args: ['<name>', '<type>', '[<data-json>]'],
    summary: "Send a signal to a source connector's tasks, e.g. execute-snapshot '{\"data-collections\":[\"public.orders\"]}'",
    run: (ctx, [n, type, data]) => connectorsSignal(ctx, n, type, data),
  },
  { words: ['offsets', 'get'], args: ['<name>'], summary: "Show a connector's committed offsets", run: (ctx, [n]) => offsetsGet(ctx, n) },
  {
    words: ['offsets', 'reset'],
    args: ['<name>'],
    summary: "Delete a connector's committed offsets (the connector must be stopped)",
    run: (ctx, [n]) => offsetsReset(ctx, n),
  },
  {
    words: ['plugins'],
    aliases: [['plugins', 'list']],
    args: [],
    summary: 'List installed connector plugins',
    flags: { all: 'include transforms, predicates and converters' },
    run: (ctx) => pluginsList(ctx),
  },
];

const GLOBAL_HELP = `Options for client commands:
  --url <url>          worker REST URL (env TRIBUTARY_URL; default ${DEFAULT_URL})
  --user <user>        basic authentication user (env TRIBUTARY_USER)
  --password <pw>      basic authentication password (env TRIBUTARY_PASSWORD)
  --token <token>      bearer token (env TRIBUTARY_TOKEN)
  --json               print the worker's JSON instead of tables
  -h, --help           help for any command`;

function usageLine(c: Command): string {
  return ['tributary', ...c.words, ...c.args].join(' ');
}

function mainHelp(): string {
  const rows: Array<[string, string]> = [['tributary start [options]', 'Run a worker (`tributary start --help`)'], ...COMMANDS.map((c) => [usageLine(c), c.summary] as [string, string])];
  const width = Math.max(...rows.map((r) => r[0].length));
  return `tributary: data pipelines with Kafka Connect's model, on Node.js.

Usage:
${rows.map(([u, s]) => `  ${u.padEnd(width)}  ${s}`).join('\n')}

${GLOBAL_HELP}
`;
}

function commandHelp(c: Command): string {
  const flags = Object.entries(c.flags ?? {}).map(([f, d]) => `  --${f.padEnd(18)} ${d}`);
  return `Usage: ${usageLine(c)}${flags.length ? ' [options]' : ''}

${c.summary}.${c.details ? `\n\n${c.details}` : ''}
${flags.length ? `\nOptions:\n${flags.join('\n')}\n` : ''}
${GLOBAL_HELP}
`;
}

function groupHelp(group: string): string {
  const cmds = COMMANDS.filter((c) => c.words[0] === group);
  const width = Math.max(...cmds.map((c) => usageLine(c).length));
  return `Usage:\n${cmds.map((c) => `  ${usageLine(c).padEnd(width)}  ${c.summary}`).join('\n')}\n\n${GLOBAL_HELP}\n`;
}

function findCommand(positionals: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[]; len: number } | undefined;
  for (const command of COMMANDS) {
    for (const words of [command.words, ...(command.aliases ?? [])]) {
      const matches = words.every((w, i) => positionals[i] === w || (i === 0 && w === 'connectors' && positionals[i] === 'connector'));
      if (matches && (!best || words.length > best.len)) best = { command, rest: positionals.slice(words.length), len: words.length };
    }
  }
  return best && { command: best.command, rest: best.rest };
}

/** Index of the subcommand word, skipping global flags (and their values) before it. */
function firstPositional(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-')) return i;
    if (a.startsWith('--') && !a.includes('=') && VALUE_FLAGS.has(a.slice(2))) i++;
  }
  return -1;
}

export async function main(argv: string[], io: { out(text: string): void; err(text: string): void } = defaultIo): Promise<number> {
  const at = firstPositional(argv);
  if (at >= 0 && argv[at] === 'start') {
    // start.ts is the worker's entry point; loaded only for `start`, so client commands stay light.
    const { runStart } = await import('./start.ts');
    return runStart([...argv.slice(0, at), ...argv.slice(at + 1)]);
  }

  let parsed;
  try {
    parsed = parseArgs(argv, VALUE_FLAGS);
  } catch (e) {
    io.err(`${(e as Error).message} See \`tributary --help\`.\n`);
    return 2;
  }
  const { positionals, values, booleans } = parsed;
  if (booleans.has('version') || positionals[0] === 'version') {
    io.out(`${version()}\n`);
    return 0;
  }
  if (positionals.length === 0 || positionals[0] === 'help') {
    io.out(mainHelp());
    return positionals.length === 0 && !booleans.has('help') ? 2 : 0;
  }

  // Bare `tributary connectors` lists them; `tributary connectors --help` shows the group.
  const words = positionals.length === 1 && /^connectors?$/.test(positionals[0]) && !booleans.has('help') ? ['connectors', 'list'] : positionals;
  const found = findCommand(words);
  if (!found) {
    const group = positionals[0] === 'connector' ? 'connectors' : positionals[0];
    if (COMMANDS.some((c) => c.words[0] === group && c.words.length > 1)) {
      if (booleans.has('help')) {
        io.out(groupHelp(group));
        return 0;
      }
      io.err(`Unknown command \`tributary ${positionals.join(' ')}\`.\n\n${groupHelp(group)}`);
      return 2;
    }
    io.err(`Unknown command \`${positionals[0]}\`. See \`tributary --help\`.\n`);
    return 2;
  }
  const { command, rest } = found;
  if (booleans.has('help')) {
    io.out(commandHelp(command));
    return 0;
  }
  const allowed = new Set([...GLOBAL_FLAGS, ...Object.keys(command.flags ?? {})]);
  const unknown = [...booleans].find((f) => !allowed.has(f));
  const required = command.args.filter((a) => a.startsWith('<')).length;
  const problem =
    unknown !== undefined ? `Unknown option --${unknown}.`
    : rest.length < required ? `Missing ${command.args[rest.length]}.`
    : rest.length > command.args.length ? `Unexpected argument "${rest[command.args.length]}".`
    : undefined;
  if (problem) {
    io.err(`${problem} Usage: ${usageLine(command)}  (see \`tributary ${command.words.join(' ')} --help\`)\n`);
    return 2;
  }

  const env = process.env;
  try {
    const client = new RestClient({
      url: values.get('url') ?? env.TRIBUTARY_URL ?? DEFAULT_URL,
      user: values.get('user') ?? env.TRIBUTARY_USER,
      password: values.get('password') ?? env.TRIBUTARY_PASSWORD,
      token: values.get('token') ?? env.TRIBUTARY_TOKEN,
    });
    return await command.run({ client, json: booleans.has('json'), flags: booleans, tty: io === defaultIo && process.stdout.isTTY === true, out: io.out, err: io.err }, rest);
  } catch (e) {
    if (e instanceof UnreachableError || e instanceof RestError) {
      io.err(`error: ${e.message}\n`);
      return 1;
    }
    if (e instanceof UsageError) {
      io.err(`${e.message}\n`);
      return 2;
    }
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

const defaultIo = {
  out: (text: string) => void process.stdout.write(text),
  err: (text: string) => void process.stderr.write(text),
};

function version(): string {
  return `tributary ${PACKAGE.version}`;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
