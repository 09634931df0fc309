// Architectures by name, for the command line and for files that record what they hold
// (the `architecture` metadata entry): convmixer-<dim>x<depth>-p<patch>[-k<kernel>] (ConvMixer,
// src/models/convmixer.ts), resnetN for any CIFAR depth 6n+2 (20, 32, 44, 56, 110,
// 1202), vgg11..vgg19 with -bn and width suffixes (vgg16-bn, vgg11-bn-w0.25), dncnn-17 (depth),
// dncnn-17-c3 (colour), smallcnn (1 channel: Fashion-MNIST, the demo's) and smallcnn-c3. The names public checkpoints use (resnet56-cifar, cifar10_resnet56,
// vgg16_bn, DnCNN-S, ...) resolve to these through naming.ts.
import type { Module } from '../nn/index.ts';
import { ResNetCifar } from './resnet-cifar.ts';
import { VGG, type VggDepth } from './vgg.ts';
import { DnCNN } from './dncnn.ts';
import { SmallCnn } from './small-cnn.ts';
import { CONVMIXER_NAME, ConvMixer } from './convmixer.ts';
import type { TaskKind } from '../data/batch-source.ts';
import { resolveArchitectureName } from './naming.ts';

export interface ModelSpec {
  name: string;
  task: TaskKind;
  inputChannels: number;
  /** A classifier's head has `numClasses` outputs (default: what the name implies, else 10). */
  create(numClasses?: number): Module;
}

/** The architecture `name` names, in nnlock's naming or a public checkpoint's (see naming.ts). */
export function modelSpec(name: string): ModelSpec {
  const resolved = resolveArchitectureName(name);
  if (!resolved) throw unknown(name);
  const n = resolved.name;
  const classes = resolved.numClasses ?? 10;
  let m = /^resnet(\d+)$/.exec(n);
  if (m) {
    const depth = Number(m[1]);
    if ((depth - 2) % 6 !== 0 || depth < 8) throw unknown(name);
    return { name: n, task: 'classification', inputChannels: 3, create: (k = classes) => new ResNetCifar(depth, k) };
  }
  m = /^vgg(11|13|16|19)(-bn)?(?:-w([0-9.]+))?$/.exec(n);
  if (m) {
    const depth = Number(m[1]) as VggDepth;
    const width = m[3] ? Number(m[3]) : 1;
    if (!(width > 0)) throw unknown(name);
    return { name: n, task: 'classification', inputChannels: 3, create: (k = classes) => new VGG({ depth, batchNorm: !!m![2], width, numClasses: k }) };
  }
  m = CONVMIXER_NAME.exec(n);
  if (m) {
    const [dim, depth, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const kernel = m[4] ? Number(m[4]) : 5;
    return { name: n, task: 'classification', inputChannels: 3, create: (k = classes) => new ConvMixer({ dim, depth, patch, kernel, numClasses: k }) };
  }
  m = /^dncnn-(\d+)(?:-c(1|3))?$/.exec(n);
  if (m) {
    const depth = Number(m[1]);
    const channels = m[2] ? Number(m[2]) : 1;
    return { name: n, task: 'denoising', inputChannels: channels, create: () => new DnCNN({ depth, channels }) };
  }
  m = /^smallcnn(?:-c(1|3))?$/.exec(n);
  if (m) {
    const channels = m[1] ? Number(m[1]) : 1;
    return { name: n, task: 'classification', inputChannels: channels, create: (k = classes) => new SmallCnn({ channels, numClasses: k }) };
  }
  throw unknown(name);
}

function unknown(name: string): Error {
  return new Error(
    `unknown architecture '${name}': expected resnetN (N = 6n+2: 20, 32, 44, 56, 110, ...), vgg11|13|16|19[-bn][-wX], convmixer-DIMxDEPTH-pPATCH[-kKERNEL], dncnn-N[-c3] or smallcnn[-c3], or a public checkpoint's name for one (resnet56-cifar, cifar10_resnet56, vgg16_bn, DnCNN-S, ...)`,
  );
}
