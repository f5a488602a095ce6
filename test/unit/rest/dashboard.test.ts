/**
 * Runs the dashboard's inline script against the real app (fetch -> app.inject) with a minimal DOM
 * stand-in: enough to prove it renders connectors, tasks and traces, and that its buttons call the
 * right endpoints. Layout is not tested here.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { demoConfig, setup } from './helpers.ts';

class Node {
  readonly tag: string;
  children: Array<Node | string> = [];
  attrs: Record<string, string> = {};
  listeners: Record<string, Array<(e: unknown) => void>> = {};
  className = '';
  style: Record<string, string> = {};
  dataset: Record<string, string> = {};
  disabled = false;
  value = '';
  private text: string | undefined;

  constructor(tag: string) {
    this.tag = tag;
  }

  get textContent(): string {
    return this.text ?? this.children.map((c) => (typeof c === 'string' ? c : c.textContent)).join('');
  }

  set textContent(v: string) {
    this.text = v;
    this.children = [];
  }

  setAttribute(k: string, v: string) {
    this.attrs[k] = v;
  }

  addEventListener(type: string, fn: (e: unknown) => void) {
    (this.listeners[type] ??= []).push(fn);
  }

  append(...nodes: Array<Node | string>) {
    this.text = undefined;
    this.children.push(...nodes);
  }

  replaceChildren(...nodes: Array<Node | string>) {
    this.text = undefined;
    this.children = nodes;
  }

  all(pred: (n: Node) => boolean): Node[] {
    const out: Node[] = [];
    for (const c of this.children) {
      if (typeof c === 'string') continue;
      if (pred(c)) out.push(c);
      out.push(...c.all(pred));
    }
    return out;
  }
}

function script(html: string): string {
  return /<script>([\s\S]*)<\/script>/.exec(html)![1];
}

async function load(app: FastifyInstance) {
  const html = (await app.inject({ url: '/ui' })).body;
  const ids = new Map<string, Node>();
  const requests: string[] = [];
  const timers: Array<() => void> = [];
  const document = {
    getElementById: (id: string) => {
      if (!ids.has(id)) ids.set(id, new Node(`#${id}`));
      return ids.get(id)!;
    },
    createElement: (tag: string) => new Node(tag),
  };
  const fetch = async (path: string, init: { method: string; headers: Record<string, string> }) => {
    requests.push(`${init.method} ${path}`);
    const res = await app.inject({ method: init.method as 'GET', url: path, headers: init.headers });
    return new Response(res.body === '' ? null : res.body, { status: res.statusCode, headers: res.headers as Record<string, string> });
  };
  const storage = new Map<string, string>();
  runInNewContext(script(html), {
    document,
    fetch,
    Node,
    Response,
    sessionStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v) },
    setTimeout: (fn: () => void) => timers.push(fn),
    clearTimeout: () => {},
    btoa,
    unescape,
    encodeURIComponent,
    Date,
    JSON,
    Object,
  });
  const settle = () => new Promise((r) => setTimeout(r, 50));
  await settle();
  return { ids, requests, settle, timers, byId: document.getElementById };
}

describe('dashboard script', () => {
  it('renders connectors with states, tasks, traces and progress, and its buttons call the API', async () => {
    const { app, herder } = setup();
    await app.inject({ method: 'POST', url: '/connectors', payload: { name: 'orders', config: demoConfig() } });
    herder.failTask('orders', 1, 'org.example.Boom: disk full\n\tat x');
    herder.setProgress('orders', 0, { rows: 5 });
    const { ids, requests, settle } = await load(app);

    expect(requests).toContain('GET /connectors?expand=status&expand=info');
    expect(ids.get('error')!.textContent).toBe('');
    expect(ids.get('summary')!.textContent).toBe('1 connector · tasks: 1 running, 1 failed');
    expect(ids.get('server')!.textContent).toBe('version 0.1.0 · standalone');
    const list = ids.get('connectors')!;
    const text = list.textContent;
    for (const s of ['orders', 'RUNNING', 'FAILED', 'org.example.Boom: disk full', 'rows=5', 'worker-1:8083']) expect(text).toContain(s);

    const pause = list.all((n) => n.tag === 'button' && n.textContent === 'Pause')[0];
    pause.listeners.click[0]({ currentTarget: pause });
    await settle();
    expect(requests).toContain('PUT /connectors/orders/pause');
    expect((await herder.connectorStatus('orders')).connector.state).toBe('PAUSED');
    expect(ids.get('connectors')!.all((n) => n.tag === 'button' && n.textContent === 'Resume')).toHaveLength(1);

    const taskRestart = ids.get('connectors')!.all((n) => n.tag === 'button' && n.textContent === 'Restart')[2];
    taskRestart.listeners.click[0]({ currentTarget: taskRestart });
    await settle();
    expect(requests).toContain('POST /connectors/orders/tasks/1/restart');
  });

  it('asks for a token on 401 from a bearer-protected API and then uses it', async () => {
    const { app } = setup({ auth: { type: 'bearer', tokens: ['tok'] } });
    const { ids, requests, settle, byId } = await load(app);
    const login = ids.get('login')!;
    expect(login.style.display).toBe('block');
    expect(login.dataset.kind).toBe('bearer');
    byId('token').value = 'tok';
    login.listeners.submit[0]({ preventDefault: () => {} });
    await settle();
    expect(login.style.display).toBe('none');
    expect(ids.get('summary')!.textContent).toBe('0 connectors · tasks: none');
    expect(requests.filter((r) => r.startsWith('GET /connectors')).length).toBeGreaterThanOrEqual(2);
  });
});
