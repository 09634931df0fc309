#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so there is no separate build step to forget.
import { register } from 'tsx/esm/api';

register();
// `nnlock ... | head`: a reader that stops early is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
let main;
try {
  ({ main } = await import('../src/cli/main.ts'));
} catch (e) {
  // Loading fails with a message meant for the user (addon not built, a bad NNLOCK_* setting):
  // say it without a stack trace. NNLOCK_DEBUG=1 shows the trace.
  if (process.env.NNLOCK_DEBUG) throw e;
  console.error(`nnlock: ${String(e?.message ?? e).replace(/^nnlock: /, '')}`);
  process.exit(1);
}
process.exitCode = await main(process.argv);
