// Worker teardown never aborts the process: terminating a worker thread that is inside an addon
// call, or process.exit() while such a worker is busy, ends normally. Run in child processes
// (fixtures/teardown-child.ts), where an abort (SIGABRT, exit 134) fails the test instead of the
// runner. Before the fix both aborted on every run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, runChild } from './fixtures/child.ts';

const child = new URL('./fixtures/teardown-child.ts', import.meta.url);

test('terminating workers busy in addon calls does not abort the process', { timeout: 120_000 }, () => {
  const r = runChild(child, ['terminate', '6']);
  assert.ok(r.code === 0 && r.signal === null, describeExit(r));
  assert.match(r.stdout, /terminated 6 busy workers/);
  assert.doesNotMatch(r.stderr, /terminate called|FATAL ERROR/);
});

test('process.exit() while workers are busy in addon calls exits with its own code', { timeout: 120_000 }, () => {
  for (let i = 0; i < 3; i++) {
    const r = runChild(child, ['exit']);
    assert.ok(r.code === 0 && r.signal === null, `run ${i + 1}: ${describeExit(r)}`);
    assert.match(r.stdout, /exiting with busy workers/);
    assert.doesNotMatch(r.stderr, /terminate called|FATAL ERROR/);
  }
});
