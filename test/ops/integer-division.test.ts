// The typed integer division and remainder check what libtorch does not: int64 −2⁶³ divided by −1
// (rounding 'trunc' or 'floor') and remainder / remainderInPlace by −1 die with SIGFPE in libtorch
// 1.13; the wrappers compute x / −1 as −x (wrapping at the minimum, as two's complement and the
// CUDA kernels do) and x mod −1 as 0, and refuse a zero divisor with a RangeError. The cases run
// in a child process (fixtures/integer-division-child.ts): before the fix it died on the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, jsonLines, runChild } from '../engine/fixtures/child.ts';

interface Case {
  name: string;
  values?: string[];
  errorType?: string;
  message?: string;
}

const run = runChild(new URL('./fixtures/integer-division-child.ts', import.meta.url));
const cases = new Map(jsonLines<Case>(run.stdout).map((c) => [c.name, c]));
const last = run.stdout
  .split('\n')
  .filter((l) => l.startsWith('> '))
  .pop();
const MIN64 = String(-(2n ** 63n));
const MIN32 = String(-(2 ** 31));

function valuesOf(name: string): string[] | undefined {
  const c = cases.get(name);
  assert.ok(c, `case "${name}" did not run`);
  assert.equal(c.errorType, undefined, `${name}: ${c.errorType} ${c.message}`);
  return c.values;
}

function rangeError(name: string, pattern: RegExp): void {
  const c = cases.get(name);
  assert.ok(c, `case "${name}" did not run`);
  assert.equal(c.errorType, 'RangeError', `${name}: ${JSON.stringify(c)}`);
  assert.match(c.message ?? '', pattern);
}

test('the child process survives every case (no SIGFPE)', () => {
  assert.ok(run.code === 0 && run.signal === null, `died on "${last}": ${describeExit(run)}`);
  assert.match(run.stdout, /\ndone\n/);
});

test("div with 'trunc' and 'floor' on integers: −1 negates, wrapping at the minimum", () => {
  for (const mode of ['trunc', 'floor']) {
    assert.deepEqual(valuesOf(`div int64 min by -1 ${mode}`), [MIN64, '-7', '7']);
    assert.deepEqual(valuesOf(`div int64 min by a tensor holding -1 ${mode}`), [MIN64, '4', mode === 'trunc' ? '-4' : '-5']);
    assert.deepEqual(valuesOf(`div int64 min by a broadcast -1 ${mode}`), [MIN64, '-9']);
    assert.deepEqual(valuesOf(`div int32 min by -1 ${mode}`), [MIN32, '-5']);
    assert.deepEqual(valuesOf(`div int64 by 2 ${mode}`), mode === 'trunc' ? ['3', '-3'] : ['3', '-4']);
  }
});

test('integer division by zero is a RangeError from the typed wrappers', () => {
  for (const mode of ['trunc', 'floor']) {
    rangeError(`div int64 by 0 ${mode}`, /^div: integer division by zero/);
    rangeError(`div int64 by a tensor holding 0 ${mode}`, /^div: integer division by zero/);
  }
  rangeError('remainder int64 by 0', /^remainder: integer division by zero/);
  rangeError('remainder int64 by a tensor holding 0', /^remainder: integer division by zero/);
  rangeError('remainderInPlace int64 by 0', /^remainderInPlace: integer division by zero/);
});

test('remainder and remainderInPlace by −1 are 0; other divisors are unchanged', () => {
  assert.deepEqual(valuesOf('remainder int64 min by -1'), ['0', '0', '0']);
  assert.deepEqual(valuesOf('remainder int64 min by a tensor holding -1'), ['0', '2', '1']);
  assert.deepEqual(valuesOf('remainder int32 min by -1'), ['0']);
  assert.deepEqual(valuesOf('remainderInPlace int64 min by -1'), ['0', '0', 'true'], 'in place, on the same tensor');
  assert.deepEqual(valuesOf('remainderInPlace int32 min by -1'), ['0', '0']);
  assert.deepEqual(valuesOf('remainder int64 by 3'), ['2', '1']);
  assert.deepEqual(valuesOf('remainder uint8 by 7'), ['0', '4', '3']);
  assert.deepEqual(valuesOf('remainderInPlace int64 by 256'), ['255', '44']);
  assert.deepEqual(valuesOf('remainder float32 by -1'), ['-0.5', '-0.5']);
});
