// Leak checks for tests: native tensors are freed explicitly, so every test file asserts that the
// live-tensor count is back where it started.
//
//   const checkLeaks = trackLeaks();          // at the top of the file, before any tensor exists
//   test('...', () => scope(() => { ... }));  // each test frees what it made
//   test('leaks no tensors', checkLeaks);     // last test of the file
//
// or, for one block of code:  withoutLeaks(() => { ... })  (sync or async).
import assert from 'node:assert/strict';
import { liveTensors, scope } from '../../src/tensor/index.ts';

/** Takes the baseline now; the returned function asserts the live-tensor count equals it. */
export function trackLeaks(): () => void {
  const baseline = liveTensors();
  return () => {
    const now = liveTensors();
    assert.equal(now, baseline, `${now - baseline} native tensor(s) leaked (live ${now}, baseline ${baseline})`);
  };
}

/** Runs fn inside scope() and asserts it left no tensor alive; returns what fn returns. */
export function withoutLeaks<T>(fn: () => T): T {
  const check = trackLeaks();
  const r = scope(fn);
  if (r instanceof Promise)
    return r.then((v) => {
      check();
      return v;
    }) as T;
  check();
  return r;
}
