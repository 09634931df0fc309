// Architectures by name, for the command line and for files that record what they hold
// (the `architecture` metadata entry): resnet20..resnet110, vgg11..vgg19 with -bn and width
// suffixes (vgg16-bn, vgg11-bn-w0.25), dncnn-17 (depth), dncnn-17-c3 (colour).
import type { Module } from '../nn/index.ts';
import { ResNetCifar, RESNET_CIFAR_DEPTHS } from './resnet-cifar.ts';
import { VGG, type VggDepth } from './vgg.ts';
import { DnCNN } from './dncnn.ts';
import type { TaskKind } from '../data/batch-source.ts';

export interface ModelSpec {
  name: string;
  task: TaskKind;
  inputChannels: number;
  create(numClasses?: number): Module;
}

/** Metadata names used by weight files from elsewhere, mapped to nnlock's names. */
const ALIASES: Record<string, string> = { 'resnet20-cifar': 'resnet20', 'dncnn-s': 'dncnn-17' };

export function modelSpec(name: string): ModelSpec {
  const n = ALIASES[name] ?? name;
  let m = /^resnet(\d+)$/.exec(n);
  if (m) {
    const depth = Number(m[1]);
    if (!(RESNET_CIFAR_DEPTHS as readonly number[]).includes(depth)) throw unknown(name);
    return { name: n, task: 'classification', inputChannels: 3, create: (k = 10) => new ResNetCifar(depth, k) };
  }
  m = /^vgg(11|13|16|19)(-bn)?(?:-w([0-9.]+))?$/.exec(n);
  if (m) {
    const depth = Number(m[1]) as VggDepth;
    const width = m[3] ? Number(m[3]) : 1;
    if (!(width > 0)) throw unknown(name);
    return { name: n, task: 'classification', inputChannels: 3, create: (k = 10) => new VGG({ depth, batchNorm: !!m![2], width, numClasses: k }) };
  }
  m = /^dncnn-(\d+)(?:-c(1|3))?$/.exec(n);
  if (m) {
    const depth = Number(m[1]);
    const channels = m[2] ? Number(m[2]) : 1;
    return { name: n, task: 'denoising', inputChannels: channels, create: () => new DnCNN({ depth, channels }) };
  }
  throw unknown(name);
}

function unknown(name: string): Error {
  return new Error(`unknown architecture '${name}': expected resnet20|32|44|56|110, vgg11|13|16|19[-bn][-wX] or dncnn-N[-c3]`);
}
