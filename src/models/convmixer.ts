// ConvMixer (Trockman & Kolter 2022, "Patches are all you need?"), a small isotropic network whose
// first layer is a p×p, stride-p patch embedding: Conv2d(3 → dim, p, stride p) → ReLU → BN, then
// `depth` blocks of [depthwise conv (kernel×kernel, same padding) → ReLU → BN, added to its input]
// → [pointwise 1×1 conv → ReLU → BN], global average pooling and a linear head. (The paper uses
// GELU; nnlock's ops have ReLU, which trains as well at this size.)
//
// Why it is here: a block cipher whose block size equals the patch size is a linear map of each
// patch, so it folds exactly into the patch embedding (src/er/fold.ts) — a key owner converts a
// plaintext model into a ciphertext model without training.
//
// Names follow the reference code's nn.Sequential as nnlock names it: `embed.{0,2}` (conv, BN),
// `blocks.{i}.mix.{0,2}` (depthwise conv, BN), `blocks.{i}.point.{0,2}` (pointwise conv, BN),
// `head`.
import type { Tensor } from '../tensor/index.ts';
import { BatchNorm2d, Conv2d, Linear, Module, ReLU, Sequential } from '../nn/index.ts';
import { adaptiveAvgPool2d } from '../ops/pool.ts';
import { add } from '../ops/arithmetic.ts';
import { flatten } from '../ops/shape.ts';

export interface ConvMixerConfig {
  /** Channels of every layer after the embedding. */
  dim: number;
  /** Mixer blocks. */
  depth: number;
  /** Patch size p of the embedding (the cipher block size it can absorb). */
  patch: number;
  /** Depthwise kernel (odd; default 5). */
  kernel?: number;
  numClasses?: number;
  inputChannels?: number;
}

class MixerBlock extends Module {
  readonly mix: Sequential;
  readonly point: Sequential;

  constructor(dim: number, kernel: number) {
    super();
    this.mix = this.registerModule('mix', new Sequential(new Conv2d(dim, dim, kernel, { groups: dim, padding: (kernel - 1) / 2 }), new ReLU(), new BatchNorm2d(dim)));
    this.point = this.registerModule('point', new Sequential(new Conv2d(dim, dim, 1), new ReLU(), new BatchNorm2d(dim)));
  }

  forward(x: Tensor): Tensor {
    const m = this.mix.forward(x);
    const r = add(m, x);
    m.dispose();
    const out = this.point.forward(r);
    r.dispose();
    return out;
  }
}

export class ConvMixer extends Module {
  readonly embed: Sequential;
  readonly blocks: Sequential;
  readonly head: Linear;
  readonly patch: number;
  readonly inputChannels: number;

  constructor(readonly config: ConvMixerConfig) {
    super();
    const { dim, depth, patch, kernel = 5, numClasses = 10, inputChannels = 3 } = config;
    for (const [name, v] of Object.entries({ dim, depth, patch, kernel, numClasses, inputChannels })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ConvMixer: ${name} must be a positive integer, got ${v}`);
    }
    if (kernel % 2 === 0) throw new RangeError(`ConvMixer: kernel must be odd (same padding), got ${kernel}`);
    this.patch = patch;
    this.inputChannels = inputChannels;
    this.embed = this.registerModule('embed', new Sequential(new Conv2d(inputChannels, dim, patch, { stride: patch }), new ReLU(), new BatchNorm2d(dim)));
    this.blocks = this.registerModule('blocks', new Sequential(...Array.from({ length: depth }, () => new MixerBlock(dim, kernel))));
    this.head = this.registerModule('head', new Linear(dim, numClasses));
  }

  /** The patch embedding convolution [dim, C, p, p] (with bias): what a cipher folds into. */
  get patchEmbedding(): Conv2d {
    return this.embed.layers[0] as Conv2d;
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inputChannels) throw new RangeError(`ConvMixer: expected input [N, ${this.inputChannels}, H, W], got [${x.shape.join(', ')}]`);
    if (x.shape[2] % this.patch || x.shape[3] % this.patch) throw new RangeError(`ConvMixer: image size ${x.shape[2]}×${x.shape[3]} is not a multiple of the patch size ${this.patch}`);
    const e = this.embed.forward(x);
    const h = this.blocks.forward(e);
    e.dispose();
    const pooled = adaptiveAvgPool2d(h, 1);
    h.dispose();
    const flat = flatten(pooled, 1);
    pooled.dispose();
    const out = this.head.forward(flat);
    flat.dispose();
    return out;
  }
}

/** Registry name `convmixer-<dim>x<depth>-p<patch>[-k<kernel>]`, e.g. convmixer-128x4-p4. */
export const CONVMIXER_NAME = /^convmixer-(\d+)x(\d+)-p(\d+)(?:-k(\d+))?$/;
