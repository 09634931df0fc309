// Training a classifier, the whole recipe: open the data, build the architecture (fresh or from
// initial weights), SGD with momentum and weight decay under a learning-rate schedule, random crop
// and flip, evaluation on held-out data after every epoch, checkpoints that resume, a JSON log,
// and a weights file that says what it holds (architecture, class names, input normalisation).
import { existsSync } from 'node:fs';
import { manualSeed } from '../tensor/index.ts';
import { crossEntropy } from '../ops/loss.ts';
import { type Module, SGD, type Schedule, cosine, multiStep } from '../nn/index.ts';
import { type ModelSpec, classNamesMetadata, loadWeights, modelSpec, saveWeights } from '../models/index.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import type { Dataset } from '../data/dataset.ts';
import { DataLoader } from '../data/loader.ts';
import { isCifar10Folder, openDataset } from '../data/open.ts';
import { CIFAR10_NORMALISATION, type Normalisation, normalisationMetadata } from '../data/normalisation.ts';
import { type TrainOptions, train } from './loop.ts';
import { evaluateAccuracy } from './evaluate.ts';

export type ScheduleKind = 'cosine' | 'step' | 'constant';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['cosine', 'step', 'constant'];

export interface TrainClassifierConfig extends Pick<TrainOptions, 'onStep' | 'onEpoch' | 'onResume' | 'stopAfter'> {
  /** Registry name: resnet20|32|44|56|110, vgg11|13|16|19[-bn][-wX]. */
  architecture: string;
  /** Training data: a dataset, or a path spec for openDataset (a CIFAR-10 folder gives its train split). */
  data: string | Dataset;
  /**
   * Held-out data evaluated after every epoch (testAccuracy in the history). Default: the test
   * split when `data` is a CIFAR-10 folder, else none; null for none.
   */
  test?: string | Dataset | null;
  /** Train on the first `limit` images only; evaluate on the first `testLimit` held-out ones only. */
  limit?: number;
  testLimit?: number;
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
  /** Input normalisation (default CIFAR-10's statistics). */
  normalisation?: Normalisation;
  /** Loader worker threads (default 1; 0 builds batches in this thread). */
  workers?: number;
  /** Once the data is open and the model built, before the first epoch. */
  onStart?: (info: TrainingStart) => void;
}

export interface TrainingStart {
  architecture: string;
  parameters: number;
  trainImages: number;
  testImages: number;
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

async function testSet(c: TrainClassifierConfig): Promise<Dataset | undefined> {
  const test = c.test === undefined && typeof c.data === 'string' && isCifar10Folder(c.data) ? c.data : c.test;
  if (test === null || test === undefined) return undefined;
  return typeof test === 'string' ? openDataset(test, { split: 'test', limit: c.testLimit }) : test;
}

/**
 * Trains a classifier as `config` says and returns it with its history; with `out`, also writes
 * it there. Deterministic from the seed, also across an interruption resumed from `checkpoint`.
 */
export async function trainClassifier(config: TrainClassifierConfig): Promise<TrainedClassifier> {
  const spec = classifierSpec(config.architecture);
  const { epochs = 10, batch = 128, lr = 0.1, seed = 0, schedule = 'cosine' } = config;
  const lrSchedule = scheduleOf(schedule, lr, epochs);
  if (config.out && !config.overwrite && existsSync(config.out)) throw new Error(`${config.out} exists: pass overwrite (--force) to replace it`);
  const trainData = typeof config.data === 'string' ? await openDataset(config.data, { split: 'train', limit: config.limit }) : config.data;
  const heldOut = await testSet(config);
  const norm = config.normalisation ?? CIFAR10_NORMALISATION;
  const classes = trainData.classes;
  const loader = new DataLoader(trainData, {
    batchSize: batch,
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
  try {
    if (config.init) await loadWeights(model, config.init, { source: typeof config.init === 'string' ? config.init : 'the initial weights' });
    config.onStart?.({
      architecture: spec.name,
      parameters: model.parameterCount(),
      trainImages: trainData.length,
      testImages: heldOut?.length ?? 0,
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
    if (config.out) await saveWeights(model, config.out, metadata);
    return { model, history, resumedFrom, metadata, testAccuracy };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    optimizer.dispose();
  }
}
