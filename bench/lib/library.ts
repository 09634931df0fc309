// Which build of nnlock a bench times. An installed package runs the compiled dist/, so that is
// the default: built here first (`npm run build`), so it is this checkout's code. `sources` runs
// the TypeScript through tsx instead, whose transform adds work to every closure (a __name() call:
// 3-4 % of a ResNet-20 unlock, 2 % of the server's main thread) and which V8 optimises later.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type LibraryBuild = 'dist' | 'sources';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Checks a `--library`/`--server-from` value: dist or sources. */
export function libraryBuild(value: string | undefined, flag: string): LibraryBuild {
  const build = value ?? 'dist';
  if (build !== 'dist' && build !== 'sources') throw new Error(`${flag} is dist or sources, got ${build}`);
  return build;
}

/** Compiles src/ into dist/ (the checkout's code, as `npm pack` would ship it); nothing for sources. */
export function buildLibrary(build: LibraryBuild, log: (line: string) => void = console.log): void {
  if (build !== 'dist') return;
  log('building dist/ (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * One module of the library, from the chosen build: `module` is its path under src/ without the
 * extension (`protect/index`). The caller gives its type as `typeof import('../src/….ts')`: the
 * compiled module has the same exports.
 */
export async function libraryModule<T>(build: LibraryBuild, module: string): Promise<T> {
  const file = build === 'dist' ? path.join(root, 'dist', `${module}.js`) : path.join(root, 'src', `${module}.ts`);
  return (await import(pathToFileURL(file).href)) as T;
}
