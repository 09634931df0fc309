// The page works from the packaged build: src/ compiled as `npm run build` compiles it (into a
// temporary folder, not dist/), the compiled plugin finds the compiled page script (app.js, no
// app.ts beside it), bundles it with esbuild and serves the page, its script and its styles.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const repo = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'nnlock-web-dist-'));
const link = join(out, 'node_modules');

after(() => {
  if (existsSync(link)) unlinkSync(link); // the link first: cleaning up must never reach into node_modules
  rmSync(out, { recursive: true, force: true });
});

test('the compiled plugin serves the page and a bundle of the compiled script', () => {
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(repo, 'tsconfig.build.json'),
      compilerOptions: { outDir: join(out, 'dist'), rootDir: join(repo, 'src'), declaration: false, types: ['node'], typeRoots: [join(repo, 'node_modules', '@types')] },
      include: [join(repo, 'src')],
    }),
  );
  const tsc = spawnSync(join(repo, 'node_modules', '.bin', 'tsc'), ['-p', tsconfig], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  assert.ok(existsSync(join(out, 'dist', 'web', 'browser', 'app.js')));
  assert.ok(!existsSync(join(out, 'dist', 'web', 'browser', 'app.ts')));
  symlinkSync(join(repo, 'node_modules'), link, 'dir');
  const script = `
    import Fastify from 'fastify';
    import { webPlugin } from './dist/web/plugin.js';
    const app = Fastify();
    await app.register(webPlugin);
    const page = await app.inject('/');
    const js = await app.inject('/app/app.js');
    const css = await app.inject('/app/style.css');
    console.log(JSON.stringify({ page: [page.statusCode, page.headers['content-type'], page.body.includes('/app/app.js')], js: [js.statusCode, js.headers['content-type'], js.body.includes('fingerprint mismatch'), /^import /m.test(js.body)], css: [css.statusCode, css.headers['content-type']], csp: page.headers['content-security-policy'] }));
    await app.close();`;
  writeFileSync(join(out, 'serve-page.mjs'), script);
  const r = spawnSync(process.execPath, [join(out, 'serve-page.mjs')], { encoding: 'utf8', cwd: out, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, unknown[]>;
  assert.deepEqual(got.page, [200, 'text/html; charset=utf-8', true]);
  // One self-contained bundle: the cipher is in it, and nothing is left to import.
  assert.deepEqual(got.js, [200, 'text/javascript; charset=utf-8', true, false]);
  assert.deepEqual(got.css, [200, 'text/css; charset=utf-8']);
  assert.match(String(got.csp), /default-src 'self'/);
});

test('leaks no tensors', checkLeaks);
