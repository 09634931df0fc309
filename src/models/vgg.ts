// VGG 11/13/16/19 for 32×32 inputs (CIFAR), with or without batch norm, and a width multiplier
// for small variants. Names follow torchvision: convs at features.N, the head at classifier.N.
import type { Tensor } from '../tensor/index.ts';
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn/index.ts';

const CONFIGS = {
  11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
} as const;

export type VggDepth = keyof typeof CONFIGS;

export interface VggConfig {
  depth: VggDepth;
  batchNorm?: boolean;
  /** Channel multiplier: 0.25 gives a VGG with 16..128 channels. */
  width?: number;
  numClasses?: number;
  /**
   * 'linear': one Linear after the 1×1 feature map (the usual CIFAR VGG); 'mlp': the
   * 512-512-classes head with dropout of the CIFAR VGG ports of torchvision's model.
   */
  head?: 'linear' | 'mlp';
}

export class VGG extends Module {
  readonly features: Sequential;
  readonly flatten = new Flatten(1);
  readonly classifier: Sequential;

  constructor(readonly config: VggConfig) {
    super();
    const cfg = CONFIGS[config.depth];
    if (!cfg) throw new RangeError(`VGG: depth must be 11, 13, 16 or 19, got ${config.depth}`);
    const width = config.width ?? 1;
    const layers: Module[] = [];
    let inC = 3;
    for (const v of cfg) {
      if (v === 'M') {
        layers.push(new MaxPool2d(2, { stride: 2 }));
        continue;
      }
      const outC = Math.max(1, Math.round(v * width));
      layers.push(new Conv2d(inC, outC, 3, { padding: 1 }));
      if (config.batchNorm) layers.push(new BatchNorm2d(outC));
      layers.push(new ReLU(true));
      inC = outC;
    }
    this.features = this.registerModule('features', new Sequential(...layers));
    const classes = config.numClasses ?? 10;
    const head = config.head ?? 'linear';
    this.classifier = this.registerModule(
      'classifier',
      head === 'linear'
        ? new Sequential(new Linear(inC, classes))
        : new Sequential(new Dropout(), new Linear(inC, inC), new ReLU(true), new Dropout(), new Linear(inC, inC), new ReLU(true), new Linear(inC, classes)),
    );
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3 || x.shape[2] !== 32 || x.shape[3] !== 32) {
      throw new RangeError(`VGG: expected input [N, 3, 32, 32], got [${x.shape.join(', ')}]`);
    }
    const f = this.features.forward(x);
    const flat = this.flatten.forward(f);
    f.dispose();
    const out = this.classifier.forward(flat);
    flat.dispose();
    return out;
  }
}

export function vgg(depth: VggDepth, options: Omit<VggConfig, 'depth'> = {}): VGG {
  return new VGG({ depth, ...options });
}
