// A bounded, seeded fuzz run over every kind of file nnlock reads (issue 11): each kind's valid
// input is mutated N times (NNLOCK_FUZZ_N, default below; seed NNLOCK_FUZZ_SEED, default 11) and
// read through its public function in a child process. Every mutation must be refused with an
// Error, or accepted with a consistent result (a protected file never unlocks to other weights);
// none may crash the process, hang, or leave a half-written output file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trackLeaks } from '../helpers/leaks.ts';
import { type FuzzFigures, formatFigures, fuzz, fuzzCount } from './harness.ts';
import { TARGETS } from './targets.ts';

const checkLeaks = trackLeaks();
const N = fuzzCount(250);
const SEED = Number(process.env.NNLOCK_FUZZ_SEED ?? 11);
const all: FuzzFigures[] = [];

for (const kind of Object.keys(TARGETS)) {
  test(`fuzz: ${N} mutated ${kind} inputs are refused cleanly or read consistently`, { timeout: 30 * 60_000 }, async () => {
    const f = await fuzz(kind, N, { seed: SEED });
    all.push(f);
    console.log(formatFigures(f));
    const failed = f.crashes + f.hangs + f.partial + f.inconsistent + f.rawErrors;
    assert.equal(failed, 0, `${failed} mutations failed:\n${f.failures.join('\n')}`);
    assert.equal(f.tried, N);
    assert.equal(f.cleanErrors + f.accepted, N);
    // The mutations must reach the readers' refusals, or the run tests nothing.
    assert.ok(f.cleanErrors > 0, 'no mutation was refused');
  });
}

test('fuzz: totals', () => {
  const sum = (k: keyof FuzzFigures) => all.reduce((s, f) => s + (f[k] as number), 0);
  console.log(`fuzz total: ${sum('tried')} inputs, ${sum('cleanErrors')} clean errors, ${sum('accepted')} accepted, ${sum('crashes')} crashes, ${sum('hangs')} hangs, ${sum('partial')} partial files`);
});

test('the harness counts a crash and a hang, and continues after them', async () => {
  // The harness must be able to fail: a child that aborts on one input and spins on another.
  const f = await fuzz('self-test', 6, { perInputMs: 1500 });
  assert.equal(f.tried, 6);
  assert.equal(f.crashes, 1, f.failures.join('\n'));
  assert.equal(f.hangs, 1, f.failures.join('\n'));
  assert.equal(f.partial, 1, f.failures.join('\n'));
  assert.equal(f.inconsistent, 1, f.failures.join('\n'));
  assert.equal(f.cleanErrors + f.accepted, 2);
});

test('leaks no tensors', checkLeaks);
