// Linear layer: weight [out, in], bias [out], as in torch.nn.Linear.
import type { Tensor } from '../../tensor/index.ts';
import { linear } from '../../ops/linear.ts';
import { Module } from '../module.ts';
import { defaultBias, defaultWeight } from '../init.ts';

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean } = {},
  ) {
    super();
    const shape = [outFeatures, inFeatures];
    this.weight = this.registerParameter('weight', defaultWeight(shape))!;
    this.bias = this.registerParameter('bias', options.bias === false ? null : defaultBias(outFeatures, shape));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
