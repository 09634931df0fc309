// Evaluating a classifier from its weights file: build the architecture the file names, feed it
// the data normalised as the file says, and report top-1 accuracy.
import { parseDevice } from '../tensor/index.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import { classNamesOf, openModel } from '../models/load.ts';
import type { Dataset } from '../data/dataset.ts';
import { DataLoader } from '../data/loader.ts';
import { type Split, openDataset } from '../data/open.ts';
import { type Normalisation, normalisationFrom } from '../data/normalisation.ts';
import { evaluateAccuracy } from './evaluate.ts';

export interface EvaluateClassifierOptions {
  /** Architecture when the file does not name it. */
  arch?: string;
  /** A TorchScript file of the user's own classifier (torch.jit.script(model).save), instead of an architecture. */
  module?: string;
  /** Split of a CIFAR-10 folder or of an image folder with split subfolders (default 'test': test/, else val/). */
  split?: Split;
  /** Evaluate the first `limit` images only. */
  limit?: number;
  /** Batch size (default 500). */
  batch?: number;
  /** Overrides the normalisation the file records (default: the file's, else CIFAR-10's). */
  normalisation?: Partial<Normalisation>;
  /** What to call the weights in errors (default: the path). */
  source?: string;
  /** Loader worker threads (default 1). */
  workers?: number;
  /** Where the model runs: 'cpu' (default), 'cuda', 'cuda:i'. */
  device?: string;
  /** After every batch: batches done, of total, and the accuracy so far. */
  onBatch?: (done: number, total: number, accuracy: number) => void;
}

export interface ClassifierEvaluation {
  /** Top-1 accuracy, a fraction. */
  accuracy: number;
  images: number;
  architecture: string;
  seconds: number;
}

/**
 * Top-1 accuracy of the classifier in `weights` (a path, or a file in memory such as an unlocked
 * protected model) on `data` (a dataset, or a path spec for openDataset).
 */
export async function evaluateClassifier(weights: string | SafetensorsFile, data: string | Dataset, options: EvaluateClassifierOptions = {}): Promise<ClassifierEvaluation> {
  const device = parseDevice(options.device ?? 'cpu');
  const { model, spec, metadata } = await openModel(weights, { arch: options.arch, module: options.module, task: 'classification', source: options.source });
  try {
    if (spec.task !== 'classification') throw new Error(`${spec.name} is a ${spec.task} model, not a classifier`);
    // An image folder's labels are the model's: its class folders are looked up by name.
    const modelClasses = classNamesOf(metadata);
    const ds = typeof data === 'string' ? await openDataset(data, { split: options.split ?? 'test', limit: options.limit, classes: modelClasses }) : data;
    assertSameClasses(modelClasses, ds.classes, typeof data === 'string' ? data : 'the data', options.source ?? (typeof weights === 'string' ? weights : 'the model'));
    const norm = normalisationFrom(metadata, options.normalisation);
    const loader = new DataLoader(ds, { batchSize: options.batch ?? 500, shuffle: false, mean: norm.mean, std: norm.std, workers: options.workers });
    const t0 = performance.now();
    model.to(device);
    const { accuracy, count } = await evaluateAccuracy(model, loader, { onBatch: options.onBatch });
    return { accuracy, images: count, architecture: spec.name, seconds: (performance.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}

/** Refuses data whose class names are not the model's (the labels would mean other classes). */
function assertSameClasses(model: readonly string[] | undefined, data: readonly string[] | undefined, dataSource: string, modelSource: string): void {
  if (!model || !data) return;
  if (model.length === data.length && model.every((name, i) => name === data[i])) return;
  throw new Error(`the classes of ${dataSource} (${data.join(', ')}) are not those of ${modelSource} (${model.join(', ')}): its accuracy would mean nothing`);
}
