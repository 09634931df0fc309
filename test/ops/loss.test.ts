import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

function close(actual: number[], expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `[${i}] ${a} vs ${expected[i]}`));
}

const lse = (xs: number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));
const rows = [
  [1, 2, 3],
  [0.5, -1, 2],
];
const logits = () => tensor(rows.flat(), [2, 3], 'float64');
const target = () => tensor([2, 0], [2], 'int64');
const nll = [lse(rows[0]) - 3, lse(rows[1]) - 0.5];

test('crossEntropy: mean by default, sum, none', () =>
  scope(() => {
    close([ops.crossEntropy(logits(), target()).item()], [(nll[0] + nll[1]) / 2]);
    close([ops.crossEntropy(logits(), target(), { reduction: 'sum' }).item()], [nll[0] + nll[1]]);
    close(ops.crossEntropy(logits(), target(), { reduction: 'none' }).toArray(), nll);
    assert.throws(() => ops.crossEntropy(logits(), target(), { reduction: 'avg' as 'mean' }), RangeError);
  }));

test('crossEntropy: label smoothing mixes in the uniform distribution', () =>
  scope(() => {
    const eps = 0.1;
    const smooth = rows.map((r, i) => (1 - eps) * nll[i] + (eps * r.reduce((s, x) => s + lse(r) - x, 0)) / r.length);
    close([ops.crossEntropy(logits(), target(), { labelSmoothing: eps }).item()], [(smooth[0] + smooth[1]) / 2]);
    assert.throws(() => ops.crossEntropy(logits(), target(), { labelSmoothing: 1.5 }), RangeError);
  }));

test('crossEntropy: class weights and ignoreIndex', () =>
  scope(() => {
    const w = tensor([2, 1, 0.5], [3], 'float64');
    // The weighted mean divides by the sum of the targets' weights (0.5 + 2).
    close([ops.crossEntropy(logits(), target(), { weight: w }).item()], [(0.5 * nll[0] + 2 * nll[1]) / 2.5]);
    const t = tensor([2, -100], [2], 'int64');
    close([ops.crossEntropy(logits(), t).item()], [nll[0]]);
    close([ops.crossEntropy(logits(), tensor([2, 0], [2], 'int64'), { ignoreIndex: 0 }).item()], [nll[0]]);
  }));

test('crossEntropy accepts class probabilities as target', () =>
  scope(() => {
    const p = tensor([0, 0, 1, 1, 0, 0], [2, 3], 'float64');
    close([ops.crossEntropy(logits(), p).item()], [(nll[0] + nll[1]) / 2]);
  }));

test('nllLoss on log-probabilities equals crossEntropy on logits; spatial targets work', () =>
  scope(() => {
    const lp = ops.logSoftmax(logits(), 1);
    close([ops.nllLoss(lp, target()).item()], [(nll[0] + nll[1]) / 2]);
    close(ops.nllLoss(lp, target(), { reduction: 'none' }).toArray(), nll);
    const x = ops.randn([2, 3, 2, 2], { dtype: 'float64' });
    const t = tensor([0, 1, 2, 0, 1, 1, 2, 0], [2, 2, 2], 'int64');
    close([ops.nllLoss(ops.logSoftmax(x, 1), t).item()], [ops.crossEntropy(x, t).item()], 1e-12);
  }));

test('mseLoss and l1Loss', () =>
  scope(() => {
    const a = tensor([1, 2, 3]);
    const b = tensor([2, 2, 5]);
    close([ops.mseLoss(a, b).item()], [5 / 3]);
    close([ops.mseLoss(a, b, { reduction: 'sum' }).item()], [5]);
    assert.deepEqual(ops.mseLoss(a, b, { reduction: 'none' }).toArray(), [1, 0, 4]);
    close([ops.l1Loss(a, b).item()], [1]);
    close([ops.l1Loss(a, b, { reduction: 'sum' }).item()], [3]);
  }));

test('binaryCrossEntropyWithLogits, with weight and posWeight', () =>
  scope(() => {
    const x = tensor([0.5, -1, 2], [3], 'float64');
    const y = tensor([1, 0, 1], [3], 'float64');
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const each = [-Math.log(sig(0.5)), -Math.log(1 - sig(-1)), -Math.log(sig(2))];
    close([ops.binaryCrossEntropyWithLogits(x, y).item()], [(each[0] + each[1] + each[2]) / 3]);
    close(ops.binaryCrossEntropyWithLogits(x, y, { reduction: 'none', weight: tensor([1, 2, 3], [3], 'float64') }).toArray(), [each[0], 2 * each[1], 3 * each[2]]);
    close(ops.binaryCrossEntropyWithLogits(x, y, { reduction: 'none', posWeight: tensor([3], [1], 'float64') }).toArray(), [3 * each[0], each[1], 3 * each[2]]);
  }));

test('losses leak no tensors', checkLeaks);
