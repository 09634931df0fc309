// Comparisons: elementwise ones give bool tensors; allclose and equal answer with a boolean.
import type { Tensor } from '../tensor/index.ts';
import { call, callTensor, op } from './dispatch.ts';

type Cmp = 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';
const cmpOps = Object.fromEntries(
  (['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((n) => [
    n,
    {
      tensor: op(`aten::${n}`, 'Tensor'),
      scalar: op(`aten::${n}`, 'Scalar'),
    },
  ]),
) as Record<Cmp, { tensor: ReturnType<typeof op>; scalar: ReturnType<typeof op> }>;
const isfiniteOp = op('aten::isfinite');
const isnanOp = op('aten::isnan');
const allcloseOp = op('aten::allclose');
const equalOp = op('aten::equal');

function compare(name: Cmp, a: Tensor, b: Tensor | number): Tensor {
  const o = cmpOps[name];
  return typeof b === 'number' ? callTensor(o.scalar, [a, b]) : callTensor(o.tensor, [a, b]);
}

export function eq(a: Tensor, b: Tensor | number): Tensor {
  return compare('eq', a, b);
}

export function ne(a: Tensor, b: Tensor | number): Tensor {
  return compare('ne', a, b);
}

export function lt(a: Tensor, b: Tensor | number): Tensor {
  return compare('lt', a, b);
}

export function le(a: Tensor, b: Tensor | number): Tensor {
  return compare('le', a, b);
}

export function gt(a: Tensor, b: Tensor | number): Tensor {
  return compare('gt', a, b);
}

export function ge(a: Tensor, b: Tensor | number): Tensor {
  return compare('ge', a, b);
}

export function isfinite(x: Tensor): Tensor {
  return callTensor(isfiniteOp, [x]);
}

export function isnan(x: Tensor): Tensor {
  return callTensor(isnanOp, [x]);
}

export interface AllcloseOptions {
  rtol?: number;
  atol?: number;
  equalNan?: boolean;
}

/** |a − b| ≤ atol + rtol·|b| everywhere (defaults rtol 1e-5, atol 1e-8, as PyTorch). */
export function allclose(a: Tensor, b: Tensor, o: AllcloseOptions = {}): boolean {
  return call(allcloseOp, [a, b, o.rtol ?? 1e-5, o.atol ?? 1e-8, o.equalNan ?? false]) as boolean;
}

/** Same shape and exactly the same values (torch.equal). */
export function equal(a: Tensor, b: Tensor): boolean {
  return call(equalOp, [a, b]) as boolean;
}
