/**
 * `npm run build`: the sources as plain JavaScript in dist/, so a running worker does not pay for
 * Node's TypeScript stripper (about 20 MB of RSS and part of the start time). Types are stripped by
 * Node's own `stripTypeScriptTypes` — exactly what `node file.ts` would run — and relative `.ts`
 * import paths become `.js`. Type checking stays `npm run typecheck`. Only changed files are
 * rewritten, so a warm build takes milliseconds.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist');
const SOURCES = ['runtime', 'connectors', 'config'];
const ASSETS = /\.(html|json)$/;

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else yield p;
  }
}

const fresh = (src: string, dst: string) => existsSync(dst) && statSync(dst).mtimeMs >= statSync(src).mtimeMs;

let built = 0;
for (const top of SOURCES) {
  for (const src of walk(join(root, top))) {
    const rel = relative(root, src);
    if (src.endsWith('.ts') && !src.endsWith('.d.ts')) {
      const dst = join(out, rel.replace(/\.ts$/, '.js'));
      if (fresh(src, dst)) continue;
      const js = stripTypeScriptTypes(readFileSync(src, 'utf8'), { mode: 'strip' })
        .replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+?)\.ts\2/g, '$1$2$3.js$2');
      mkdirSync(dirname(dst), { recursive: true });
      writeFileSync(dst, js);
      built++;
    } else if (ASSETS.test(src)) {
      const dst = join(out, rel);
      if (fresh(src, dst)) continue;
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      built++;
    }
  }
}
writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module', private: true }) + '\n');
if (process.argv.includes('--verbose') || built > 0) console.error(`build: ${built} file(s) written to dist/`);
