import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/data/rng.ts';

const draw = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextU32());

test('same seed parts → same stream; any differing part → a different stream', () => {
  assert.deepEqual(draw(new Rng(42, 1, 3), 8), draw(new Rng(42, 1, 3), 8));
  const base = draw(new Rng(42, 1, 3), 8);
  for (const parts of [
    [43, 1, 3],
    [42, 2, 3],
    [42, 1, 4],
    [42, 1],
    [42, 1, 3, 0],
    [42 + 2 ** 32, 1, 3],
  ]) {
    assert.notDeepEqual(draw(new Rng(...parts), 8), base, `parts ${parts}`);
  }
});

test('int(n) is in range and roughly uniform; next() in [0, 1)', () => {
  const r = new Rng(7);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) counts[r.int(10)]++;
  for (const c of counts) assert.ok(c > 1800 && c < 2200, `bucket ${c}`);
  for (let i = 0; i < 1000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
  }
  assert.throws(() => r.int(0), /1\.\.2\^32/);
});

test('normal() has mean ≈ 0 and variance ≈ 1', () => {
  const r = new Rng(1);
  let s = 0;
  let s2 = 0;
  const n = 100000;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / n) < 0.02, `mean ${s / n}`);
  assert.ok(Math.abs(s2 / n - 1) < 0.02, `variance ${s2 / n}`);
});

test('permutation is a permutation, and seeded', () => {
  const p = new Rng(5).permutation(1000);
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(new Rng(5).permutation(1000), p);
  assert.notDeepEqual(new Rng(6).permutation(1000), p);
});
