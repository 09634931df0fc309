// A small CNN for small images (Fashion-MNIST's 28×28 grayscale, or 32×32 colour): three 3×3 conv
// layers with batch norm, two 2×2 max-pools, average pooling to 4×4 (so any input size of at least
// 16×16 gives the head the same 512 features) and one Linear. About 19k parameters: it trains to about 90 % on Fashion-MNIST in a couple of epochs on two CPU cores,
// which is what the demo on a machine without fixtures needs. Names follow a PyTorch
// `nn.Sequential` (features.N, classifier), so its weights load into the same model in PyTorch.
import type { Tensor } from '../tensor/index.ts';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn/index.ts';

/** The side of the feature map the head sees. */
const POOLED = 4;

export interface SmallCnnConfig {
  /** Input channels: 1 (grayscale, the default) or 3. */
  channels?: number;
  numClasses?: number;
  /** Channels of the three conv layers (default 16, 32, 32). */
  widths?: readonly [number, number, number];
}

export class SmallCnn extends Module {
  readonly features: Sequential;
  readonly flatten = new Flatten(1);
  readonly classifier: Linear;
  readonly channels: number;

  constructor(config: SmallCnnConfig = {}) {
    super();
    this.channels = config.channels ?? 1;
    const [a, b, c] = config.widths ?? [16, 32, 32];
    const block = (inC: number, outC: number) => [new Conv2d(inC, outC, 3, { padding: 1, bias: false }), new BatchNorm2d(outC), new ReLU(true)];
    this.features = this.registerModule(
      'features',
      new Sequential(...block(this.channels, a), new MaxPool2d(2, { stride: 2 }), ...block(a, b), new MaxPool2d(2, { stride: 2 }), ...block(b, c), new AdaptiveAvgPool2d(POOLED)),
    );
    this.classifier = this.registerModule('classifier', new Linear(c * POOLED * POOLED, config.numClasses ?? 10));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels || x.shape[2] < 16 || x.shape[3] < 16) {
      throw new RangeError(`SmallCnn: expected input [N, ${this.channels}, H, W] with H, W ≥ 16, got [${x.shape.join(', ')}]`);
    }
    const f = this.features.forward(x);
    const flat = this.flatten.forward(f);
    f.dispose();
    const out = this.classifier.forward(flat);
    flat.dispose();
    return out;
  }
}
