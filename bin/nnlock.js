#!/usr/bin/env node
// The `nnlock` command. An installed package runs the compiled JavaScript in dist/. A development
// checkout (src/ next to dist/, which the tarball never has) runs the TypeScript sources through
// tsx, a dev dependency, so an edited source never runs stale behind an old dist/ build.
// NNLOCK_DIST=1 runs dist/ in a checkout too (the tests use it to try what users get).
// `nnlock setup` finds libtorch and builds the native addon (native/setup.mjs) without loading
// the CLI, so it works before anything is built.
import { existsSync } from 'node:fs';

// `nnlock ... | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

if (process.argv[2] === 'setup') {
  const { setup } = await import('../native/setup.mjs');
  process.exit(await setup(process.argv.slice(3)));
}

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);
const fromSources = existsSync(sources) && process.env.NNLOCK_DIST !== '1';
let main;
try {
  if (fromSources) {
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import(sources.href));
  } else if (existsSync(compiled)) {
    ({ main } = await import(compiled.href));
  } else {
    throw new Error('nnlock: dist/ is not built: run `npm run build`');
  }
} catch (e) {
  // Loading fails with a message meant for the user (addon not built, a bad NNLOCK_* setting):
  // say it without a stack trace. NNLOCK_DEBUG=1 shows the trace.
  if (process.env.NNLOCK_DEBUG) throw e;
  console.error(`nnlock: ${String(e?.message ?? e).replace(/^nnlock: /, '')}`);
  process.exit(1);
}
process.exitCode = await main(process.argv);
