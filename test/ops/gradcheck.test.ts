// Autograd through the generic dispatcher agrees with central finite differences (float64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { gradcheck, type GradInput } from '../helpers/gradcheck.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();

// Deterministic inputs with well-separated values (max pooling needs no near-ties).
function input(shape: number[], seed: number, scale = 1): GradInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => scale * Math.sin(12.9898 * (i + 1) + 78.233 * seed) * 1.5);
  return { values, shape };
}

test('gradcheck helper catches a wrong gradient', () => {
  // detach() hides x from autograd: the finite difference sees a dependence autograd does not.
  assert.throws(() => gradcheck((x) => ops.add(ops.detach(ops.square(x)), x), [input([3], 1)]), /gradcheck/);
});

test('conv2d: input, weight and bias; stride, padding, dilation, groups', () => {
  gradcheck((x, w, b) => ops.conv2d(x, w, b, { stride: 2, padding: 1 }), [input([1, 2, 5, 5], 1), input([3, 2, 3, 3], 2), input([3], 3)]);
  gradcheck((x, w) => ops.conv2d(x, w, null, { padding: 2, dilation: 2, groups: 2 }), [input([1, 4, 4, 4], 4), input([2, 2, 3, 3], 5)]);
});

test('conv_transpose2d: stride and output padding', () => {
  gradcheck((x, w, b) => ops.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [input([1, 2, 3, 3], 6), input([2, 3, 3, 3], 7), input([3], 8)]);
});

test('batch_norm in training mode (batch statistics)', () => {
  gradcheck((x, w, b) => ops.batchNorm(x, null, null, w, b, { training: true }), [input([3, 2, 2, 2], 9), input([2], 10), input([2], 11)]);
});

test('linear', () => {
  gradcheck((x, w, b) => ops.linear(x, w, b), [input([2, 3, 4], 12), input([5, 4], 13), input([5], 14)]);
});

test('max_pool2d (with padding and overlapping windows)', () => {
  gradcheck((x) => ops.maxPool2d(x, 3, { stride: 2, padding: 1 }), [input([1, 2, 5, 5], 15)]);
});

test('avg_pool2d', () => {
  gradcheck((x) => ops.avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }), [input([1, 2, 5, 5], 16)]);
});

test('adaptive_avg_pool2d (uneven windows)', () => {
  gradcheck((x) => ops.adaptiveAvgPool2d(x, 3), [input([1, 2, 5, 5], 17)]);
});

test('cross_entropy with label smoothing and class weights', () => {
  const target = tensor([0, 3, 1, 2], [4], 'int64');
  const weight = tensor([1, 2, 0.5, 1.5], [4], 'float64');
  try {
    gradcheck((z) => ops.crossEntropy(z, target), [input([4, 4], 18)]);
    gradcheck((z) => ops.crossEntropy(z, target, { labelSmoothing: 0.1, weight }), [input([4, 4], 19)]);
  } finally {
    target.dispose();
    weight.dispose();
  }
});

test('gradcheck leaks no tensors', checkLeaks);
