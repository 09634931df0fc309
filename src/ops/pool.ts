// Pooling (torch.nn.functional.max_pool2d, avg_pool2d, adaptive_avg_pool2d), PyTorch's defaults:
// the stride defaults to the kernel size.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';
import { type Pair, pair } from './conv.ts';

const maxPool2dOp = op('aten::max_pool2d');
const avgPool2dOp = op('aten::avg_pool2d');
const adaptiveAvgPool2dOp = op('aten::adaptive_avg_pool2d');

export interface Pool2dOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(x: Tensor, kernelSize: Pair, o: Pool2dOptions & { dilation?: Pair } = {}): Tensor {
  const k = pair(kernelSize);
  return callTensor(maxPool2dOp, [x, k, pair(o.stride ?? k), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.ceilMode ?? false]);
}

export function avgPool2d(x: Tensor, kernelSize: Pair, o: Pool2dOptions & { countIncludePad?: boolean } = {}): Tensor {
  const k = pair(kernelSize);
  return callTensor(avgPool2dOp, [x, k, pair(o.stride ?? k), pair(o.padding ?? 0), o.ceilMode ?? false, o.countIncludePad ?? true, null]);
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return callTensor(adaptiveAvgPool2dOp, [x, pair(outputSize)]);
}
