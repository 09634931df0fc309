// The package as a user gets it (issue 10): `npm pack` the project, install the tarball into a
// fresh folder outside the repository, and there run `npx nnlock` and a script that imports the
// public entry points. Everything runs from the installed copy, so a broken "exports" map, a file
// missing from "files", or code that still needs tsx at run time fails here.
//
// The installed package uses the repository's addon through NNLOCK_ADDON: building it again
// takes minutes on a shared 2-core machine, and the build itself is what scripts/setup.sh does
// on every run. One test builds it in the installed package too (`npx nnlock setup`), so that a
// fresh CI run skips nothing; NNLOCK_PACK_BUILD=0 skips that one while iterating locally.
// Dependencies come from npm's cache when they are there (--prefer-offline).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonPath } from '../../src/native/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const repo = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string; exports: Record<string, unknown> };
const MISSING_ADDON = '/nonexistent/nnlock.node';

let work: string;
let app: string;
let packed: string[];

function run(cmd: string, args: string[], options: SpawnSyncOptions & { env?: Record<string, string | undefined> } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...options, env: { ...process.env, NO_COLOR: '1', ...options.env } });
  return { code: r.status, out: String(r.stdout), err: String(r.stderr) };
}

/** Runs in the installed app, never seeing the repository's node_modules or sources. */
function inApp(cmd: string, args: string[], env: Record<string, string | undefined> = {}) {
  return run(cmd, args, { cwd: app, env: { NODE_OPTIONS: undefined, NNLOCK_ADDON: undefined, ...env } });
}

before(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'nnlock-pack-')));
  app = join(work, 'app');
  // `npm pack` runs the prepack script: a clean dist/ build.
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo });
  assert.equal(pack.code, 0, pack.err);
  const [info] = JSON.parse(pack.out.slice(pack.out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  packed = info.files.map((f) => f.path);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'nnlock-user', version: '1.0.0', private: true, type: 'module' }));
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(work, info.filename)], { cwd: app });
  assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.err}`);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds dist, the CLI, the native sources and the docs, and no tests, experiments, benches or sources', () => {
  for (const f of [
    'package.json',
    'README.md',
    'LICENSE',
    'CHANGELOG.md',
    'bin/nnlock.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/data/loader-worker.js',
    'native/binding.gyp',
    'native/find-libtorch.mjs',
    'native/setup.mjs',
    'native/src/addon.cc',
  ]) {
    assert.ok(packed.includes(f), `${f} is missing from the tarball`);
  }
  const stray = packed.filter((f) => /^(test|experiments|bench|src|scripts|native\/build)\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
  assert.deepEqual(stray, []);
  // Every entry point of the exports map is in the tarball, with its types.
  for (const [name, target] of Object.entries(pkg.exports)) {
    const files = typeof target === 'string' ? [target] : Object.values(target as Record<string, string>);
    for (const f of files) assert.ok(packed.includes(f.replace(/^\.\//, '')), `exports['${name}'] → ${f} is not in the tarball`);
  }
});

test('an installed nnlock answers --help and --version without libtorch, and needs no tsx', () => {
  assert.equal(existsSync(join(app, 'node_modules', 'tsx')), false, 'tsx is a dev dependency: it must not be installed for users');
  const help = inApp('npx', ['--no-install', 'nnlock', '--help'], { NNLOCK_ADDON: MISSING_ADDON });
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /^Usage: nnlock/);
  assert.match(help.out, /protect/);
  const version = inApp('npx', ['--no-install', 'nnlock', '--version'], { NNLOCK_ADDON: MISSING_ADDON });
  assert.equal(version.code, 0, version.err);
  assert.equal(version.out.trim(), pkg.version);
});

test('importing every entry point loads no libtorch and changes no engine setting', () => {
  const names = Object.keys(pkg.exports)
    .filter((k) => k !== './package.json')
    .map((k) => k.replace(/^\./, 'nnlock'));
  const script = `${names.map((n, i) => `import * as m${i} from '${n}';`).join('\n')}\nconsole.log(JSON.stringify(m0.engineState()));\n`;
  writeFileSync(join(app, 'imports.mjs'), script);
  const r = inApp(process.execPath, ['imports.mjs'], { NNLOCK_ADDON: MISSING_ADDON });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { allocator: null, threads: null });
});

test('an installed nnlock without its addon says in one line to run `npx nnlock setup`', () => {
  const check = inApp('npx', ['--no-install', 'nnlock', 'setup', '--check']);
  assert.equal(check.code, 1);
  assert.match(check.err, /^nnlock setup: the native addon is not built: run `npx nnlock setup`/);
  const info = inApp('npx', ['--no-install', 'nnlock', 'info']);
  assert.equal(info.code, 1);
  assert.equal(info.err.trim().split('\n').length, 1, info.err);
  assert.match(info.err, /Run `npx nnlock setup`/);
  const ready = inApp('npx', ['--no-install', 'nnlock', 'setup', '--check'], { NNLOCK_ADDON: addonPath });
  assert.equal(ready.code, 0, ready.err);
});

test('a script importing nnlock, nnlock/protect, nnlock/io and nnlock/data protects a tiny model and unlocks it by tier', () => {
  copyFileSync(fileURLToPath(new URL('./fixtures/protect-roundtrip.mjs', import.meta.url)), join(app, 'roundtrip.mjs'));
  const r = inApp(process.execPath, ['roundtrip.mjs'], { NNLOCK_ADDON: addonPath });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const result = JSON.parse(r.out) as { ok: boolean; restored: number[] };
  assert.equal(result.ok, true);
});

// The service's types are fastify's, which are written against Node's (@types/node): a project that
// imports nnlock/serve has them. Every other entry point must compile without them.
const NODE_TYPED_ENTRY_POINTS = new Set(['nnlock/serve']);

test('TypeScript resolves the installed types of every entry point', () => {
  const names = Object.keys(pkg.exports)
    .filter((k) => k !== './package.json')
    .map((k) => k.replace(/^\./, 'nnlock'))
    .filter((n) => !NODE_TYPED_ENTRY_POINTS.has(n));
  const lines = names.map((n, i) => `import * as m${i} from '${n}';`);
  lines.push(`export const all = [${names.map((_, i) => `m${i}`).join(', ')}];`);
  lines.push("import { randn } from 'nnlock';", 'export const shape: number[] = randn([2]).shape;');
  writeFileSync(join(app, 'check.ts'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023', 'ESNext.Disposable'], strict: true, noEmit: true, types: [] },
      files: ['check.ts'],
    }),
  );
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const ok = inApp(process.execPath, [tsc, '-p', 'tsconfig.json']);
  assert.equal(ok.code, 0, ok.out + ok.err);
  // A wrong type must be an error, so the types are really there (not an implicit any).
  writeFileSync(join(app, 'check.ts'), "import { randn } from 'nnlock';\nexport const wrong: string = randn([2]).shape;\n");
  const bad = inApp(process.execPath, [tsc, '-p', 'tsconfig.json']);
  assert.notEqual(bad.code, 0, 'a type error in the user code must be reported');
  assert.match(bad.out, /TS2322/);
});

test("TypeScript resolves nnlock/serve's installed types with Node's", () => {
  writeFileSync(join(app, 'serve-check.ts'), "import { createService } from 'nnlock/serve';\nexport const make: typeof createService = createService;\n");
  const typeRoots = [join(repo, 'node_modules', '@types')];
  const compilerOptions = {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    lib: ['ES2023', 'ESNext.Disposable'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
    typeRoots,
  };
  writeFileSync(join(app, 'tsconfig.serve.json'), JSON.stringify({ compilerOptions, files: ['serve-check.ts'] }));
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const ok = inApp(process.execPath, [tsc, '-p', 'tsconfig.serve.json']);
  assert.equal(ok.code, 0, ok.out + ok.err);
});

test('`npx nnlock setup` builds the addon in the installed package (minutes; NNLOCK_PACK_BUILD=0 skips it)', { skip: process.env.NNLOCK_PACK_BUILD === '0' }, () => {
  const build = inApp('npx', ['--no-install', 'nnlock', 'setup']);
  assert.equal(build.code, 0, build.out + build.err);
  assert.ok(existsSync(join(app, 'node_modules', 'nnlock', 'native', 'build', 'Release', 'nnlock.node')));
  const r = inApp(process.execPath, ['roundtrip.mjs']);
  assert.equal(r.code, 0, r.err);
});

test('leaks no tensors', checkLeaks);
