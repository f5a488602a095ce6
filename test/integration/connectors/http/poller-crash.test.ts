// The poller in a real worker process, killed with SIGKILL mid-way: the restarted worker resumes
// from the last committed cursor (not from the start), and every record reaches the sink.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, http, startWorkerProcess, tempDir, type WorkerProcess } from '../../../helpers/worker-process.ts';
import { uniqueName } from '../../../infra/env.ts';
import { startServer, type TestServer } from './test-server.ts';

const PAGE = 10;
const TOTAL = 300;
const GATE = 150;

let api: TestServer | undefined;
const workers: WorkerProcess[] = [];
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) await w.kill9();
  await api?.close();
});

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('HTTP poller across kill -9', () => {
  it('resumes from its last committed cursor and loses nothing', async () => {
    let gateOpen = false;
    const held: Array<() => void> = [];
    api = await startServer((req, res) => {
      const from = Number(new URL(req.url, 'http://x').searchParams.get('cursor') ?? 0);
      const answer = () => {
        const page = Array.from({ length: Math.max(0, Math.min(PAGE, TOTAL - from)) }, (_, i) => ({ seq: from + i }));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ items: page, next: from + page.length < TOTAL ? String(from + page.length) : null }));
      };
      // Pages from GATE on wait until the first worker is dead, so the crash lands mid-stream.
      if (from >= GATE && !gateOpen) held.push(answer);
      else answer();
    });
    const stateDir = tempDir('http-poller');
    const out = join(stateDir, 'out.jsonl');
    const topic = uniqueName('http-poll');
    const first = await startWorkerProcess({ stateDir });
    workers.push(first);
    expect((await http('POST', `${first.url}/connectors`, {
      name: 'api-poll',
      config: { 'connector.class': 'HttpPoller', topic, 'http.url': `${api.url}/items`, 'http.poll.pagination': 'cursor', 'http.poll.cursor.path': 'next', 'http.poll.records.path': 'items', 'http.poll.interval.ms': '200' },
    })).status).toBe(201);
    expect((await http('POST', `${first.url}/connectors`, { name: 'api-file', config: { 'connector.class': 'FileStreamSink', topics: topic, file: out } })).status).toBe(201);

    // Everything before the gate is in the file, and the poller's offset reached the gate's cursor.
    await eventually(async () => (await lines(out)).length >= GATE, 30_000, 'records before the gate in the file');
    await eventually(async () => (await readFile(join(stateDir, 'offsets.log'), 'utf8')).includes(`"cursor":"${GATE}"`), 30_000, 'the gate cursor committed');
    await first.kill9();
    const requestsBefore = api.requests.length;
    gateOpen = true;
    for (const answer of held.splice(0)) answer();

    const second = await startWorkerProcess({ stateDir });
    workers.push(second);
    await eventually(async () => new Set((await lines(out)).map((l) => JSON.parse(l).seq)).size === TOTAL, 30_000, 'all records in the file');
    const seqs = (await lines(out)).map((l) => JSON.parse(l).seq as number);
    expect(new Set(seqs)).toEqual(new Set(Array.from({ length: TOTAL }, (_, i) => i)));
    const after = api.requests.slice(requestsBefore).map((r) => new URL(r.url, 'http://x').searchParams.get('cursor'));
    expect(after[0]).toBe(String(GATE)); // resumed from the committed cursor, not from the start
    expect(after).not.toContain(null);
    // Records before the gate were committed before the crash: none of them was fetched again.
    expect(seqs.filter((s) => s < GATE)).toHaveLength(GATE);
    await second.stop();
  });
});
