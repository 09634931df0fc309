// Reductions. `dim` omitted (or null) reduces over every element, as in PyTorch; a dim list
// reduces over several at once. keepdim keeps reduced dims with size 1.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, callTensors, op } from './dispatch.ts';

export type Dims = number | readonly number[];

/** Values and their positions along the reduced dim (torch.return_types). */
export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

const sumOp = op('aten::sum');
const sumDimOp = op('aten::sum', 'dim_IntList');
const meanOp = op('aten::mean');
const meanDimOp = op('aten::mean', 'dim');
const maxOp = op('aten::max');
const maxDimOp = op('aten::max', 'dim');
const minOp = op('aten::min');
const minDimOp = op('aten::min', 'dim');
const argmaxOp = op('aten::argmax');
const argminOp = op('aten::argmin');
const stdOp = op('aten::std', 'correction');
const varOp = op('aten::var', 'correction');
const vectorNormOp = op('aten::linalg_vector_norm');
const logsumexpOp = op('aten::logsumexp');
const cumsumOp = op('aten::cumsum');
const prodOp = op('aten::prod');
const prodDimOp = op('aten::prod', 'dim_int');
const allOp = op('aten::all');
const allDimOp = op('aten::all', 'dim');
const anyOp = op('aten::any');
const anyDimOp = op('aten::any', 'dim');
const countNonzeroOp = op('aten::count_nonzero', 'dim_IntList');

function dimList(dim: Dims): readonly number[] {
  return typeof dim === 'number' ? [dim] : dim;
}

/** Sum (integers and bools sum to int64, as in PyTorch). */
export function sum(x: Tensor, dim?: Dims | null, keepdim = false): Tensor {
  if (dim == null) return callTensor(sumOp, [x]);
  return callTensor(sumDimOp, [x, dimList(dim), keepdim]);
}

/** Mean of a floating tensor (PyTorch refuses integer inputs; convert with toDtype first). */
export function mean(x: Tensor, dim?: Dims | null, keepdim = false): Tensor {
  if (dim == null) return callTensor(meanOp, [x]);
  return callTensor(meanDimOp, [x, dimList(dim), keepdim]);
}

/** max(x): the largest element (0-d); max(x, dim): {values, indices} along dim. */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function max(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  if (dim === undefined) return callTensor(maxOp, [x]);
  const [values, indices] = callTensors(maxDimOp, [x, dim, keepdim]);
  return { values, indices };
}

export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, keepdim?: boolean): ValuesIndices;
export function min(x: Tensor, dim?: number, keepdim = false): Tensor | ValuesIndices {
  if (dim === undefined) return callTensor(minOp, [x]);
  const [values, indices] = callTensors(minDimOp, [x, dim, keepdim]);
  return { values, indices };
}

/** Position of the largest element (of the flattened tensor when dim is omitted), int64. */
export function argmax(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return callTensor(argmaxOp, [x, dim ?? null, keepdim]);
}

export function argmin(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return callTensor(argminOp, [x, dim ?? null, keepdim]);
}

/** Standard deviation; unbiased (Bessel's correction, n − 1) by default, as in PyTorch. */
export function std(x: Tensor, dim?: Dims | null, unbiased = true, keepdim = false): Tensor {
  return callTensor(stdOp, [x, dim == null ? null : dimList(dim), unbiased ? 1 : 0, keepdim]);
}

/** Variance; unbiased (n − 1) by default, as in PyTorch. */
export function variance(x: Tensor, dim?: Dims | null, unbiased = true, keepdim = false): Tensor {
  return callTensor(varOp, [x, dim == null ? null : dimList(dim), unbiased ? 1 : 0, keepdim]);
}

// `var` is a reserved word, so the function is named variance; PyTorch's name is exported too,
// reachable as ops.var(x) or `import { var as v }`.
export { variance as var };

/** p-norm (default 2; Infinity for the max norm) over dim or every element (torch.linalg.vector_norm). */
export function norm(x: Tensor, p = 2, dim?: Dims | null, keepdim = false): Tensor {
  return callTensor(vectorNormOp, [x, p, dim == null ? null : dimList(dim), keepdim]);
}

/** log Σ exp(x) along dim, computed stably. */
export function logsumexp(x: Tensor, dim: Dims, keepdim = false): Tensor {
  return callTensor(logsumexpOp, [x, dimList(dim), keepdim]);
}

export function cumsum(x: Tensor, dim: number): Tensor {
  return callTensor(cumsumOp, [x, dim]);
}

/** Product of all elements, or along one dim. */
export function prod(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  if (dim == null) return callTensor(prodOp, [x]);
  return callTensor(prodDimOp, [x, dim, keepdim]);
}

/** Whether every element is non-zero (a bool tensor). */
export function all(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  if (dim == null) return callTensor(allOp, [x]);
  return callTensor(allDimOp, [x, dim, keepdim]);
}

export function any(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  if (dim == null) return callTensor(anyOp, [x]);
  return callTensor(anyDimOp, [x, dim, keepdim]);
}

/** Number of non-zero elements (int64), overall or along dims. */
export function countNonzero(x: Tensor, dim?: Dims | null): Tensor {
  // An empty dim list counts over every dim.
  return callTensor(countNonzeroOp, [x, dim == null ? [] : dimList(dim)]);
}

const aminOp = op('aten::amin');
const amaxOp = op('aten::amax');

/** Minimum over dims (torch.amin). */
export function amin(x: Tensor, dims: readonly number[], keepdim = false): Tensor {
  return callTensor(aminOp, [x, dims, keepdim]);
}

/** Maximum over dims (torch.amax). */
export function amax(x: Tensor, dims: readonly number[], keepdim = false): Tensor {
  return callTensor(amaxOp, [x, dims, keepdim]);
}
