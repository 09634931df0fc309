// Optimizers against their update rules worked by hand, and schedules against PyTorch's values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scope, tensor, keep } from '../../src/tensor/index.ts';
import { mul, sum } from '../../src/ops/index.ts';
import { Adam, AdamW, SGD, clipGradNorm, cosine, multiStep, oneCycle } from '../../src/nn/index.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const close = (a: number[], b: number[], tol = 1e-6) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < tol, `${v} vs ${b[i]} at ${i}`));

/** Sets p's gradient to g by backpropagating sum(p·g). */
function setGrad(p: ReturnType<typeof tensor>, g: number[]) {
  scope(() => sum(mul(p, tensor(g))).backward());
}

test('SGD with momentum, dampening 0, weight decay', () => {
  const p = keep(tensor([1, -2]));
  p.requiresGrad = true;
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  setGrad(p, [0.5, 1]);
  opt.step();
  // d = g + wd·p = [0.51, 0.98]; buf = d; p -= 0.1·buf
  close(p.toArray(), [1 - 0.051, -2 - 0.098]);
  opt.zeroGrad();
  setGrad(p, [0.5, 1]);
  opt.step();
  const p1 = [0.949, -2.098];
  const d2 = [0.5 + 0.01 * p1[0], 1 + 0.01 * p1[1]];
  const buf2 = [0.9 * 0.51 + d2[0], 0.9 * 0.98 + d2[1]];
  close(p.toArray(), [p1[0] - 0.1 * buf2[0], p1[1] - 0.1 * buf2[1]]);
  opt.dispose();
  p.dispose();
});

test('SGD Nesterov', () => {
  const p = keep(tensor([1]));
  p.requiresGrad = true;
  const opt = new SGD([p], { lr: 0.5, momentum: 0.5, nesterov: true });
  setGrad(p, [2]);
  opt.step();
  // buf = 2; d = g + m·buf = 3; p = 1 − 0.5·3
  close(p.toArray(), [-0.5]);
  assert.throws(() => new SGD([p], { lr: 1, nesterov: true }), /Nesterov/);
  opt.dispose();
  p.dispose();
});

test('Adam and AdamW first steps', () => {
  for (const decoupled of [false, true]) {
    const p = keep(tensor([1, 2]));
    p.requiresGrad = true;
    const opt = decoupled ? new AdamW([p], { lr: 0.1, weightDecay: 0.1 }) : new Adam([p], { lr: 0.1 });
    setGrad(p, [0.3, -4]);
    opt.step();
    // first step: m̂ = g, v̂ = g², update = lr·g/(|g|+eps) ≈ lr·sign(g)
    const base = decoupled ? [1 * (1 - 0.01), 2 * (1 - 0.01)] : [1, 2];
    close(p.toArray(), [base[0] - 0.1, base[1] + 0.1], 1e-6);
    opt.zeroGrad();
    setGrad(p, [0.3, -4]);
    opt.step();
    assert.equal(opt.stateScalars().step, 2);
    assert.equal(opt.stateTensors().size, 2);
    opt.dispose();
    p.dispose();
  }
});

test('zeroGrad drops gradients', () => {
  const p = keep(tensor([1]));
  p.requiresGrad = true;
  setGrad(p, [1]);
  const opt = new SGD([p], { lr: 1 });
  scope(() => assert.ok(p.grad));
  opt.zeroGrad();
  assert.equal(p.grad, null);
  p.dispose();
});

test('clipGradNorm scales to the max norm and returns the norm before', () => {
  const p = keep(tensor([0, 0]));
  p.requiresGrad = true;
  setGrad(p, [3, 4]);
  const n = clipGradNorm([p], 1);
  assert.ok(Math.abs(n - 5) < 1e-6);
  scope(() => close(p.grad!.toArray(), [0.6, 0.8], 1e-5));
  p.dispose();
});

test('schedules', () => {
  const ms = multiStep(0.1, [2, 4], 0.1);
  close([0, 1, 2, 3, 4, 5].map(ms.at), [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], 1e-12);
  const cs = cosine(1, 10);
  close([cs.at(0), cs.at(5), cs.at(10)], [1, 0.5, 0], 1e-12);
  // torch.optim.lr_scheduler.OneCycleLR(max_lr=1, total_steps=100): lr at steps 0, 29, 99
  const oc = oneCycle(1, 100);
  close([oc.at(0), oc.at(29), oc.at(99)], [0.04, 1, 4e-6], 1e-9);
});

test('leaks no tensors', checkLeaks);
