// The layering check (scripts/check-layers.mjs with .dependency-cruiser.cjs) passes on the real
// tree and fails, naming the broken rule, on a copy with one wrong import added.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const repo = fileURLToPath(new URL('../..', import.meta.url));
const script = join(repo, 'scripts', 'check-layers.mjs');
const copies: string[] = [];

after(() => {
  for (const c of copies) rmSync(c, { recursive: true, force: true });
});

function check(root?: string) {
  const r = spawnSync(process.execPath, [script, ...(root ? ['--root', root] : [])], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A copy of the sources with `line` appended to one file. */
function copyWith(file: string, line: string): string {
  const root = mkdtempSync(join(tmpdir(), 'nnlock-layering-'));
  copies.push(root);
  for (const d of ['src', 'bench', 'experiments', 'tsconfig.json']) cpSync(join(repo, d), join(root, d), { recursive: true });
  appendFileSync(join(root, file), `\n${line}\n`);
  return root;
}

test('the real tree follows the layering rule', () => {
  const r = check();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /every import follows the layering rule/);
});

test('src/tensor importing src/protect fails the check, naming the rule and the import', () => {
  const r = check(copyWith('src/tensor/scope.ts', "export { protect as _wrong } from '../protect/index.ts';"));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /error core-below-features: src\/tensor\/scope\.ts → src\/protect\/index\.ts/);
});

test('attacks importing er, and src importing the CLI, fail the check', () => {
  const r = check(copyWith('src/attacks/assess.ts', "export * as _er from '../er/index.ts';\nexport * as _cli from '../cli/main.ts';"));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /error attacks-never-import-er: src\/attacks\/assess\.ts → src\/er\/index\.ts/);
  assert.match(r.out, /error src-imports-no-cli: src\/attacks\/assess\.ts → src\/cli\/main\.ts/);
});

test('a cycle between two folders fails the check', () => {
  // data imports io; io importing data closes a cycle that no other rule forbids.
  const r = check(copyWith('src/io/cifar.ts', "export { Rng as _Rng } from '../data/rng.ts';\nexport { loadCifar10 as _load } from '../data/cifar10.ts';"));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /error no-cycles-between-folders: src\/(io\/cifar|data\/cifar10)\.ts → /);
});

test('leaks no tensors', checkLeaks);
