// A protected model at every tier, measured: protect a classifier (protectModel), then evaluate
// it with no key (the published file) and with each tier's key, check that the master key
// restores every tensor bit for bit and that a tier-1 key is refused a higher tier, and draw the
// accuracies as a bar chart, and optionally what each tier predicts for a few test images (a
// picture grid: one row per image, one column per tier). What `nnlock demo` shows, and a quick check of any protection
// setting on a user's own model and test images.
import type { Dataset } from '../data/dataset.ts';
import { DataLoader } from '../data/loader.ts';
import { normalisationFrom } from '../data/normalisation.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import { barChartSvg } from '../io/svg-chart.ts';
import { modelFromFile } from '../models/load.ts';
import { modelSpec } from '../models/registry.ts';
import { evaluateAccuracy } from '../train/evaluate.ts';
import { type ModelSource, type ProtectModelOptions, protectModel, unlockModel } from './api.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { type GridTile, imageGridPng } from '../io/image.ts';
import { type Tensor, noGrad, parseDevice, scope } from '../tensor/index.ts';
import { toDevice } from '../ops/convert.ts';
import { argmax } from '../ops/reduction.ts';
import { contiguous, narrow } from '../ops/shape.ts';
import type { Module } from '../nn/index.ts';

export interface TierEvaluationOptions extends Pick<ProtectModelOptions, 'importance' | 'ratio' | 'tiers' | 'fractions' | 'architecture' | 'masterToken' | 'modelId' | 'onLayer'> {
  /** Held-out images (pixels as stored: normalised with the weights file's input_mean/input_std). */
  test: Dataset;
  /** Where each tier's model is evaluated: 'cpu' (default), 'cuda', 'cuda:i'. */
  device?: string;
  /** Write a bar chart of the accuracies here (SVG). */
  chart?: string;
  /** The chart's title (default names the model and the ratio). */
  title?: string;
  /**
   * Also write a PNG grid of the first `count` test images (default 6): the image, then one tile
   * per tier labelled with the class it predicts (✓ when right, ✗ when wrong).
   */
  samples?: { path: string; count?: number };
  /** After each tier's evaluation (tier 0 is the published file, without a key). */
  onTier?: (tier: number, accuracy: number) => void;
}

export interface TierEvaluation {
  architecture: string;
  /** Kernels replaced by decoys, of all the kernels of the protected layers. */
  selected: number;
  kernels: number;
  images: number;
  /** accuracy[m]: with the tier-m key (accuracy[0]: the published file, no key). */
  accuracy: number[];
  /** Whether every tier is strictly more accurate than the one below. */
  ordered: boolean;
  /** Tensors of the model, and whether the master key restored all of them bit for bit. */
  tensors: number;
  identical: boolean;
  /** The message that refused a tier-1 key the top tier (null: it was not refused). */
  refused: string | null;
  chart?: string;
  /** With `samples`: per image, its label and the class predicted at each tier; and the grid written. */
  samples?: { labels: number[]; predictions: number[][]; path: string };
}

/** Predicted classes of `images` [N, C, H, W] (normalised as the model expects). */
function predict(model: Module, images: Tensor): number[] {
  return noGrad(() => scope(() => argmax(model.forward(toDevice(images, model.device)), 1).toArray()));
}

/** The first `count` test items as a normalised batch (the loader's own normalisation), with their labels. */
async function firstBatch(loader: DataLoader, count: number): Promise<{ x: Tensor; labels: number[] }> {
  for await (const b of loader.epoch(0)) {
    const n = Math.min(count, b.x.shape[0]);
    const x = scope(() => contiguous(narrow(b.x, 0, 0, n)));
    const labels = b.y.toArray().slice(0, n);
    b.x.dispose();
    b.y.dispose();
    return { x, labels };
  }
  throw new Error('no test images');
}

/** The samples grid: per row, the image labelled with its class, then each tier's prediction. */
async function writeSamples(path: string, test: Dataset, labels: number[], predictions: number[][]): Promise<void> {
  const [channels, height, width] = test.shape;
  if (channels !== 1 && channels !== 3) throw new RangeError(`a samples picture needs images of 1 or 3 channels, not ${channels}`);
  const name = (c: number) => test.classes?.[c] ?? `class ${c}`;
  const tiles: GridTile[] = [];
  labels.forEach((label, i) => {
    const { image } = test.get(i);
    const data = image instanceof Uint8Array ? image : Float32Array.from(image);
    tiles.push({ data, channels, height, width, label: name(label) });
    for (const [tier, p] of predictions.entries()) tiles.push({ data, channels, height, width, label: `${tier === 0 ? 'no key' : `tier ${tier}`}: ${name(p[i])} ${p[i] === label ? '✓' : '✗'}` });
  });
  const side = Math.max(120, height); // wide enough for "tier 3: Ankle boot ✓"
  await imageGridPng(path, tiles, { columns: predictions.length + 1, tileHeight: side, tileWidth: Math.round((side * width) / height) });
}

async function fileOf(source: ModelSource): Promise<SafetensorsFile> {
  return typeof source === 'string' ? readSafetensors(source) : source;
}

const sameBytes = (a: SafetensorsFile, b: SafetensorsFile) =>
  a.tensors.size === b.tensors.size && [...a.tensors].every(([name, e]) => b.tensors.has(name) && Buffer.compare(Buffer.from(e.data), Buffer.from(b.tensors.get(name)!.data)) === 0);

/** Protects `weights` as `o` says and measures every tier (see the top of this file). */
export async function evaluateTiers(weights: ModelSource, o: TierEvaluationOptions): Promise<TierEvaluation> {
  const device = parseDevice(o.device ?? 'cpu');
  const original = await fileOf(weights);
  const architecture = o.architecture ?? original.metadata.architecture;
  if (!architecture) throw new Error('the weights do not say their architecture: give it (e.g. resnet20, smallcnn)');
  const spec = modelSpec(architecture);
  const result = await protectModel(original, {
    importance: o.importance ?? 'l1',
    ratio: o.ratio,
    tiers: o.tiers ?? 3,
    fractions: o.fractions,
    architecture,
    masterToken: o.masterToken,
    modelId: o.modelId,
    onLayer: o.onLayer,
  });
  const loader = new DataLoader(o.test, { batchSize: 500, shuffle: false, workers: 0, ...normalisationFrom(original.metadata) });
  const accuracy: number[] = [];
  const sample = o.samples ? await firstBatch(loader, o.samples.count ?? 6) : null;
  const predictions: number[][] = [];
  try {
    for (let tier = 0; tier <= result.tokens.length; tier++) {
      const file = tier === 0 ? result.file : (await unlockModel(result.file, result.tokens[tier - 1])).file;
      const model = modelFromFile(spec, file, tier === 0 ? 'the protected model' : `the tier-${tier} model`);
      try {
        model.to(device);
        accuracy.push((await evaluateAccuracy(model, loader)).accuracy);
        if (sample) predictions.push(predict(model, sample.x));
      } finally {
        model.dispose();
      }
      o.onTier?.(tier, accuracy[tier]);
    }
  } finally {
    sample?.x.dispose();
  }
  if (o.samples && sample) await writeSamples(o.samples.path, o.test, sample.labels, predictions);
  const full = (await unlockModel(result.file, result.tokens.at(-1)!)).file;
  let refused: string | null = null;
  try {
    await unlockModel(result.file, result.tokens[0], { tier: result.tokens.length });
  } catch (e) {
    refused = (e as Error).message;
  }
  const selected = result.layers.reduce((n, l) => n + l.selected, 0);
  const kernels = result.layers.reduce((n, l) => n + l.kernels, 0);
  if (o.chart) {
    const ratio = `${Math.round(100 * (o.ratio ?? 0.08))}%`;
    await writeFileAtomic(
      o.chart,
      barChartSvg({
        title: o.title ?? `${spec.name} protected at ${ratio}: accuracy by key tier`,
        yLabel: 'test accuracy',
        categories: accuracy.map((_, t) => (t === 0 ? 'no key' : `tier ${t}`)),
        series: [{ name: `${o.test.length} test images`, values: accuracy }],
        yMin: 0,
        yMax: 1,
      }),
    );
  }
  return {
    architecture: spec.name,
    selected,
    kernels,
    images: o.test.length,
    accuracy,
    ordered: accuracy.every((a, t) => t === 0 || a > accuracy[t - 1]),
    tensors: original.tensors.size,
    identical: sameBytes(original, full),
    refused,
    ...(o.chart ? { chart: o.chart } : {}),
    ...(o.samples && sample ? { samples: { labels: sample.labels, predictions, path: o.samples.path } } : {}),
  };
}
