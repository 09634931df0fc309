// Every native export, called with hostile arguments, throws a JavaScript Error and the process
// survives. The calls run in a child process (fixtures/hostile-child.ts): before the guarded
// registration, `shape` of a nested tensor aborted with "terminate called after throwing an
// instance of 'c10::Error'" (exit 134), which would otherwise kill the test runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeExit, jsonLines, runChild } from './fixtures/child.ts';
import type { HostileCase } from './fixtures/hostile-child.ts';

interface Summary {
  walked: string[];
  exported: string[];
  live: number;
}

const run = runChild(new URL('./fixtures/hostile-child.ts', import.meta.url));
const lines = jsonLines<HostileCase | Summary>(run.stdout);
const cases = lines.filter((l): l is HostileCase => 'fn' in l);
const summary = lines.find((l): l is Summary => 'walked' in l);
const lastAnnounced = run.stdout
  .split('\n')
  .filter((l) => l.startsWith('> '))
  .pop();

test('the hostile walk ends normally: no native crash', () => {
  assert.ok(run.code === 0 && run.signal === null, `the child died on "${lastAnnounced}": ${describeExit(run)}`);
  assert.ok(summary, 'the child printed its summary');
  assert.ok(cases.length > 400, `only ${cases.length} hostile calls were made`);
});

test('the walk covers every native export', () => {
  assert.ok(summary);
  const missing = summary.exported.filter((name) => !summary.walked.includes(name));
  assert.deepEqual(missing, [], 'exports not walked: add them to fixtures/hostile-child.ts');
  assert.equal(summary.live, 0, 'the walk freed every tensor it made');
});

test('every hostile argument is a JavaScript Error naming the export, without a C++ backtrace', () => {
  const wrong: string[] = [];
  for (const c of cases) {
    const what = `${c.fn}(${c.label})`;
    if (c.outcome === 'non-error-throw') wrong.push(`${what} threw a non-Error: ${c.message}`);
    else if (c.expect === 'error' && c.outcome !== 'error') wrong.push(`${what} returned instead of throwing`);
    else if (c.outcome === 'error') {
      if (/Exception raised from|frame #\d/.test(c.message ?? '')) wrong.push(`${what}: the backtrace leaked`);
      if (c.expect === 'error' && c.who !== '' && !c.message?.startsWith(`${c.who}`)) wrong.push(`${what}: ${JSON.stringify(c.message)} does not name ${c.who}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('BigInts beyond int64 and sizes beyond 2^63 are RangeErrors, never wrapped', () => {
  const beyond = cases.filter((c) => /2n\*\*64n|2\^64|1e300|-\(2n\*\*63n\)/.test(c.label) && (c.fn === 'call' || c.fn === 'fromBytes') && c.expect === 'error');
  assert.ok(beyond.length >= 10, `${beyond.length} cases`);
  for (const c of beyond) {
    if (c.label.startsWith('op id')) continue; // an op id is a small number: a plain "unknown op id" error
    assert.equal(c.errorType, 'RangeError', `${c.fn}(${c.label}): ${c.errorType} ${c.message}`);
  }
  const zeros = cases.find((c) => c.label === 'aten::zeros size [2n**64n + 3n]');
  assert.match(zeros?.message ?? '', /^aten::zeros: argument 'size': BigInt does not fit in int64/);
});

test('byte sizes that overflow are refused before anything is allocated', () => {
  for (const label of ['shape [2^32, 2^32] (element count overflows)', 'shape [2^62, 4] (element count overflows)', 'shape [2^61] of float64 (byte size overflows)']) {
    const c = cases.find((x) => x.fn === 'fromBytes' && x.label === label);
    assert.equal(c?.errorType, 'RangeError', `${label}: ${c?.message}`);
    assert.match(c?.message ?? '', /^fromBytes: .*overflows int64/);
  }
});

test('libtorch errors on special tensors come back as Errors: the nested tensor shape', () => {
  const nested = cases.find((c) => c.fn === 'shape' && c.label === 'a nested tensor');
  assert.equal(nested?.outcome, 'error');
  assert.match(nested?.message ?? '', /^shape: .*NestedTensorImpl doesn't support sizes/);
});

test('a handle posted from another worker is not a handle here', () => {
  const foreign = cases.filter((c) => c.label.endsWith('a handle from another worker') && c.expect === 'error');
  assert.ok(foreign.length > 10);
  for (const c of foreign) assert.equal(c.outcome, 'error', `${c.fn}(${c.label})`);
});
