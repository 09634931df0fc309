#!/usr/bin/env node
// Builds the native addon where nnlock is: `npx nnlock setup` in an installed package,
// `node native/setup.mjs` (called by scripts/setup.sh) in a checkout. It finds libtorch
// (find-libtorch.mjs), then runs node-gyp in native/ when the addon is missing or older than its
// sources. Why not an npm install script: npm 11 warns about every dependency install script not
// approved with `npm install-scripts approve`, fails the whole install under
// --strict-allow-scripts, and pnpm and --ignore-scripts skip it; a build that may take minutes and
// needs a compiler is better asked for once, by name.
//
//   nnlock setup            build when needed, then say what is ready
//   nnlock setup --check    build nothing: exit 0 when the addon is there, 1 (with what to run) if not
//   nnlock setup --force    rebuild even when the addon looks current
//
// Output is plain text (no colour), one line per step.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nativeDir = dirname(fileURLToPath(import.meta.url));
const packageRoot = dirname(nativeDir);

/** Where the addon is loaded from; the same rule as src/native/index.ts. */
export function addonPath(env = process.env) {
  return env.NNLOCK_ADDON ?? join(packageRoot, 'native', 'build', 'Release', 'nnlock.node');
}

/** The command that builds the addon here: scripts/setup.sh in a checkout, else `npx nnlock setup`. */
export function setupCommand() {
  return existsSync(join(packageRoot, 'scripts', 'setup.sh')) ? 'bash scripts/setup.sh' : 'npx nnlock setup';
}

function say(line) {
  process.stdout.write(`nnlock setup: ${line}\n`);
}

function fail(line) {
  process.stderr.write(`nnlock setup: ${line}\n`);
  return 1;
}

/** libtorch as find-libtorch.mjs reports it: { ok, line } (its one line, or why not). */
function libtorchReport() {
  const r = spawnSync(process.execPath, [join(nativeDir, 'find-libtorch.mjs'), 'report'], { encoding: 'utf8' });
  const line = (r.status === 0 ? r.stdout : r.stderr).trim().replace(/^nnlock native build: /, '');
  return { ok: r.status === 0, line };
}

function newestSource() {
  const files = [join(nativeDir, 'binding.gyp'), join(nativeDir, 'find-libtorch.mjs')];
  for (const f of readdirSync(join(nativeDir, 'src'))) files.push(join(nativeDir, 'src', f));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** node-gyp: npm's own (npm names it for scripts), this package's, npm's bundled copy, or PATH's. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package: look for npm's copy
  }
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const script = candidates.find((c) => c && existsSync(c));
  if (script) return [process.execPath, script];
  try {
    execFileSync('node-gyp', ['--version'], { stdio: 'ignore' });
    return ['node-gyp'];
  } catch {
    return null;
  }
}

/** Runs setup with its command-line arguments; resolves to the exit code. */
export async function setup(args = []) {
  const unknown = args.filter((a) => !['--check', '--force'].includes(a));
  if (unknown.length > 0) return fail(`unknown option ${unknown[0]} (use --check or --force)`);
  const addon = addonPath();
  const built = existsSync(addon);
  if (process.env.NNLOCK_ADDON) {
    // An addon named explicitly is never rebuilt here: it belongs to whoever built it.
    if (!built) return fail(`NNLOCK_ADDON=${addon} does not exist`);
    say(`ready (addon ${addon}, from NNLOCK_ADDON)`);
    return 0;
  }
  const stale = built && statSync(addon).mtimeMs < newestSource();
  if (args.includes('--check')) {
    if (!built) return fail(`the native addon is not built: run \`${setupCommand()}\` (needs libtorch and a C++17 compiler)`);
    say(`ready (addon ${addon}${stale ? ', older than its sources: rebuild with --force' : ''})`);
    return 0;
  }
  const torch = libtorchReport();
  if (!torch.ok) return fail(torch.line);
  if (built && !stale && !args.includes('--force')) {
    say(`ready (${torch.line})`);
    return 0;
  }
  const gyp = nodeGyp();
  if (!gyp) return fail('node-gyp not found: install it with `npm install -g node-gyp`, then rerun');
  say(`${torch.line}`);
  say('building the native addon (a minute or more)');
  const flags = ['rebuild', '-j', String(availableParallelism()), '--loglevel=error'];
  // Debian's nodejs ships Node's headers: use them instead of downloading them.
  if (existsSync('/usr/include/node/node_api.h')) flags.push('--nodedir=/usr');
  const r = spawnSync(gyp[0], [...gyp.slice(1), ...flags], { cwd: nativeDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-30).join('\n'));
    return fail(`the native build failed (output above); rerun with \`${setupCommand()}\` after fixing it`);
  }
  say(`ready (addon ${addon})`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await setup(process.argv.slice(2));
}
