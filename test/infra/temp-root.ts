// vitest global setup of both projects: every temporary folder a test run makes (tests, the worker
// processes they start, the libraries they use) goes under one folder of this run, through TMPDIR,
// and the folder is removed when the run ends. Runs leave nothing behind in /tmp (the crash and
// snapshot tests write tens of MB each; a day of runs used to leave gigabytes).
// Listed after the services' setup, so the services it starts never see this TMPDIR.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'tributary-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
