import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function* jsFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* jsFiles(p);
    else if (p.endsWith('.js')) yield p;
  }
}

describe('npm run build (the JavaScript that npm start runs)', () => {
  it('writes runnable JavaScript with no .ts imports left', () => {
    execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', 'scripts/build.ts'], { stdio: 'pipe' });
    const offenders = [...jsFiles('dist')].filter((f) => /(?:from|import)\s*\(?\s*['"]\.{1,2}\/[^'"]+\.ts['"]/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
    const version = execFileSync(process.execPath, ['dist/runtime/cli/main.js', '--version'], { encoding: 'utf8' });
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(version.trim()).toBe(`tributary ${pkg.version}`);
  });
});
