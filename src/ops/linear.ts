// Linear maps and matrix products.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

const linearOp = op('aten::linear');
const matmulOp = op('aten::matmul');
const mmOp = op('aten::mm');

/** input [..., in], weight [out, in], bias [out] or null: input · weightᵀ + bias. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return callTensor(linearOp, [input, weight, bias]);
}

/** Broadcasting matrix product (torch.matmul). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return callTensor(matmulOp, [a, b]);
}

/** 2-D matrix product (torch.mm). */
export function mm(a: Tensor, b: Tensor): Tensor {
  return callTensor(mmOp, [a, b]);
}
