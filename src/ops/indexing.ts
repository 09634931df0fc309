// Gathering, scattering, advanced indexing, masks, sorting. Index tensors are int64, as in PyTorch.
import type { Tensor } from '../tensor/index.ts';
import { callInPlace, callTensor, callTensors, op } from './dispatch.ts';
import type { ValuesIndices } from './reduction.ts';

const gatherOp = op('aten::gather');
const scatterSrcOp = op('aten::scatter', 'src');
const scatterValueOp = op('aten::scatter', 'value');
const scatterReduceOp = op('aten::scatter', 'reduce');
const scatterAddOp = op('aten::scatter_add');
const indexOp = op('aten::index', 'Tensor');
const indexPutOp = op('aten::index_put');
const indexPutInPlaceOp = op('aten::index_put_');
const maskedFillOp = op('aten::masked_fill', 'Scalar');
const maskedFillTensorOp = op('aten::masked_fill', 'Tensor');
const maskedSelectOp = op('aten::masked_select');
const topkOp = op('aten::topk');
const sortOp = op('aten::sort', 'stable');
const argsortOp = op('aten::argsort', 'stable');
const nonzeroOp = op('aten::nonzero');
const oneHotOp = op('aten::one_hot');

/** out[i][j] = x[index[i][j]][j] for dim 0, and so on (torch.gather). */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  return callTensor(gatherOp, [x, dim, index]);
}

/**
 * A copy of x with src (a tensor or a number) written at index along dim. reduce 'add' or
 * 'multiply' combines with what is there instead of overwriting ('add' with a tensor src is
 * torch.scatter_add, which is differentiable).
 */
export function scatter(x: Tensor, dim: number, index: Tensor, src: Tensor | number, reduce?: 'add' | 'multiply'): Tensor {
  if (typeof src === 'number') {
    if (reduce !== undefined) throw new TypeError('scatter: reduce needs a tensor src');
    return callTensor(scatterValueOp, [x, dim, index, src]);
  }
  if (reduce === 'add') return callTensor(scatterAddOp, [x, dim, index, src]);
  if (reduce !== undefined) return callTensor(scatterReduceOp, [x, dim, index, src, reduce]);
  return callTensor(scatterSrcOp, [x, dim, index, src]);
}

/** x[i0, i1, ...] with tensor indices (int64 or bool masks); null stands for a full slice `:`. */
export function indexTensor(x: Tensor, indices: readonly (Tensor | null)[]): Tensor {
  return callTensor(indexOp, [x, indices]);
}

/** A copy of x with x[indices] = values (or += values when accumulate). */
export function indexPut(x: Tensor, indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
  return callTensor(indexPutOp, [x, indices, values, accumulate]);
}

/** x[indices] = values in place (or += when accumulate); returns x. */
export function indexPutInPlace(x: Tensor, indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
  return callInPlace(indexPutInPlaceOp, x, [indices, values, accumulate]);
}

/** A copy of x with `value` where mask is true (mask broadcasts). */
export function maskedFill(x: Tensor, mask: Tensor, value: number | Tensor): Tensor {
  return typeof value === 'number' ? callTensor(maskedFillOp, [x, mask, value]) : callTensor(maskedFillTensorOp, [x, mask, value]);
}

/** The elements where mask is true, as a 1-D tensor. */
export function maskedSelect(x: Tensor, mask: Tensor): Tensor {
  return callTensor(maskedSelectOp, [x, mask]);
}

/** The k largest (or smallest) along dim (default the last), with their indices. */
export function topk(x: Tensor, k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
  const [values, indices] = callTensors(topkOp, [x, k, dim, largest, sorted]);
  return { values, indices };
}

/** Sorted values and their original indices; stable keeps equal elements in order. */
export function sort(x: Tensor, dim = -1, descending = false, stable = false): ValuesIndices {
  const [values, indices] = callTensors(sortOp, [x, stable, dim, descending]);
  return { values, indices };
}

/** The indices that sort x along dim. */
export function argsort(x: Tensor, dim = -1, descending = false, stable = false): Tensor {
  return callTensor(argsortOp, [x, stable, dim, descending]);
}

/** Coordinates of the non-zero elements: int64 [count, ndim]. */
export function nonzero(x: Tensor): Tensor {
  return callTensor(nonzeroOp, [x]);
}

/** int64 class indices → int64 one-hot with a trailing dim of numClasses (-1: max + 1). */
export function oneHot(x: Tensor, numClasses = -1): Tensor {
  return callTensor(oneHotOp, [x, numClasses]);
}
