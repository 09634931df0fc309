// The typed ops given hostile parameters throw JavaScript Errors (libtorch's own checks, or the
// wrappers' where libtorch has none) and never crash the process. Run in a child process
// (fixtures/hostile-params-child.ts) so that a crash fails this test, naming the case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, jsonLines, runChild } from '../engine/fixtures/child.ts';

interface Line {
  name?: string;
  outcome?: 'value' | 'error' | 'non-error-throw';
  message?: string;
  done?: number;
}

const run = runChild(new URL('./fixtures/hostile-params-child.ts', import.meta.url));
const lines = jsonLines<Line>(run.stdout);
const last = run.stdout
  .split('\n')
  .filter((l) => l.startsWith('> '))
  .pop();

test('every typed op survives hostile parameters', () => {
  assert.ok(run.code === 0 && run.signal === null, `died on "${last}": ${describeExit(run)}`);
  const done = lines.find((l) => l.done !== undefined)?.done ?? 0;
  assert.ok(done > 100, `${done} cases`);
});

test('what fails, fails as an Error naming the op, without a C++ backtrace', () => {
  const wrong = lines.filter((l) => l.outcome === 'non-error-throw' || (l.outcome === 'error' && /Exception raised from|frame #\d|no typed op/.test(l.message ?? '')));
  assert.deepEqual(wrong, []);
  const errors = lines.filter((l) => l.outcome === 'error');
  assert.ok(errors.length > 80, `${errors.length} errors`);
  for (const e of errors) assert.match(e.message ?? '', /^[\w:.]+: /, `${e.name}: ${e.message}`);
});
