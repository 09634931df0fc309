// Losses (torch.nn.functional), reducing to the mean by default as PyTorch does.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

export type Reduction = 'none' | 'mean' | 'sum';

export interface ReductionOptions {
  reduction?: Reduction;
}

export interface ClassLossOptions extends ReductionOptions {
  /** Per-class weights [C]. */
  weight?: Tensor | null;
  /** Targets with this class index add nothing and do not count in the mean (default -100). */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends ClassLossOptions {
  /** Mixes the target with the uniform distribution (0 = none), as PyTorch ≥ 1.10. */
  labelSmoothing?: number;
}

export interface BceWithLogitsOptions extends ReductionOptions {
  weight?: Tensor | null;
  /** Weight of positive examples per class, for imbalanced data. */
  posWeight?: Tensor | null;
}

const crossEntropyOp = op('aten::cross_entropy_loss');
const nllLossOp = op('aten::nll_loss_nd');
const mseLossOp = op('aten::mse_loss');
const l1LossOp = op('aten::l1_loss');
const bceWithLogitsOp = op('aten::binary_cross_entropy_with_logits');

// at::Reduction::Reduction: None = 0, Mean = 1, Sum = 2.
function reductionCode(r: Reduction | undefined): number {
  switch (r ?? 'mean') {
    case 'none':
      return 0;
    case 'mean':
      return 1;
    case 'sum':
      return 2;
    default:
      throw new RangeError(`unknown reduction '${String(r)}' (expected 'none', 'mean' or 'sum')`);
  }
}

/**
 * logits [N, C] (or [N, C, d1, ...]); target int64 class indices [N] (or [N, d1, ...]), or
 * class probabilities of the logits' shape.
 */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  const smoothing = o.labelSmoothing ?? 0;
  if (smoothing < 0 || smoothing > 1) throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  return callTensor(crossEntropyOp, [logits, target, o.weight ?? null, reductionCode(o.reduction), o.ignoreIndex ?? -100, smoothing]);
}

/** Negative log-likelihood of log-probabilities [N, C, ...] at int64 targets [N, ...]. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: ClassLossOptions = {}): Tensor {
  return callTensor(nllLossOp, [logProbs, target, o.weight ?? null, reductionCode(o.reduction), o.ignoreIndex ?? -100]);
}

export function mseLoss(input: Tensor, target: Tensor, o: ReductionOptions = {}): Tensor {
  return callTensor(mseLossOp, [input, target, reductionCode(o.reduction)]);
}

export function l1Loss(input: Tensor, target: Tensor, o: ReductionOptions = {}): Tensor {
  return callTensor(l1LossOp, [input, target, reductionCode(o.reduction)]);
}

/** Sigmoid + binary cross-entropy in one numerically stable op; target in [0, 1]. */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, o: BceWithLogitsOptions = {}): Tensor {
  return callTensor(bceWithLogitsOp, [input, target, o.weight ?? null, o.posWeight ?? null, reductionCode(o.reduction)]);
}
