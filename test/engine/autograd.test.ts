// Autograd through the generic op entry point: backward with and without an explicit gradient,
// accumulation, dropping gradients, no-grad mode, detach, and the in-place-on-leaf guard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, scope, noGrad, isGradEnabled, type Tensor } from '../../src/tensor/index.ts';
import { native } from '../../src/native/index.ts';
import { op, callTensor } from '../../src/ops/dispatch.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks(); // before any tensor exists

const mulT = (a: Tensor, b: Tensor): Tensor => callTensor(op('aten::mul', 'Tensor'), [a, b]);
const mulS = (a: Tensor, s: number): Tensor => callTensor(op('aten::mul', 'Scalar'), [a, s]);
const sum = (a: Tensor): Tensor => callTensor(op('aten::sum'), [a]);

function leaf(values: number[], shape?: number[]): Tensor {
  const t = tensor(values, shape);
  t.requiresGrad = true;
  return t;
}

function close(actual: number[], expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `element ${i}: ${v} vs ${expected[i]}`));
}

test('backward of a scalar, without an explicit gradient', () => {
  scope(() => {
    const x = leaf([1, 2, 3]);
    assert.equal(x.requiresGrad, true);
    assert.equal(x.grad, null, 'no gradient before backward');
    const y = sum(mulT(x, x)); // d/dx sum(x²) = 2x
    assert.equal(y.requiresGrad, true);
    assert.deepEqual(y.shape, []);
    y.backward();
    close(x.grad!.toArray(), [2, 4, 6]);
  });
});

test('backward of a non-scalar with an explicit gradient', () => {
  scope(() => {
    const x = leaf([1, 2, 3, 4], [2, 2]);
    const y = mulS(x, 3);
    y.backward(tensor([1, 0.5, 2, -1], [2, 2]));
    close(x.grad!.toArray(), [3, 1.5, 6, -3]);
    assert.deepEqual(x.grad!.shape, [2, 2]);
  });
});

test('gradients accumulate across two backwards, and retainGraph allows a second pass', () => {
  scope(() => {
    const x = leaf([1, 2, 3]);
    sum(mulS(x, 2)).backward();
    sum(mulS(x, 5)).backward();
    close(x.grad!.toArray(), [7, 7, 7]);

    const w = leaf([0.5, -1]);
    const loss = sum(mulT(w, w));
    loss.backward(undefined, { retainGraph: true });
    loss.backward();
    close(w.grad!.toArray(), [2, -4]); // 2 × 2w
  });
});

test('the grad tensor shares storage with the accumulated gradient', () => {
  scope(() => {
    const x = leaf([1, 1]);
    sum(mulS(x, 3)).backward();
    const g1 = x.grad!;
    const g2 = x.grad!;
    assert.ok(native.sameTensor(g1.handle, g2.handle), 'both handles reach the same gradient tensor');
    sum(mulS(x, 1)).backward();
    close(g1.toArray(), [4, 4], 0); // accumulated in place
  });
});

test('setGrad(null) drops the gradient; setGrad(t) installs one', () => {
  scope(() => {
    const x = leaf([1, 2]);
    sum(mulS(x, 2)).backward();
    assert.notEqual(x.grad, null);
    x.setGrad(null);
    assert.equal(x.grad, null);
    sum(mulS(x, 3)).backward();
    close(x.grad!.toArray(), [3, 3], 0); // starts afresh, no stale accumulation
    x.setGrad(tensor([10, 20]));
    sum(mulS(x, 1)).backward();
    close(x.grad!.toArray(), [11, 21], 0);
  });
});

test('noGrad() disables recording and restores the mode, also when fn throws', () => {
  scope(() => {
    const x = leaf([1, 2, 3]);
    assert.equal(isGradEnabled(), true);
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return mulS(x, 2);
    });
    assert.equal(y.requiresGrad, false, 'ops under noGrad record no graph');
    assert.equal(isGradEnabled(), true);
    assert.equal(mulS(x, 2).requiresGrad, true, 'recording is back after noGrad');

    assert.throws(
      () =>
        noGrad(() => {
          throw new Error('inside noGrad');
        }),
      /inside noGrad/,
    );
    assert.equal(isGradEnabled(), true, 'restored after a throw');

    assert.throws(() => noGrad(() => callTensor(op('aten::mm'), [x, x])), /aten::mm/);
    assert.equal(isGradEnabled(), true, 'restored after an engine error');

    // Nested: the inner call restores the outer (disabled) mode.
    noGrad(() => {
      noGrad(() => undefined);
      assert.equal(isGradEnabled(), false);
    });
    assert.equal(isGradEnabled(), true);

    // An async function is refused, and the mode is restored.
    assert.throws(() => noGrad(async () => 1), /synchronous/);
    assert.equal(isGradEnabled(), true);
  });
});

test('in-place updates under noGrad on a leaf that requires grad (what an optimizer does)', () => {
  scope(() => {
    const p = leaf([1, 2, 3]);
    sum(mulT(p, p)).backward();
    noGrad(() => {
      callTensor(op('aten::add_', 'Tensor'), [p, p.grad!, -0.5]); // p -= 0.5 · grad
    });
    close(p.toArray(), [0, 0, 0]);
    assert.equal(p.requiresGrad, true);
  });
});

test("detach via op('aten::detach'): no grad, same storage", () => {
  scope(() => {
    const x = leaf([1, 2, 3]);
    const y = mulS(x, 2);
    const d = callTensor(op('aten::detach'), [y]);
    assert.equal(d.requiresGrad, false);
    assert.equal(y.requiresGrad, true);
    assert.deepEqual(d.toArray(), [2, 4, 6]);
    // The detached tensor shares its storage: an in-place change shows in the original.
    callTensor(op('aten::mul_', 'Scalar'), [d, 10]);
    assert.deepEqual(y.toArray(), [20, 40, 60]);
    // Gradients do not flow through the detached branch.
    const z = sum(mulT(callTensor(op('aten::detach'), [x]), x));
    z.backward();
    close(x.grad!.toArray(), [1, 2, 3]);
  });
});

test('an in-place op on a leaf that requires grad throws a clear error', () => {
  scope(() => {
    const x = leaf([1, 2, 3]);
    for (const [o, args] of [
      [op('aten::add_', 'Tensor'), [x, tensor([1, 1, 1])]],
      [op('aten::mul_', 'Scalar'), [x, 2]],
      [op('aten::relu_'), [x]],
    ] as const) {
      assert.throws(
        () => callTensor(o, args),
        (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.ok(e.message.startsWith(`${o.name}.`) || e.message.startsWith(`${o.name}:`), e.message);
          assert.match(e.message, /a leaf Variable that requires grad is being used in an in-place operation/);
          return true;
        },
      );
    }
    assert.deepEqual(x.toArray(), [1, 2, 3], 'the refused op changed nothing');
  });
});

test('an in-place op on a saved tensor makes backward fail with a clear error', () => {
  scope(() => {
    const x = leaf([1, 2, 3]);
    const h = mulS(x, 1); // non-leaf
    const y = sum(mulT(h, h)); // saves h
    callTensor(op('aten::mul_', 'Scalar'), [h, 2]);
    assert.throws(() => y.backward(), /backward: .*modified by an inplace operation/);
  });
});

test('gradients of a small conv net match hand-derived values', () => {
  scope(() => {
    // conv2d with a 1×1 kernel is a per-pixel scale: d(sum(w·x))/dw = sum(x).
    const x = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
    const w = leaf([0.5], [1, 1, 1, 1]);
    const out = callTensor(op('aten::conv2d'), [x, w, null, [1, 1], [0, 0], [1, 1], 1]);
    sum(out).backward();
    close(w.grad!.toArray(), [10]);
  });
});

test('leaks no tensors', checkLeaks);
