#!/usr/bin/env node
// The layering check (`npm run lint:layers`): compiles src/, bench/ and experiments/ with tsc into
// a temporary folder of the same layout, then runs dependency-cruiser with .dependency-cruiser.cjs
// on it (why compile first: see that file). Exit 0 when every rule holds, 1 with each violation
// (rule name, from → to) otherwise. `--root DIR` checks another tree of the same layout (the
// layering test uses it on a copy with a wrong import).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const at = process.argv.indexOf('--root');
const root = at > 0 ? resolve(process.argv[at + 1]) : repo;
const out = mkdtempSync(join(tmpdir(), 'nnlock-layers-'));
const bin = (name) => join(repo, 'node_modules', '.bin', name);

try {
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: {
        noEmit: false,
        declaration: false,
        rootDir: root,
        outDir: join(out, 'js'),
        rewriteRelativeImportExtensions: true,
        noEmitOnError: false,
        types: ['node'],
        typeRoots: [join(repo, 'node_modules', '@types')],
      },
      include: ['src', 'bench', 'experiments'].map((d) => join(root, d)),
    }),
  );
  // Type errors are tsc --noEmit's business; here only the emitted imports matter.
  spawnSync(bin('tsc'), ['-p', tsconfig], { stdio: 'ignore' });
  // The npm packages resolve as they do in the repository (and are not followed).
  const link = join(out, 'js', 'node_modules');
  symlinkSync(join(repo, 'node_modules'), link, 'dir');
  const dirs = ['src', 'bench', 'experiments'];
  const r = spawnSync(bin('depcruise'), [...dirs, '--config', join(repo, '.dependency-cruiser.cjs'), '--output-type', 'err'], { cwd: join(out, 'js'), encoding: 'utf8' });
  process.stdout.write(r.stdout.replace(/\.js\b/g, '.ts'));
  process.stderr.write(r.stderr);
  if (r.status === 0) process.stdout.write('nnlock layers: every import follows the layering rule\n');
  process.exitCode = r.status === 0 ? 0 : 1;
  unlinkSync(link); // the link first, so that cleaning up can never reach into node_modules
} finally {
  rmSync(out, { recursive: true, force: true });
}
