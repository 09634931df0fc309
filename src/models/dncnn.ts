// DnCNN (Zhang et al. 2017): conv+ReLU, (depth−2)× conv+BN+ReLU, conv; bias-free convs. The
// network predicts the noise: clean = noisy − net(noisy). Names follow SaoYan/DnCNN-PyTorch
// (a Sequential called dncnn: conv at 0, ReLU at 1, then conv/BN/ReLU triples, last conv).
import type { Tensor } from '../tensor/index.ts';
import { BatchNorm2d, Conv2d, Module, ReLU, Sequential } from '../nn/index.ts';
import { sub } from '../ops/arithmetic.ts';

export interface DnCNNConfig {
  depth?: number;
  features?: number;
  channels?: number;
  batchNorm?: boolean;
}

export class DnCNN extends Module {
  readonly dncnn: Sequential;
  readonly depth: number;
  readonly channels: number;

  constructor(config: DnCNNConfig = {}) {
    super();
    this.depth = config.depth ?? 17;
    const features = config.features ?? 64;
    this.channels = config.channels ?? 1;
    if (this.depth < 2) throw new RangeError('DnCNN: depth must be at least 2');
    const layers: Module[] = [new Conv2d(this.channels, features, 3, { padding: 1, bias: false }), new ReLU(true)];
    for (let i = 0; i < this.depth - 2; i++) {
      layers.push(new Conv2d(features, features, 3, { padding: 1, bias: false }));
      if (config.batchNorm ?? true) layers.push(new BatchNorm2d(features));
      layers.push(new ReLU(true));
    }
    layers.push(new Conv2d(features, this.channels, 3, { padding: 1, bias: false }));
    this.dncnn = this.registerModule('dncnn', new Sequential(...layers));
  }

  /** The predicted noise residual. */
  forward(noisy: Tensor): Tensor {
    if (noisy.ndim !== 4 || noisy.shape[1] !== this.channels) {
      throw new RangeError(`DnCNN: expected input [N, ${this.channels}, H, W], got [${noisy.shape.join(', ')}]`);
    }
    return this.dncnn.forward(noisy);
  }

  /** noisy − forward(noisy): the denoised image (not clamped). */
  denoise(noisy: Tensor): Tensor {
    const residual = this.forward(noisy);
    const out = sub(noisy, residual);
    residual.dispose();
    return out;
  }
}
