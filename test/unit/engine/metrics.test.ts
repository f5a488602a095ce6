import { describe, expect, it } from 'vitest';
import { WorkerMetrics } from '../../../runtime/engine/metrics.ts';

describe('WorkerMetrics', () => {
  it('drops every series of a deleted connector and keeps the others', async () => {
    const m = new WorkerMetrics({ defaultMetrics: false });
    m.sourceWritten.inc({ connector: 'a', task: '0' }, 5);
    m.sourceWritten.inc({ connector: 'b', task: '0' }, 7);
    m.offsetCommit.observe({ connector: 'a', task: '0' }, 0.01);
    m.setTaskState('a', 0, 'RUNNING');
    await m.removeConnector('a');
    const text = await m.metrics();
    expect(text).not.toMatch(/connector="a"/);
    expect(text).toMatch(/tributary_source_records_written_total\{connector="b",task="0"\} 7/);
  });
});
