// Training a classifier, the whole recipe: open the data, build the architecture (fresh or from
// initial weights), SGD with momentum and weight decay under a learning-rate schedule, random crop
// and flip, evaluation on held-out data after every epoch, checkpoints that resume, a JSON log,
// and a weights file that says what it holds (architecture, class names, input normalisation).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { manualSeed, parseDevice } from '../tensor/index.ts';
import { crossEntropy } from '../ops/loss.ts';
import { type Module, SGD, type Schedule, cosine, multiStep } from '../nn/index.ts';
import { type ModelSpec, classNamesMetadata, loadWeights, modelSpec, saveWeights } from '../models/index.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import { type Dataset, subset } from '../data/dataset.ts';
import { selectClasses } from '../data/class-subset.ts';
import { DataLoader } from '../data/loader.ts';
import { Rng } from '../data/rng.ts';
import { hasHeldOutSplit, openDataset } from '../data/open.ts';
import { CIFAR10_NORMALISATION, type Normalisation, normalisationMetadata } from '../data/normalisation.ts';
import { FASHION_MNIST_NORMALISATION } from '../data/fashion-mnist.ts';
import { type TrainOptions, train } from './loop.ts';
import { evaluateAccuracy } from './evaluate.ts';
import { DataParallel, perRankBatch } from './data-parallel.ts';
import type { ProcessGroup } from '../distributed/index.ts';

export type ScheduleKind = 'cosine' | 'step' | 'constant';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['cosine', 'step', 'constant'];

export interface TrainClassifierConfig extends Pick<TrainOptions, 'onStep' | 'onEpoch' | 'onResume' | 'stopAfter'> {
  /** Registry name: resnet20|32|44|56|110, vgg11|13|16|19[-bn][-wX]. */
  architecture: string;
  /** Where the model trains: 'cpu' (default), 'cuda', 'cuda:i' (checked before any work). */
  device?: string;
  /** Training data: a dataset, or a path spec for openDataset (a CIFAR-10 folder gives its train split). */
  data: string | Dataset;
  /**
   * Held-out data evaluated after every epoch (testAccuracy in the history). Default: the test
   * split of a CIFAR-10 folder, the val/ (or test/) folder beside train/ in an image folder, else
   * `valSplit`'s share of the training data, else none; null for none. Never the training data.
   */
  test?: string | Dataset | null;
  /**
   * Hold out this fraction of the training data, per class, chosen with the seed (for data that
   * has no held-out split of its own; refused beside one).
   */
  valSplit?: number;
  /** Train on the first `limit` images only; evaluate on the first `testLimit` held-out ones only. */
  limit?: number;
  testLimit?: number;
  /**
   * Train and test on these classes only, relabelled: label classSubset[i] becomes i, and the model
   * has classSubset.length outputs (selectClasses; e.g. CIFAR-10's classes 0–4 for a backbone
   * pretrained on some classes and used on the others).
   */
  classSubset?: readonly number[];
  /** Defaults: 10 epochs, batch 128, lr 0.1, momentum 0.9, weight decay 5e-4, cosine, seed 0. */
  epochs?: number;
  batch?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** cosine annealing, step (×0.1 at 50 % and 75 % of the epochs) or constant. */
  schedule?: ScheduleKind;
  /** Seed of initialisation, order and augmentation. */
  seed?: number;
  /** Random 32×32 crop of the image padded by 4, and horizontal flip (default true). */
  augment?: boolean;
  /** Start from these weights (a file or one in memory) instead of a fresh initialisation. */
  init?: string | SafetensorsFile;
  /** Written after every epoch; training resumes from it when it exists. */
  checkpoint?: string;
  /** JSON log of the run (per-epoch loss, accuracy, speed), rewritten after every epoch. */
  log?: string;
  /** Write the trained weights here (atomically) when training ends. */
  out?: string;
  /** Replace `out` when it exists (default false: refused before training starts). */
  overwrite?: boolean;
  /** Input normalisation (default CIFAR-10's statistics; Fashion-MNIST's for one-channel data). */
  normalisation?: Normalisation;
  /** Loader worker threads (default 1; 0 builds batches in this thread). */
  workers?: number;
  /** Once the data is open and the model built, before the first epoch. */
  onStart?: (info: TrainingStart) => void;
  /**
   * Train data-parallel in this process group (data-parallel.ts): `batch` stays the global batch
   * (each rank takes batch / worldSize of it), and only rank 0 writes `out`, checkpoint and log.
   */
  group?: ProcessGroup;
}

export interface TrainingStart {
  architecture: string;
  parameters: number;
  trainImages: number;
  testImages: number;
  /** Where the held-out images come from. */
  heldOut: HeldOutSource;
  /** The checkpoint exists: training continues from it. */
  resuming: boolean;
}

export interface TrainedClassifier {
  /** The trained model, in eval mode. The caller disposes it. */
  model: Module;
  /** Per-epoch records: epoch, lr, trainLoss, trainAccuracy, testAccuracy (with test data), speed. */
  history: Record<string, number>[];
  /** Epochs that a checkpoint had already done (0 for a fresh run). */
  resumedFrom: number;
  /** What the weights file records (architecture, class_names, input_mean, input_std, ...). */
  metadata: Record<string, string>;
  /** The held-out accuracy after the last epoch, when there was test data. */
  testAccuracy?: number;
}

/** 'split': the data's own (CIFAR-10 test split, val/ folder); 'val-split': held out from the training data. */
export type HeldOutSource = 'split' | 'val-split' | 'given' | 'none';

function scheduleOf(kind: ScheduleKind, lr: number, epochs: number): Schedule | undefined {
  if (!SCHEDULE_KINDS.includes(kind)) throw new Error(`schedule must be one of ${SCHEDULE_KINDS.join(', ')}, got '${kind}'`);
  if (kind === 'cosine') return cosine(lr, epochs);
  if (kind === 'step') return multiStep(lr, [Math.floor(epochs * 0.5), Math.floor(epochs * 0.75)]);
  return undefined;
}

function classifierSpec(architecture: string): ModelSpec {
  const spec = modelSpec(architecture);
  if (spec.task !== 'classification') throw new Error(`${spec.name} is a ${spec.task} model; trainClassifier trains classifiers`);
  return spec;
}

interface Split {
  train: Dataset;
  heldOut?: Dataset;
  source: HeldOutSource;
}

/** The training data and the held-out data, as TrainClassifierConfig says (see `test`, `valSplit`). */
async function trainAndHeldOut(c: TrainClassifierConfig, seed: number): Promise<Split> {
  const ownSplit = typeof c.data === 'string' && hasHeldOutSplit(c.data);
  if (c.valSplit !== undefined) {
    if (!(c.valSplit > 0 && c.valSplit < 1)) throw new Error(`valSplit must be a fraction in (0, 1), got ${c.valSplit}`);
    if (c.test) throw new Error('pass held-out data or a validation split, not both');
    if (ownSplit) throw new Error(`${c.data} has its own held-out split (test split or val/ folder): a validation split would hide it`);
  }
  if (typeof c.data === 'string' && typeof c.test === 'string' && resolve(c.data) === resolve(c.test) && !ownSplit) {
    throw new Error(`the held-out data ${c.test} is the training data: testing on it says nothing (pass --val-split, or train/ and val/ subfolders)`);
  }
  const only = c.classSubset;
  const train = typeof c.data === 'string' ? await openDataset(c.data, { split: 'train', limit: c.limit, classSubset: only }) : only ? selectClasses(c.data, only) : c.data;
  const test = c.test === undefined && ownSplit ? c.data : c.test;
  if (test !== null && test !== undefined) {
    // With a class subset, train.classes names the subset: the held-out data is subset the same way.
    const heldOut =
      typeof test === 'string'
        ? await openDataset(test, { split: 'val', limit: c.testLimit, ...(only ? { classSubset: only } : { classes: train.classes }) })
        : only
          ? selectClasses(test, only)
          : test;
    return { train, heldOut, source: test === c.data ? 'split' : 'given' };
  }
  if (c.valSplit === undefined) return { train, source: 'none' };
  const { trainIndices, heldOutIndices } = stratifiedSplit(labelsOf(train), c.valSplit, seed);
  const heldOut = subset(train, c.testLimit === undefined ? heldOutIndices : heldOutIndices.slice(0, c.testLimit));
  return { train: subset(train, trainIndices), heldOut, source: 'val-split' };
}

function labelsOf(ds: Dataset): Int32Array {
  return Int32Array.from({ length: ds.length }, (_, i) => ds.get(i).label);
}

/**
 * Indices of a seeded split that holds out `fraction` of each class (at least one image of a class
 * with two or more), so a small class is still tested and still trained on.
 */
export function stratifiedSplit(labels: ArrayLike<number>, fraction: number, seed: number): { trainIndices: number[]; heldOutIndices: number[] } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const rng = new Rng(seed, 0x5eed);
  const trainIndices: number[] = [];
  const heldOutIndices: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const items = byClass.get(label)!;
    const order = rng.permutation(items.length);
    const held = items.length < 2 ? 0 : Math.min(items.length - 1, Math.max(1, Math.round(items.length * fraction)));
    order.forEach((o, r) => (r < held ? heldOutIndices : trainIndices).push(items[o]));
  }
  const byIndex = (a: number, b: number) => a - b;
  return { trainIndices: trainIndices.sort(byIndex), heldOutIndices: heldOutIndices.sort(byIndex) };
}

/**
 * Trains a classifier as `config` says and returns it with its history; with `out`, also writes
 * it there. Deterministic from the seed, also across an interruption resumed from `checkpoint`.
 */
export async function trainClassifier(config: TrainClassifierConfig): Promise<TrainedClassifier> {
  const spec = classifierSpec(config.architecture);
  const device = parseDevice(config.device ?? 'cpu');
  const { epochs = 10, batch = 128, lr = 0.1, seed = 0, schedule = 'cosine' } = config;
  const lrSchedule = scheduleOf(schedule, lr, epochs);
  if (config.out && !config.overwrite && existsSync(config.out)) throw new Error(`${config.out} exists: pass overwrite (--force) to replace it`);
  const { train: trainData, heldOut, source: heldOutSource } = await trainAndHeldOut(config, seed);
  // Grayscale data (Fashion-MNIST, the one grayscale dataset nnlock opens) gets its one-channel statistics.
  const norm = config.normalisation ?? (trainData.shape[0] === 1 ? FASHION_MNIST_NORMALISATION : CIFAR10_NORMALISATION);
  const classes = trainData.classes;
  const group = config.group;
  const loader = new DataLoader(trainData, {
    batchSize: perRankBatch(batch, group),
    shard: group && { rank: group.rank, count: group.worldSize },
    seed,
    mean: norm.mean,
    std: norm.std,
    workers: config.workers,
    augment: config.augment === false ? undefined : { crop: { padding: 4 }, hflip: true },
  });
  const testLoader = heldOut && new DataLoader(heldOut, { batchSize: 500, shuffle: false, mean: norm.mean, std: norm.std, workers: config.workers });
  manualSeed(seed);
  const model = spec.create(classes?.length);
  const optimizer = new SGD(model.parameters(), { lr, momentum: config.momentum ?? 0.9, weightDecay: config.weightDecay ?? 5e-4 });
  let parallel: DataParallel | undefined;
  try {
    if (config.init) await loadWeights(model, config.init, { source: typeof config.init === 'string' ? config.init : 'the initial weights' });
    model.to(device); // before the first step: the optimizer's state is made where the parameters are
    parallel = group && new DataParallel(model, group);
    config.onStart?.({
      architecture: spec.name,
      parameters: model.parameterCount(),
      trainImages: trainData.length,
      testImages: heldOut?.length ?? 0,
      heldOut: heldOutSource,
      resuming: !!config.checkpoint && existsSync(config.checkpoint),
    });
    const { history, resumedFrom } = await train({
      model,
      optimizer,
      epochs,
      schedule: lrSchedule,
      seed,
      task: 'classification',
      data: loader,
      loss: (out, y) => crossEntropy(out, y),
      evaluate: testLoader && (async (m) => ({ testAccuracy: (await evaluateAccuracy(m, testLoader)).accuracy })),
      checkpoint: config.checkpoint,
      logFile: config.log,
      onStep: config.onStep,
      onEpoch: config.onEpoch,
      onResume: config.onResume,
      stopAfter: config.stopAfter,
      parallel,
      info: { architecture: spec.name, data: typeof config.data === 'string' ? config.data : 'in memory', seed: String(seed) },
    });
    const testAccuracy = history.at(-1)?.testAccuracy;
    const metadata: Record<string, string> = {
      architecture: spec.name,
      ...normalisationMetadata(norm),
      ...(classes ? classNamesMetadata(classes) : {}),
      trained_by: 'nnlock',
      epochs: String(epochs),
      ...(testAccuracy === undefined ? {} : { test_accuracy: String(testAccuracy) }),
    };
    if (config.out && (!parallel || parallel.isLeader)) await saveWeights(model, config.out, metadata);
    parallel?.barrier(); // the weights file is complete when any rank returns
    return { model, history, resumedFrom, metadata, testAccuracy };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    parallel?.dispose();
    optimizer.dispose();
  }
}
