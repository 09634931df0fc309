// BatchNorm2d with PyTorch's names: weight, bias, running_mean, running_var, num_batches_tracked.
import { type Tensor, noGrad } from '../../tensor/index.ts';
import { batchNorm } from '../../ops/norm.ts';
import { ones, zeros } from '../../ops/creation.ts';
import { addInPlace } from '../../ops/inplace.ts';
import { Module } from '../module.ts';

export interface BatchNormConfig {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly numFeatures: number,
    c: BatchNormConfig = {},
  ) {
    super();
    this.eps = c.eps ?? 1e-5;
    this.momentum = c.momentum ?? 0.1;
    const affine = c.affine ?? true;
    const track = c.trackRunningStats ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([], { dtype: 'int64' }) : null);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new RangeError(`BatchNorm2d: expected a 4-D input [N, C, H, W], got [${x.shape.join(', ')}]`);
    const useBatchStats = this.training || this.runningMean === null;
    if (this.training && this.numBatchesTracked) {
      const counter = this.numBatchesTracked;
      noGrad(() => addInPlace(counter, 1));
    }
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: useBatchStats,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}
