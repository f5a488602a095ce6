/** Client commands over the REST API: connectors, offsets, plugins. Each returns an exit code. */
import type { ConnectorInfo, ConnectorOffset, ConnectorStateInfo, PluginInfo, TaskStateEntry } from '../cluster/herder.ts';
import { RestClient } from './client.ts';
import { printJson } from './context.ts';
import type { Context } from './context.ts';
import { progressBars, renderBar } from './progress.ts';
import { firstLine, formatTable } from './table.ts';

type Expanded = Record<string, { status?: ConnectorStateInfo; info?: ConnectorInfo }>;

const p = RestClient.path;

/** "2/2 RUNNING" when all agree, else "1 RUNNING, 1 FAILED"; "-" without tasks. */
function taskSummary(tasks: TaskStateEntry[]): string {
  if (tasks.length === 0) return '-';
  const counts = new Map<string, number>();
  for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  if (counts.size === 1) return `${tasks.length}/${tasks.length} ${tasks[0].state}`;
  return [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
}

function progressText(progress: Record<string, unknown> | undefined): string {
  if (!progress) return '';
  return Object.entries(progress)
    .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

export async function connectorsList(ctx: Context): Promise<number> {
  const { body } = await ctx.client.request<Expanded>('GET', '/connectors?expand=status&expand=info');
  if (ctx.json) {
    printJson(ctx, body);
    return 0;
  }
  const names = Object.keys(body).sort();
  if (names.length === 0) {
    ctx.out('No connectors. Create some with `tributary apply <dir|file>`.\n');
    return 0;
  }
  const rows = names.map((name) => {
    const { status, info } = body[name];
    return [name, status?.type ?? info?.type ?? '', status?.connector.state ?? '', taskSummary(status?.tasks ?? []), info?.config['connector.class'] ?? ''];
  });
  ctx.out(formatTable(['NAME', 'TYPE', 'STATE', 'TASKS', 'CLASS'], rows));
  return 0;
}

export async function connectorsGet(ctx: Context, name: string): Promise<number> {
  const { body } = await ctx.client.request<ConnectorInfo>('GET', p('connectors', name));
  if (ctx.json) {
    printJson(ctx, body);
    return 0;
  }
  ctx.out(`Name:   ${body.name}\nType:   ${body.type}\nTasks:  ${body.tasks.length}\n\n`);
  const keys = Object.keys(body.config).sort();
  ctx.out(formatTable(['KEY', 'VALUE'], keys.map((k) => [k, body.config[k]])));
  return 0;
}

function statusRows(status: ConnectorStateInfo, withName: boolean): Array<Array<string | number>> {
  const rows: Array<Array<string | number>> = [];
  const c = status.connector;
  rows.push([...(withName ? [status.name] : []), 'connector', c.state, c.worker_id, '', firstLine(c.trace)]);
  for (const t of status.tasks) {
    rows.push([...(withName ? [status.name] : []), `task ${t.id}`, t.state, t.worker_id, progressText(t.progress), firstLine(t.trace)]);
  }
  return rows;
}

function statusTable(statuses: ConnectorStateInfo[], withName: boolean): string {
  const rows = statuses.flatMap((s) => statusRows(s, withName));
  const headers = [...(withName ? ['CONNECTOR'] : []), 'INSTANCE', 'STATE', 'WORKER', 'PROGRESS', 'TRACE'];
  // Drop the PROGRESS and TRACE columns when empty everywhere.
  const keep = headers.map((h, i) => !['PROGRESS', 'TRACE'].includes(h) || rows.some((r) => r[i] !== ''));
  return formatTable(headers.filter((_, i) => keep[i]), rows.map((r) => r.filter((_, i) => keep[i])));
}

export async function connectorsStatus(ctx: Context, name?: string): Promise<number> {
  if (name !== undefined) {
    const { body } = await ctx.client.request<ConnectorStateInfo>('GET', p('connectors', name, 'status'));
    if (ctx.json) {
      printJson(ctx, body);
      return 0;
    }
    ctx.out(`Connector ${body.name} (${body.type})\n`);
    ctx.out(statusTable([body], false));
    if ([body.connector, ...body.tasks].some((e) => e.trace)) ctx.out('Full traces: `tributary connectors status <name> --json`.\n');
    if (ctx.flags.has('watch')) return watchProgress(ctx, name, body);
    return 0;
  }
  const { body } = await ctx.client.request<Expanded>('GET', '/connectors?expand=status');
  if (ctx.json) {
    printJson(ctx, body);
    return 0;
  }
  const statuses = Object.keys(body).sort().flatMap((n) => (body[n].status ? [body[n].status!] : []));
  if (statuses.length === 0) {
    ctx.out('No connectors.\n');
    return 0;
  }
  ctx.out(statusTable(statuses, true));
  return 0;
}

/**
 * `--watch`: redraw the progress bars of the connector's tasks (snapshots, backfills) every
 * `intervalMs` until all are done (or the connector has none).
 */
export async function watchProgress(ctx: Context, name: string, first: ConnectorStateInfo, intervalMs = 1000): Promise<number> {
  let status = first;
  let drawn = 0;
  for (;;) {
    const bars = progressBars(status);
    if (bars.length === 0) {
      ctx.out('No progress to watch: no task reports snapshot or backfill progress.\n');
      return 0;
    }
    // On a terminal the bars redraw in place; elsewhere each refresh is new lines.
    if (drawn > 0 && ctx.tty) ctx.out(`\x1b[${drawn}A\x1b[J`);
    const lines = bars.map(renderBar);
    ctx.out(`${lines.join('\n')}\n`);
    drawn = lines.length;
    if (bars.every((b) => b.completed)) return 0;
    await new Promise((r) => setTimeout(r, intervalMs));
    status = (await ctx.client.request<ConnectorStateInfo>('GET', p('connectors', name, 'status'))).body;
  }
}

export async function connectorsDelete(ctx: Context, name: string): Promise<number> {
  await ctx.client.request('DELETE', p('connectors', name));
  if (ctx.json) printJson(ctx, { name, deleted: true });
  else ctx.out(`Deleted connector ${name}.\n`);
  return 0;
}

export async function connectorsTargetState(ctx: Context, name: string, action: 'pause' | 'resume' | 'stop'): Promise<number> {
  await ctx.client.request('PUT', p('connectors', name, action));
  const done = { pause: 'Pause requested for', resume: 'Resume requested for', stop: 'Stopped' }[action];
  if (ctx.json) printJson(ctx, { name, action });
  else ctx.out(`${done} connector ${name}.\n`);
  return 0;
}

export async function connectorsSignal(ctx: Context, name: string, type: string, dataJson?: string): Promise<number> {
  let data: unknown = {};
  if (dataJson !== undefined) {
    try {
      data = JSON.parse(dataJson);
    } catch (e) {
      ctx.err(`The signal data is not valid JSON: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const { body } = await ctx.client.request<{ id: string; accepted: number | null }>('POST', p('connectors', name, 'signals'), { type, data });
  if (ctx.json) {
    printJson(ctx, body);
    return 0;
  }
  ctx.out(body.accepted === null ? `Signal ${body.id} (${type}) recorded for the tasks of ${name}.\n` : `Signal ${body.id} (${type}) taken by ${body.accepted} task(s) of ${name}.\n`);
  return 0;
}

export async function connectorsRestart(ctx: Context, name: string): Promise<number> {
  const includeTasks = ctx.flags.has('include-tasks');
  const onlyFailed = ctx.flags.has('only-failed');
  const query = includeTasks || onlyFailed ? `?includeTasks=${includeTasks}&onlyFailed=${onlyFailed}` : '';
  const { body } = await ctx.client.request<ConnectorStateInfo | undefined>('POST', p('connectors', name, 'restart') + query);
  if (ctx.json) {
    printJson(ctx, body ?? { name, restarted: true });
    return 0;
  }
  if (!body) {
    ctx.out(`Restarted connector ${name}.\n`);
    return 0;
  }
  ctx.out(`Restart requested for connector ${name}:\n`);
  ctx.out(statusTable([body], false));
  return 0;
}

export async function offsetsGet(ctx: Context, name: string): Promise<number> {
  const { body } = await ctx.client.request<{ offsets: ConnectorOffset[] }>('GET', p('connectors', name, 'offsets'));
  if (ctx.json) {
    printJson(ctx, body);
    return 0;
  }
  if (body.offsets.length === 0) {
    ctx.out(`No committed offsets for connector ${name}.\n`);
    return 0;
  }
  ctx.out(formatTable(['PARTITION', 'OFFSET'], body.offsets.map((o) => [JSON.stringify(o.partition), JSON.stringify(o.offset)])));
  return 0;
}

export async function offsetsReset(ctx: Context, name: string): Promise<number> {
  const { body } = await ctx.client.request<{ message: string }>('DELETE', p('connectors', name, 'offsets'));
  if (ctx.json) printJson(ctx, body);
  else ctx.out(`${body.message}\n`);
  return 0;
}

export async function pluginsList(ctx: Context): Promise<number> {
  const all = ctx.flags.has('all');
  const { body } = await ctx.client.request<PluginInfo[]>('GET', `/connector-plugins${all ? '?connectorsOnly=false' : ''}`);
  if (ctx.json) {
    printJson(ctx, body);
    return 0;
  }
  ctx.out(formatTable(['CLASS', 'TYPE', 'VERSION'], body.map((pl) => [pl.class, pl.type, pl.version])));
  return 0;
}
