// Normalisation (torch.nn.functional.batch_norm).
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

const batchNormOp = op('aten::batch_norm');

export interface BatchNormOptions {
  /** Use batch statistics and update the running ones (training mode). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * In training mode the running mean and variance are updated in place (momentum 0.1 by default),
 * exactly as PyTorch does; in eval mode they normalise the input.
 */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null = null, bias: Tensor | null = null, o: BatchNormOptions = {}): Tensor {
  return callTensor(batchNormOp, [input, weight, bias, runningMean, runningVar, o.training ?? false, o.momentum ?? 0.1, o.eps ?? 1e-5, true]);
}
