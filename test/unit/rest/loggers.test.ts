import { afterEach, describe, expect, it } from 'vitest';
import {
  configureLogging,
  getLogger,
  LoggerLevels,
  loggerLevels,
  parseLevel,
  prettyLine,
  secretRedactor,
  setRedactor,
} from '../../../runtime/engine/logging.ts';
import { buildApp } from '../../../runtime/rest/index.ts';
import { MemoryHerder } from './memory-herder.ts';

function capture(): string[] {
  const lines: string[] = [];
  configureLogging({ destination: { write: (l) => void lines.push(l) }, format: 'json' });
  return lines;
}

afterEach(() => {
  setRedactor(null);
  configureLogging({ destination: 'stdout', format: 'json' });
});

describe('LoggerLevels (Connect namespace semantics)', () => {
  it('starts with root only, at the given level, never modified', () => {
    const levels = new LoggerLevels('WARN');
    expect(levels.list()).toEqual({ root: { level: 'WARN', last_modified: null } });
    expect(levels.get('nope')).toBeUndefined();
  });

  it('a logger without its own level takes its nearest ancestor, then root', () => {
    const levels = new LoggerLevels('INFO', () => 1000);
    const a = { level: 'info' };
    levels.attach('a.b.c', a);
    expect(levels.get('a.b.c')).toEqual({ level: 'INFO', last_modified: null });
    levels.set('a', 'DEBUG');
    expect(levels.effective('a.b.c')).toBe('DEBUG');
    expect(a.level).toBe('debug');
    expect(levels.effective('a.x')).toBe('DEBUG');
    expect(levels.effective('ab')).toBe('INFO');
  });

  it('setting a namespace applies to it and to names under `namespace.` only, and returns them sorted', () => {
    let now = 1_700_000_000_000;
    const levels = new LoggerLevels('INFO', () => now);
    const ab = { level: 'info' };
    const abc = { level: 'info' };
    const abx = { level: 'info' };
    levels.attach('a.b', ab);
    levels.attach('a.b.c', abc);
    levels.attach('a.bx', abx);
    expect(levels.set('a.b', 'TRACE')).toEqual(['a.b', 'a.b.c']);
    expect(ab.level).toBe('trace');
    expect(abc.level).toBe('trace');
    expect(abx.level).toBe('info');
    expect(levels.get('a.b')).toEqual({ level: 'TRACE', last_modified: now });
    expect(levels.get('a.bx')).toEqual({ level: 'INFO', last_modified: null });

    now += 5;
    expect(levels.set('a.b.c', 'ERROR')).toEqual(['a.b.c']);
    expect(abc.level).toBe('error');
    expect(levels.get('a.b')!.level).toBe('TRACE');
    expect(levels.get('a.b.c')).toEqual({ level: 'ERROR', last_modified: now });
  });

  it('root applies to every logger; OFF maps to silent', () => {
    const levels = new LoggerLevels('INFO', () => 7);
    const x = { level: 'info' };
    levels.attach('x', x);
    levels.set('x.y', 'DEBUG');
    expect(levels.set('root', 'OFF')).toEqual(['root', 'x', 'x.y']);
    expect(x.level).toBe('silent');
    expect(levels.list()).toEqual({
      root: { level: 'OFF', last_modified: 7 },
      x: { level: 'OFF', last_modified: 7 },
      'x.y': { level: 'OFF', last_modified: 7 },
    });
  });

  it('setting an unknown namespace creates it', () => {
    const levels = new LoggerLevels();
    expect(levels.set('new.one', 'WARN')).toEqual(['new.one']);
    expect(levels.get('new.one')?.level).toBe('WARN');
  });

  it('parses Connect, log4j and pino level names in any case', () => {
    expect(parseLevel('debug')).toBe('DEBUG');
    expect(parseLevel(' Warn ')).toBe('WARN');
    expect(parseLevel('ALL')).toBe('TRACE');
    expect(parseLevel('silent')).toBe('OFF');
    expect(parseLevel('verbose')).toBeUndefined();
  });
});

describe('getLogger', () => {
  it('writes JSON lines with the logger name and bindings', () => {
    const lines = capture();
    getLogger('test.json', { connector: 'pg', task: 2 }).info({ rows: 3 }, 'hello');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]);
    expect(rec).toMatchObject({ level: 30, logger: 'test.json', connector: 'pg', task: 2, rows: 3, msg: 'hello' });
    expect(typeof rec.time).toBe('string');
  });

  it('follows level changes, including children created from it (connector context loggers)', () => {
    const lines = capture();
    const log = getLogger('test.levels.worker', { connector: 'c' });
    const child = log.child({ table: 'users' });
    log.debug('dropped');
    child.debug('dropped');
    expect(lines).toHaveLength(0);
    loggerLevels.set('test.levels', 'DEBUG');
    log.debug('kept');
    child.debug('kept too');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['kept', 'kept too']);
    loggerLevels.set('test.levels', 'INFO');
    child.debug('dropped again');
    expect(lines).toHaveLength(2);
  });

  it("does not track Fastify's per-request child loggers (the hot path)", async () => {
    const app = buildApp({ herder: new MemoryHerder(), workerId: 'w', logger: getLogger('test.tracking') });
    await app.inject({ url: '/health' });
    const before = loggerLevels.trackedLoggers('test.tracking');
    for (let i = 0; i < 20; i++) await app.inject({ url: '/connectors' });
    expect(loggerLevels.trackedLoggers('test.tracking')).toBe(before);
  });

  it('passes every line through the redactor, whatever carried the secret', () => {
    const lines = capture();
    setRedactor(secretRedactor(['hunter2-"quoted"', 'ab']));
    getLogger('test.redact', { token: 'hunter2-"quoted"' }).warn({ detail: 'pw=hunter2-"quoted"' }, 'failed with hunter2-"quoted" (ab)');
    expect(lines[0]).not.toContain('hunter2');
    const rec = JSON.parse(lines[0]);
    expect(rec.token).toBe('[hidden]');
    expect(rec.detail).toBe('pw=[hidden]');
    expect(rec.msg).toBe('failed with [hidden] (ab)');
  });

  it('has a single-line human format', () => {
    const line = prettyLine(JSON.stringify({ level: 40, time: '2026-01-01T00:00:00.000Z', logger: 'x.y', connector: 'pg', task: 0, msg: 'slow', ms: 12 }));
    expect(line).toBe('2026-01-01T00:00:00.000Z WARN  [pg/0] x.y: slow ms=12\n');
  });
});

describe('/admin/loggers', () => {
  function app(levels = new LoggerLevels('INFO', () => 42)) {
    return { levels, app: buildApp({ herder: new MemoryHerder(), workerId: 'w', loggerLevels: levels, logger: getLogger('test.rest.quiet') }) };
  }

  it('GET lists loggers as {name: {level, last_modified}}', async () => {
    const { app: a, levels } = app();
    levels.attach('tributary.engine', { level: 'info' });
    const res = await a.inject({ method: 'GET', url: '/admin/loggers' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ root: { level: 'INFO', last_modified: null }, 'tributary.engine': { level: 'INFO', last_modified: null } });
  });

  it('GET one logger; 404 when unknown', async () => {
    const { app: a, levels } = app();
    levels.attach('a.b', { level: 'info' });
    expect((await a.inject({ method: 'GET', url: '/admin/loggers/a.b' })).json()).toEqual({ level: 'INFO', last_modified: null });
    const res = await a.inject({ method: 'GET', url: '/admin/loggers/zzz' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error_code: 404, message: 'Logger zzz not found.' });
  });

  it('PUT (worker scope) answers 200 with the affected loggers and sets last_modified', async () => {
    const { app: a, levels } = app();
    levels.attach('a.b', { level: 'info' });
    levels.attach('a.b.c', { level: 'info' });
    const res = await a.inject({ method: 'PUT', url: '/admin/loggers/a.b', payload: { level: 'DEBUG' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(['a.b', 'a.b.c']);
    expect((await a.inject({ method: 'GET', url: '/admin/loggers/a.b.c' })).json()).toEqual({ level: 'DEBUG', last_modified: 42 });
    const scoped = await a.inject({ method: 'PUT', url: '/admin/loggers/a.b?scope=worker', payload: { level: 'warn' } });
    expect(scoped.json()).toEqual(['a.b', 'a.b.c']);
  });

  it('PUT with scope=cluster answers 204 and uses the Herder when it can', async () => {
    const levels = new LoggerLevels();
    const herder = new MemoryHerder() as MemoryHerder & { setClusterLoggerLevel?: (ns: string, level: string) => Promise<void> };
    const seen: string[] = [];
    herder.setClusterLoggerLevel = async (ns, level) => void seen.push(`${ns}=${level}`);
    const a = buildApp({ herder, workerId: 'w', loggerLevels: levels, logger: getLogger('test.rest.quiet') });
    const res = await a.inject({ method: 'PUT', url: '/admin/loggers/x?scope=cluster', payload: { level: 'ERROR' } });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(seen).toEqual(['x=ERROR']);

    const { app: plain, levels: local } = app();
    expect((await plain.inject({ method: 'PUT', url: '/admin/loggers/y?scope=CLUSTER', payload: { level: 'ERROR' } })).statusCode).toBe(204);
    expect(local.get('y')?.level).toBe('ERROR');
  });

  it('PUT rejects a missing or unknown level with 400', async () => {
    const { app: a } = app();
    const missing = await a.inject({ method: 'PUT', url: '/admin/loggers/x', payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toContain("'level'");
    const bad = await a.inject({ method: 'PUT', url: '/admin/loggers/x', payload: { level: 'LOUD' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error_code: 400, message: 'Invalid log level "LOUD": use one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF.' });
  });
});
