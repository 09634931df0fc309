// Finite-difference gradient check: compares autograd's gradients of fn with central differences,
// in float64. The output is reduced to a scalar with a fixed, non-uniform weighting
// L = Σ out·v, so every element of the Jacobian takes part (a plain sum would hide some errors).
import assert from 'node:assert/strict';
import { noGrad, scope, tensor, type Tensor } from '../../src/tensor/index.ts';
import { mul, sum } from '../../src/ops/index.ts';

export interface GradcheckOptions {
  /** Step of the central difference (default 1e-6). */
  eps?: number;
  /** Accept |analytic − numeric| ≤ atol + rtol·|numeric| (defaults 1e-6 and 1e-4). */
  atol?: number;
  rtol?: number;
}

export interface GradInput {
  values: ArrayLike<number>;
  shape: readonly number[];
}

function weighting(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + 0.3) + 0.1);
}

/**
 * Checks the gradient of fn with respect to every input. Inputs are plain values (float64 leaves
 * are made from them for each evaluation); whatever else fn needs (targets, options) it closes
 * over. Throws an AssertionError naming the input and element that disagree. Leaks nothing.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: readonly GradInput[], o: GradcheckOptions = {}): void {
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-6;
  const rtol = o.rtol ?? 1e-4;
  const base = inputs.map((x) => Float64Array.from(x.values));
  let v: Float64Array | null = null;

  // L for the given input values; with `leaves`, the inputs are made leaves that record grads.
  const loss = (arrays: Float64Array[], leaves?: Tensor[]): Tensor => {
    const xs = arrays.map((a, k) => tensor(a, inputs[k].shape, 'float64'));
    if (leaves) {
      for (const x of xs) x.requiresGrad = true;
      leaves.push(...xs);
    }
    const out = fn(...xs);
    if (out.dtype !== 'float64') throw new TypeError(`gradcheck: fn must compute in float64, got ${out.dtype}`);
    v ??= weighting(out.numel);
    return sum(mul(out, tensor(v, out.shape, 'float64')));
  };

  scope(() => {
    // Analytic gradients from autograd.
    const leaves: Tensor[] = [];
    loss(base, leaves).backward();
    const analytic = leaves.map((x, k) => x.grad?.toArray() ?? new Array<number>(base[k].length).fill(0));

    // Numeric gradients by central differences, one element at a time.
    noGrad(() => {
      for (let k = 0; k < base.length; k++) {
        for (let j = 0; j < base[k].length; j++) {
          const numeric = scope(() => {
            const plus = base.map((a) => a.slice());
            const minus = base.map((a) => a.slice());
            plus[k][j] += eps;
            minus[k][j] -= eps;
            return (loss(plus).item() - loss(minus).item()) / (2 * eps);
          });
          const a = analytic[k][j];
          assert.ok(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric), `gradcheck: input ${k} element ${j}: autograd ${a}, finite difference ${numeric} (|diff| ${Math.abs(a - numeric)})`);
        }
      }
    });
  });
}
