import type { RestClient } from './client.ts';

/** What a command gets: the REST client, the output mode, and where to write. */
export interface Context {
  client: RestClient;
  json: boolean;
  flags: ReadonlySet<string>;
  /** Whether output goes to a terminal (progress bars redraw in place). */
  tty?: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function printJson(ctx: Context, value: unknown): void {
  ctx.out(`${JSON.stringify(value, null, 2)}\n`);
}
