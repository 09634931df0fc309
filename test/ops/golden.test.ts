// Checks nnlock's ops against PyTorch's outputs on the same inputs (test/golden/ops.json, made by
// test/golden/make_golden.py). Float outputs must agree to 1e-5 relative (1e-5 absolute near 0);
// integer outputs (indices) exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isTensor, scope, tensor, type DType, type Tensor } from '../../src/tensor/index.ts';
import * as ops from '../../src/ops/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

interface Encoded {
  shape: number[];
  dtype: DType;
  values: number[];
}
interface Case {
  name: string;
  op: string;
  inputs: Record<string, Encoded>;
  options: Record<string, any>;
  outputs: Record<string, Encoded>;
}

const doc = JSON.parse(readFileSync(new URL('../golden/ops.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };
const checkLeaks = trackLeaks();

type Result = Tensor | Record<string, Tensor>;
type Runner = (i: Record<string, Tensor>, o: Record<string, any>) => Result;

// How each golden op maps onto nnlock's API (options in ops.json already use nnlock's names).
const runners: Record<string, Runner> = {
  conv2d: (i, o) => ops.conv2d(i.input, i.weight, i.bias ?? null, o),
  convTranspose2d: (i, o) => ops.convTranspose2d(i.input, i.weight, i.bias ?? null, o),
  batchNorm: (i, o) => {
    const out = ops.batchNorm(i.input, i.runningMean, i.runningVar, i.weight, i.bias, o);
    return { out, runningMean: i.runningMean, runningVar: i.runningVar }; // updated in place when training
  },
  linear: (i) => ops.linear(i.input, i.weight, i.bias ?? null),
  matmul: (i) => ops.matmul(i.a, i.b),
  relu: (i) => ops.relu(i.x),
  leakyRelu: (i, o) => ops.leakyRelu(i.x, o.negativeSlope),
  sigmoid: (i) => ops.sigmoid(i.x),
  tanh: (i) => ops.tanh(i.x),
  softmax: (i, o) => ops.softmax(i.x, o.dim),
  logSoftmax: (i, o) => ops.logSoftmax(i.x, o.dim),
  maxPool2d: (i, o) => ops.maxPool2d(i.x, o.kernelSize, o),
  avgPool2d: (i, o) => ops.avgPool2d(i.x, o.kernelSize, o),
  adaptiveAvgPool2d: (i, o) => ops.adaptiveAvgPool2d(i.x, o.outputSize),
  pixelShuffle: (i, o) => ops.pixelShuffle(i.x, o.factor),
  pixelUnshuffle: (i, o) => ops.pixelUnshuffle(i.x, o.factor),
  pad: (i, o) => ops.pad(i.x, o.pad, { mode: o.mode, value: o.value }),
  cat: (i, o) => ops.cat([i.a, i.b], o.dim),
  stack: (i, o) => ops.stack([i.a, i.b], o.dim),
  permute: (i, o) => ops.permute(i.x, o.dims),
  flip: (i, o) => ops.flip(i.x, o.dims),
  clamp: (i, o) => ops.clamp(i.x, o.min, o.max),
  lerp: (i, o) => ops.lerp(i.a, i.b, o.weight),
  addcmul: (i, o) => ops.addcmul(i.x, i.t1, i.t2, o.value),
  addcdiv: (i, o) => ops.addcdiv(i.x, i.t1, i.t2, o.value),
  pow: (i, o) => ops.pow(i.x, o.exponent),
  rsqrt: (i) => ops.rsqrt(i.x),
  sum: (i, o) => ops.sum(i.x, o.dim, o.keepdim),
  mean: (i, o) => ops.mean(i.x, o.dim, o.keepdim),
  std: (i, o) => ops.std(i.x, o.dim, o.unbiased, o.keepdim),
  var: (i, o) => ops.var(i.x, o.dim, o.unbiased, o.keepdim),
  norm: (i, o) => ops.norm(i.x, o.p, o.dim),
  logsumexp: (i, o) => ops.logsumexp(i.x, o.dim),
  cumsum: (i, o) => ops.cumsum(i.x, o.dim),
  max: (i, o) => ({ ...ops.max(i.x, o.dim) }),
  argmax: (i, o) => ops.argmax(i.x, o.dim, o.keepdim),
  topk: (i, o) => ({ ...ops.topk(i.x, o.k, o.dim, o.largest) }),
  sort: (i, o) => ({ ...ops.sort(i.x, o.dim, o.descending) }),
  gather: (i, o) => ops.gather(i.x, o.dim, i.index),
  crossEntropy: (i, o) => ops.crossEntropy(i.logits, i.target, { ...o, weight: i.weight }),
  nllLoss: (i, o) => ops.nllLoss(i.logProbs, i.target, o),
  mseLoss: (i, o) => ops.mseLoss(i.input, i.target, o),
  l1Loss: (i, o) => ops.l1Loss(i.input, i.target, o),
  binaryCrossEntropyWithLogits: (i, o) => ops.binaryCrossEntropyWithLogits(i.input, i.target, o),
};

function decode(e: Encoded): Tensor {
  return tensor(e.values, e.shape, e.dtype);
}

function assertMatches(label: string, got: Tensor, want: Encoded): void {
  assert.deepEqual(got.shape, want.shape, `${label}: shape`);
  assert.equal(got.dtype, want.dtype, `${label}: dtype`);
  const values = got.toArray();
  for (let k = 0; k < values.length; k++) {
    const g = values[k],
      w = want.values[k];
    if (want.dtype === 'float32' || want.dtype === 'float64') {
      assert.ok(Math.abs(g - w) <= 1e-5 * Math.max(1, Math.abs(w)), `${label}[${k}]: got ${g}, PyTorch ${w}`);
    } else {
      assert.equal(g, w, `${label}[${k}]`);
    }
  }
}

test('ops.json was made by PyTorch and covers every runner', () => {
  assert.match(doc.torch, /^\d+\.\d+/);
  const used = new Set(doc.cases.map((c) => c.op));
  for (const name of Object.keys(runners)) assert.ok(used.has(name), `no golden case for ${name}`);
});

for (const c of doc.cases) {
  test(`golden: ${c.name}`, () =>
    scope(() => {
      const run = runners[c.op];
      assert.ok(run, `no runner for op ${c.op}`);
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, decode(v)]));
      const result = run(inputs, c.options);
      const outputs = isTensor(result) ? { out: result } : result;
      assert.deepEqual(Object.keys(outputs).sort(), Object.keys(c.outputs).sort(), 'output names');
      for (const [k, want] of Object.entries(c.outputs)) assertMatches(`${c.name} ${k}`, outputs[k], want);
    }));
}

test('golden tests leak no tensors', checkLeaks);
