import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, manualSeed, noGrad, scope, tensor, type Tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

function close(actual: number[], expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `[${i}] ${a} vs ${expected[i]}`));
}

// Runs an in-place op and checks it returned the very same Tensor and created no new handle
// (so operands must exist before the call).
function inPlace(x: Tensor, f: (x: Tensor) => Tensor): number[] {
  const before = liveTensors();
  const r = f(x);
  assert.equal(r, x);
  assert.equal(liveTensors(), before, 'an in-place op must not leave a new handle');
  return x.toArray();
}

test('add, sub, mul, div in place: tensors or numbers, alpha', () =>
  scope(() => {
    const x = tensor([1, 2, 3]);
    const o = tensor([10, 20, 30]);
    const three = tensor([3, 3, 3]);
    const d = tensor([1, 2, 4]);
    assert.deepEqual(
      inPlace(x, (t) => ops.addInPlace(t, o, 0.1)),
      [2, 4, 6],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.addInPlace(t, 1)),
      [3, 5, 7],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.subInPlace(t, o, 0.1)),
      [2, 3, 4],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.subInPlace(t, 2)),
      [0, 1, 2],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.mulInPlace(t, three)),
      [0, 3, 6],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.mulInPlace(t, 0.5)),
      [0, 1.5, 3],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.mulScalarInPlace(t, 2)),
      [0, 3, 6],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.divInPlace(t, 3)),
      [0, 1, 2],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.divInPlace(t, d)),
      [0, 0.5, 0.5],
    );
  }));

test('addcmul, addcdiv, lerp, sqrt, clamp in place (Adam-style updates)', () =>
  scope(() => {
    const x = tensor([1, 2, 3]);
    const a = tensor([1, 2, 3]);
    const b = tensor([2, 2, 2]);
    const w = tensor([1, 0, 0]);
    const lo = tensor([2, 0, 0]);
    const hi = tensor([3, 1, 3]);
    assert.deepEqual(
      inPlace(x, (t) => ops.addcmulInPlace(t, a, b)),
      [3, 6, 9],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.addcmulInPlace(t, a, b, -0.5)),
      [2, 4, 6],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.addcdivInPlace(t, a, b, 2)),
      [3, 6, 9],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.lerpInPlace(t, a, 0.5)),
      [2, 4, 6],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.lerpInPlace(t, a, w)),
      [1, 4, 6],
    );
    close(
      inPlace(x, (t) => ops.sqrtInPlace(t)),
      [1, 2, Math.sqrt(6)],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.clampInPlace(t, 1.5, 2)),
      [1.5, 2, 2],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.clampInPlace(t, null, 1.75)),
      [1.5, 1.75, 1.75],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.clampInPlace(t, lo, hi)),
      [2, 1, 1.75],
    );
    assert.throws(() => ops.clampInPlace(x, 0, tensor([1, 1, 1])), TypeError);
    assert.throws(() => ops.clampInPlace(x), TypeError);
  }));

test('zero, fill (number or 0-d tensor), copy in place', () =>
  scope(() => {
    const x = tensor([1, 2, 3]);
    const v = tensor(2.5);
    const src = tensor([7, 8, 9]);
    assert.deepEqual(
      inPlace(x, (t) => ops.zeroInPlace(t)),
      [0, 0, 0],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.fillInPlace(t, 4)),
      [4, 4, 4],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.fillInPlace(t, v)),
      [2.5, 2.5, 2.5],
    );
    assert.deepEqual(
      inPlace(x, (t) => ops.copyInPlace(t, src)),
      [7, 8, 9],
    );
  }));

test('normal and uniform in place: the asked distribution, reproducible under manualSeed', () =>
  scope(() => {
    const x = ops.zeros([20000]);
    const u = inPlace(x, (t) => ops.uniformInPlace(t, -2, 3));
    assert.ok(u.every((v) => v >= -2 && v < 3));
    const mu = u.reduce((s, v) => s + v, 0) / u.length;
    assert.ok(Math.abs(mu - 0.5) < 0.05, `uniform mean ${mu}`);
    const n = inPlace(x, (t) => ops.normalInPlace(t, 1, 0.5));
    const m = n.reduce((s, v) => s + v, 0) / n.length;
    const sd = Math.sqrt(n.reduce((s, v) => s + (v - m) ** 2, 0) / n.length);
    assert.ok(Math.abs(m - 1) < 0.02 && Math.abs(sd - 0.5) < 0.02, `normal mean ${m} std ${sd}`);
    assert.ok(Math.abs(ops.std(ops.normalInPlace(x)).item() - 1) < 0.03); // defaults N(0, 1)
    manualSeed(5);
    const first = ops.uniformInPlace(ops.zeros([4])).toArray();
    manualSeed(5);
    assert.deepEqual(ops.uniformInPlace(ops.zeros([4])).toArray(), first);
  }));

test('parameters are updated in place under noGrad; autograd refuses it otherwise', () =>
  scope(() => {
    const w = tensor([1, 2]);
    w.requiresGrad = true;
    ops.sum(ops.square(w)).backward();
    const g = w.grad!;
    assert.throws(() => ops.subInPlace(w, g, 0.1), /leaf Variable that requires grad/);
    noGrad(() => ops.subInPlace(w, g, 0.1));
    close(w.toArray(), [0.8, 1.6]);
    assert.equal(w.requiresGrad, true);
  }));

test('in-place ops leak no tensors', checkLeaks);
