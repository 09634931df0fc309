// Small tensor helpers the cipher code needs that src/ops does not wrap yet.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from '../ops/dispatch.ts';

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
