// The S3 source over a file:// store: key order, formats, {key, position} offsets, resuming
// mid-object without a gap or a repeat, gzip objects, and objects that appear later.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { S3SourceTask } from '../../../../connectors/s3/s3-source-task.ts';
import type { SourceRecord } from '../../../../runtime/api/index.ts';
import { tempDir } from '../../../helpers/worker-process.ts';
import { MemoryOffsets, sourceContext } from '../fake-context.ts';

function put(root: string, key: string, body: string | Buffer): void {
  mkdirSync(dirname(join(root, key)), { recursive: true });
  writeFileSync(join(root, key), body);
}

async function drain(task: S3SourceTask, polls = 10): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for (let i = 0; i < polls; i++) out.push(...(await task.poll(AbortSignal.timeout(200))));
  return out;
}

const config = (root: string, extra: Record<string, string> = {}) => ({ 'store.url': `file://${root}`, topic: 'in', 'poll.interval.ms': '10', ...extra });

describe('S3 source (file:// store)', () => {
  it('reads JSON lines in key order and resumes mid-object from the committed {key, position}', async () => {
    const root = tempDir('s3src');
    put(root, 'data/b.json', '{"n":3}\n{"n":4}\n');
    put(root, 'data/a.json', '{"n":0}\n{"n":1}\n{"n":2}');
    put(root, 'other/z.json', '{"n":99}\n');
    const offsets = new MemoryOffsets();
    let task = new S3SourceTask();
    await task.start(config(root, { prefix: 'data/', 'batch.size': '2' }), sourceContext(offsets));
    const first = await task.poll(AbortSignal.timeout(200));
    expect(first.map((r) => r.value)).toEqual([{ n: 0 }, { n: 1 }]);
    expect(first[1].sourceOffset).toEqual({ key: 'data/a.json', position: 16 });
    offsets.commit(first); // the runtime committed these two, then the worker died
    await task.stop();

    task = new S3SourceTask();
    await task.start(config(root, { prefix: 'data/', 'batch.size': '2' }), sourceContext(offsets));
    const rest = await drain(task);
    expect(rest.map((r) => r.value)).toEqual([{ n: 2 }, { n: 3 }, { n: 4 }]);
    expect(rest.map((r) => r.sourceOffset)).toEqual([
      { key: 'data/a.json', position: 23 }, { key: 'data/b.json', position: 8 }, { key: 'data/b.json', position: 16 },
    ]);
    expect(rest[0].headers).toEqual([{ key: 's3.object.key', value: 'data/a.json' }]);

    // A new object (later in key order) is picked up by the next listing.
    put(root, 'data/c.json.gz', gzipSync('{"n":5}\n{"n":6}\n'));
    const more = await drain(task);
    expect(more.map((r) => r.value)).toEqual([{ n: 5 }, { n: 6 }]);
    offsets.commit([...rest, more[0]]);
    await task.stop();

    // Resume inside a gzip object: position counts decompressed bytes.
    task = new S3SourceTask();
    await task.start(config(root, { prefix: 'data/' }), sourceContext(offsets));
    expect((await drain(task, 3)).map((r) => r.value)).toEqual([{ n: 6 }]);
    await task.stop();
  });

  it('text and bytes formats, key.pattern', async () => {
    const root = tempDir('s3src');
    put(root, 'logs/1.log', 'hello\r\nworld\n\n');
    put(root, 'logs/2.bin', Buffer.from([0, 1, 2]));
    const text = new S3SourceTask();
    await text.start(config(root, { prefix: 'logs/', 'format.class': 'text', 'key.pattern': '\\.log$' }), sourceContext());
    expect((await drain(text, 3)).map((r) => r.value)).toEqual(['hello', 'world']);
    await text.stop();
    const bytes = new S3SourceTask();
    await bytes.start(config(root, { prefix: 'logs/', 'format.class': 'bytes' }), sourceContext());
    const recs = await drain(bytes, 3);
    expect(recs.map((r) => r.sourceOffset)).toEqual([{ key: 'logs/1.log', position: 14 }, { key: 'logs/2.bin', position: 3 }]);
    expect(Buffer.from(recs[1].value as Uint8Array)).toEqual(Buffer.from([0, 1, 2]));
    await bytes.stop();
  });

  it('a line that is not JSON is a DataError naming the object and byte', async () => {
    const root = tempDir('s3src');
    put(root, 'x.json', '{"ok":1}\nnot json\n');
    const task = new S3SourceTask();
    await task.start(config(root), sourceContext());
    await expect(task.poll(AbortSignal.timeout(200))).rejects.toThrow(/x\.json at byte 9 is not a JSON line/);
    await task.stop();
  });
});
