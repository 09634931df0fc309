// The importance maps of issue 13's PSS study on the shared ResNet-20, each computed once and cached
// as an importance file under experiments/out/protect/importance/ (with its settings, its wall time
// and, for PSS, log α after every epoch in a JSON beside it):
//
//   pss-default    nnlock's light PSS (sampled gates, Adam 0.05, 2 epochs of 1,024 images), every conv layer
//   pss-paper      the authors' setting (deterministic gates, log α from 1.0, SGD 0.1 Nesterov 0.9,
//                  batch 150 over the first 30,000 training images with crop and flip) on the paper's
//                  layers, for --paper-epochs epochs (the authors run 130; see the results page)
//   pss-fixed      the fix of the light default (see FIXED_PSS), every conv layer
//   taylor, l1, magnitude, random: the baselines (Taylor over 8 batches of 128)
//   gate-gradient  the cheap estimator (src/protect/importance/gate-gradient.ts)
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import {
  type ImportanceMap,
  PSS_PAPER_DATA,
  PSS_PAPER_SETTING,
  PSS_SAMPLED_SETTING,
  type PssSettings,
  type Strategy,
  computeImportance,
  convLayers,
  loadImportance,
  paperLayers,
  saveImportance,
  weightsDigest,
} from '../../src/protect/index.ts';
import { loadCifar10 } from '../../src/data/cifar10.ts';
import { subset } from '../../src/data/dataset.ts';
import { type ClassBatch, DataLoader } from '../../src/data/loader.ts';
import type { BatchSource } from '../../src/data/batch-source.ts';
import { CIFAR, RESNET20_NORM, type RunContext, log, range } from './common.ts';

/** The light budget with the paper's gates, start and optimiser (measured by experiments/protect/pss-diagnose.ts; not yet in every layer, see the results page). */
export const FIXED_PSS: PssSettings = { gates: 'deterministic', initLogAlpha: 1.0, optimizer: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, epochs: 2 };

export interface Variant {
  strategy: Strategy;
  /** 'all': every conv layer; 'paper': paperLayers. */
  layers: 'all' | 'paper';
  /** PSS settings beyond the defaults. */
  pss?: PssSettings;
  /** Training images and batch (data-driven strategies). */
  images?: number;
  batch?: number;
  /** Random crop and flip of the training images (the paper's data). */
  augment?: boolean;
}

export function variants(paperEpochs: number): Record<string, Variant> {
  return {
    // nnlock 0.3's light default (PSS_DEFAULTS is FIXED_PSS's since 0.4).
    'pss-default': { strategy: 'pss', layers: 'all', pss: PSS_SAMPLED_SETTING, images: 1024, batch: 128 },
    'pss-paper': { strategy: 'pss', layers: 'paper', pss: { ...PSS_PAPER_SETTING, epochs: paperEpochs }, images: PSS_PAPER_DATA.images, batch: PSS_PAPER_DATA.batch, augment: true },
    'pss-fixed': { strategy: 'pss', layers: 'all', pss: FIXED_PSS, images: 1024, batch: 128 },
    'pss-fixed-paper': { strategy: 'pss', layers: 'paper', pss: FIXED_PSS, images: 1024, batch: 128 },
    taylor: { strategy: 'taylor', layers: 'all', images: 1024, batch: 128 },
    l1: { strategy: 'l1', layers: 'all' },
    magnitude: { strategy: 'magnitude', layers: 'all' },
    random: { strategy: 'random', layers: 'all' },
    'gate-gradient': { strategy: 'gate-gradient', layers: 'all', images: 1024, batch: 128 },
    'gate-gradient-paper': { strategy: 'gate-gradient', layers: 'paper', images: 1024, batch: 128 },
  };
}

/** The first `images` CIFAR-10 training images (data_batch_1, 2, ... in order), shuffled per epoch. */
export async function trainImages(images: number, batch: number, augment: boolean, seed = 0): Promise<BatchSource> {
  const files = range(1, 1 + Math.ceil(images / 10_000)).map((i) => join(CIFAR, `data_batch_${i}.bin`));
  const ds = await loadCifar10(files);
  return new DataLoader<ClassBatch>(subset(ds, range(0, images)), {
    batchSize: batch,
    shuffle: true,
    seed,
    workers: 0,
    ...RESNET20_NORM,
    ...(augment ? { augment: { crop: { padding: 4 }, hflip: true } } : {}),
  });
}

export function layerNames(file: SafetensorsFile, which: 'all' | 'paper'): string[] {
  const layers = convLayers(file.tensors);
  return which === 'all' ? layers.map((l) => l.name) : paperLayers(layers);
}

export interface VariantResult {
  scores: ImportanceMap;
  seconds: number;
  /** PSS: log α after each epoch, per layer. */
  epochs?: Record<string, number[][]>;
}

/** The importance map of a variant (seed = the random strategy's seed), cached in ctx.out. */
export async function variantImportance(ctx: RunContext, name: string, v: Variant, file: SafetensorsFile, seed = 0): Promise<VariantResult> {
  const layers = layerNames(file, v.layers);
  if (v.strategy === 'random' || v.strategy === 'l1' || v.strategy === 'magnitude') {
    const t = performance.now();
    const imp = await computeImportance(v.strategy, file, undefined, { seed, layers });
    return { scores: imp.scores, seconds: (performance.now() - t) / 1000 };
  }
  // A variant run on other layers than its own (taylor on the paper's layers) is cached apart.
  const own = variants(1)[name]?.layers ?? v.layers;
  const path = join(ctx.out, 'importance', `resnet20-${name}${own === v.layers ? '' : `-${v.layers}`}.safetensors`);
  const side = `${path}.json`;
  const digest = Buffer.from(weightsDigest(file.tensors)).toString('hex');
  if (existsSync(path) && existsSync(side)) {
    const saved = await loadImportance(path);
    const meta = JSON.parse(readFileSync(side, 'utf8')) as { seconds: number; epochs?: Record<string, number[][]> };
    if (saved.source === digest) return { scores: saved.scores, seconds: meta.seconds, epochs: meta.epochs };
  }
  const data = await trainImages(v.images ?? 1024, v.batch ?? 128, v.augment ?? false);
  const steps = (v.pss?.epochs ?? 2) * data.batchCount * layers.length;
  log(`${name}: ${v.strategy} on ${layers.length} layers (${v.strategy === 'pss' ? `${steps} steps of ${v.batch}` : `${v.images} images`})`);
  const epochs: Record<string, number[][]> = {};
  const t0 = performance.now();
  let done = 0;
  const imp = await computeImportance(v.strategy, file, data, {
    architecture: 'resnet20',
    layers,
    pss: v.pss,
    onEpoch: (e) => (epochs[e.layer] ??= []).push(Array.from(e.logAlpha)),
    settings: { images: v.images, batch: v.batch, augment: v.augment ?? false },
    onStep: (s) => {
      done++;
      if (done % Math.max(1, Math.floor(steps / 40)) === 0) {
        const el = (performance.now() - t0) / 1000;
        log(`  ${name} ${done}/${steps} steps, layer ${s.layerIndex + 1}/${s.layerCount}, loss ${s.loss.toFixed(4)}, ~${Math.round((el / done) * (steps - done))} s left`);
      }
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  mkdirSync(dirname(path), { recursive: true });
  await saveImportance(path, imp.scores, { ...imp, settings: { ...imp.settings, seconds } });
  await writeFileAtomic(side, JSON.stringify({ seconds, epochs: v.strategy === 'pss' ? epochs : undefined }));
  log(`${name}: done in ${seconds.toFixed(0)} s`);
  return { scores: imp.scores, seconds, epochs: v.strategy === 'pss' ? epochs : undefined };
}
