// CIFAR ResNets (He et al. 2016, section 4.2): 6n+2 layers, 16/32/64 channels, option-A
// shortcuts (subsample by 2 and zero-pad the channels, no parameters). Names follow
// akamaster/pytorch_resnet_cifar10, whose weights load unchanged.
import type { Tensor } from '../tensor/index.ts';
import { BatchNorm2d, Conv2d, Linear, Module, Sequential, kaimingNormalFanIn } from '../nn/index.ts';
import { relu } from '../ops/activation.ts';
import { adaptiveAvgPool2d } from '../ops/pool.ts';
import { add } from '../ops/arithmetic.ts';
import { flatten, pad, slice } from '../ops/shape.ts';
import { noGrad } from '../tensor/index.ts';
import { copyInPlace } from '../ops/inplace.ts';

/** Option A: take every other pixel and pad channels with zeros on both sides. */
function shortcutA(x: Tensor, planes: number): Tensor {
  const rows = slice(x, 2, 0, x.shape[2], 2);
  const sub = slice(rows, 3, 0, x.shape[3], 2);
  rows.dispose();
  const padded = pad(sub, [0, 0, 0, 0, planes / 4, planes / 4]);
  sub.dispose();
  return padded;
}

export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: boolean;

  constructor(
    inPlanes: number,
    readonly planes: number,
    stride: number,
  ) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride: 1, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = stride !== 1 || inPlanes !== planes;
  }

  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const b = this.bn1.forward(a);
    a.dispose();
    const c = relu(b);
    b.dispose();
    const d = this.conv2.forward(c);
    c.dispose();
    const e = this.bn2.forward(d);
    d.dispose();
    const s = this.downsample ? shortcutA(x, this.planes) : x;
    const f = add(e, s);
    e.dispose();
    if (s !== x) s.dispose();
    const out = relu(f);
    f.dispose();
    return out;
  }
}

export const RESNET_CIFAR_DEPTHS = [20, 32, 44, 56, 110] as const;
export type ResNetCifarDepth = (typeof RESNET_CIFAR_DEPTHS)[number];

export class ResNetCifar extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly linear: Linear;

  constructor(
    readonly depth: number,
    readonly numClasses = 10,
  ) {
    super();
    if ((depth - 2) % 6 !== 0 || depth < 8) throw new RangeError(`ResNetCifar: depth must be 6n+2 (20, 32, 44, 56, 110), got ${depth}`);
    const n = (depth - 2) / 6;
    this.conv1 = this.registerModule('conv1', new Conv2d(3, 16, 3, { padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16));
    const stage = (inPlanes: number, planes: number, stride: number) =>
      new Sequential(...Array.from({ length: n }, (_, i) => new BasicBlock(i === 0 ? inPlanes : planes, planes, i === 0 ? stride : 1)));
    this.layer1 = this.registerModule('layer1', stage(16, 16, 1));
    this.layer2 = this.registerModule('layer2', stage(16, 32, 2));
    this.layer3 = this.registerModule('layer3', stage(32, 64, 2));
    this.linear = this.registerModule('linear', new Linear(64, numClasses));
    // The reference code re-initialises conv and linear weights with kaiming_normal_ (fan_in).
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        if (m instanceof Conv2d || m instanceof Linear) {
          const w = kaimingNormalFanIn(m.weight.shape);
          copyInPlace(m.weight, w);
          w.dispose();
        }
      }
    });
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3) throw new RangeError(`ResNetCifar: expected input [N, 3, H, W], got [${x.shape.join(', ')}]`);
    const a = this.conv1.forward(x);
    const b = this.bn1.forward(a);
    a.dispose();
    let h = relu(b);
    b.dispose();
    for (const layer of [this.layer1, this.layer2, this.layer3]) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const pooled = adaptiveAvgPool2d(h, 1);
    h.dispose();
    const flat = flatten(pooled, 1);
    pooled.dispose();
    const out = this.linear.forward(flat);
    flat.dispose();
    return out;
  }
}

export function resnetCifar(depth: ResNetCifarDepth, numClasses = 10): ResNetCifar {
  return new ResNetCifar(depth, numClasses);
}
