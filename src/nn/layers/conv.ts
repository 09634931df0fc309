// Conv2d and ConvTranspose2d layers: weight and bias named as in torch.nn.
import type { Tensor } from '../../tensor/index.ts';
import { type Pair, conv2d, convTranspose2d, pair } from '../../ops/conv.ts';
import { Module } from '../module.ts';
import { defaultBias, defaultWeight } from '../init.ts';

export interface Conv2dConfig {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  /**
   * An optional transform of the weight at each forward (e.g. PSS multiplies it by learned
   * per-kernel gates). The stored weight itself is never changed by it.
   */
  weightTransform: ((weight: Tensor) => Tensor) | null = null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    c: Conv2dConfig = {},
  ) {
    super();
    this.groups = c.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) throw new RangeError('Conv2d: channels must be divisible by groups');
    const [kh, kw] = pair(kernelSize);
    const shape = [outChannels, inChannels / this.groups, kh, kw];
    this.weight = this.registerParameter('weight', defaultWeight(shape))!;
    this.bias = this.registerParameter('bias', c.bias === false ? null : defaultBias(outChannels, shape));
    this.stride = pair(c.stride ?? 1);
    this.padding = pair(c.padding ?? 0);
    this.dilation = pair(c.dilation ?? 1);
  }

  forward(x: Tensor): Tensor {
    const options = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    if (!this.weightTransform) return conv2d(x, this.weight, this.bias, options);
    const w = this.weightTransform(this.weight);
    const out = conv2d(x, w, this.bias, options);
    if (w !== this.weight) w.dispose();
    return out;
  }
}

export interface ConvTranspose2dConfig extends Conv2dConfig {
  outputPadding?: Pair;
}

export class ConvTranspose2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    c: ConvTranspose2dConfig = {},
  ) {
    super();
    this.groups = c.groups ?? 1;
    if (inChannels % this.groups || outChannels % this.groups) throw new RangeError('ConvTranspose2d: channels must be divisible by groups');
    const [kh, kw] = pair(kernelSize);
    // PyTorch's transposed-conv layout is [in, out/groups, kh, kw]; its fan_in is out/groups·kh·kw.
    const shape = [inChannels, outChannels / this.groups, kh, kw];
    this.weight = this.registerParameter('weight', defaultWeight(shape))!;
    this.bias = this.registerParameter('bias', c.bias === false ? null : defaultBias(outChannels, shape));
    this.stride = pair(c.stride ?? 1);
    this.padding = pair(c.padding ?? 0);
    this.outputPadding = pair(c.outputPadding ?? 0);
    this.dilation = pair(c.dilation ?? 1);
  }

  forward(x: Tensor): Tensor {
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}
