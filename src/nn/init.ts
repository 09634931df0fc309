// PyTorch's default initialisation, so a model built here starts where the same model in
// PyTorch would (in distribution; the draws come from nnlock's generator, seeded by manualSeed).
import { type Tensor, noGrad } from '../tensor/index.ts';
import { zeros } from '../ops/creation.ts';
import { normalInPlace, uniformInPlace } from '../ops/inplace.ts';

/** fan_in as torch.nn.init computes it: size(1) × receptive field. */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) throw new RangeError('fanIn: needs a tensor of at least 2 dimensions');
  return shape.slice(2).reduce((a, b) => a * b, shape[1]);
}

/** fan_out: size(0) × receptive field. */
export function fanOut(shape: readonly number[]): number {
  return shape.slice(2).reduce((a, b) => a * b, shape[0]);
}

/** U(−bound, bound) as a new float32 tensor. */
export function uniform(shape: readonly number[], bound: number): Tensor {
  const t = zeros(shape);
  noGrad(() => uniformInPlace(t, -bound, bound));
  return t;
}

/** N(0, std²) as a new float32 tensor. */
export function normal(shape: readonly number[], std: number): Tensor {
  const t = zeros(shape);
  noGrad(() => normalInPlace(t, 0, std));
  return t;
}

/**
 * Conv and Linear weights: kaiming_uniform_(a=√5), PyTorch's default, which reduces to
 * U(−1/√fan_in, 1/√fan_in). Biases use the same bound.
 */
export function defaultWeight(shape: readonly number[]): Tensor {
  return uniform(shape, 1 / Math.sqrt(fanIn(shape)));
}

export function defaultBias(size: number, weightShape: readonly number[]): Tensor {
  return uniform([size], 1 / Math.sqrt(fanIn(weightShape)));
}

/** kaiming_normal_(mode='fan_out', nonlinearity='relu'): torchvision's choice for VGG convs. */
export function kaimingNormalFanOut(shape: readonly number[]): Tensor {
  return normal(shape, Math.sqrt(2 / fanOut(shape)));
}

/** kaiming_normal_(mode='fan_in'): what the CIFAR ResNet code uses for convs and linears. */
export function kaimingNormalFanIn(shape: readonly number[]): Tensor {
  return normal(shape, Math.sqrt(2 / fanIn(shape)));
}
