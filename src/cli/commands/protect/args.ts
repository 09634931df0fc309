// What the `nnlock protect` verbs share: the key token from the command line, the model file and
// its architecture, and the data behind the small interfaces the library takes (a BatchSource for
// PSS and Taylor, an evaluate function for calibration and reports). Data access stays here, so
// src/protect never depends on how data is found on disk.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Module } from '../../../nn/index.ts';
import type { ModelSpec } from '../../../models/index.ts';
import { loadWeightsSync } from '../../../models/weights.ts';
import type { SafetensorsFile } from '../../../io/safetensors.ts';
import { DataLoader } from '../../../data/loader.ts';
import { denoisePatches } from '../../../data/denoise-patches.ts';
import { forEachImage, listImages } from '../../../data/image-folder.ts';
import type { BatchSource } from '../../../data/batch-source.ts';
import { type DenoiseImage, evaluateAccuracy, evaluateDenoiser, mean } from '../../../train/evaluate.ts';
import { denoiserTrainingData, recoverInterruptedWrite } from '../../../protect/index.ts';
import { architectureOf, openTorchScriptModel, readModelFile } from '../../../models/load.ts';
import type { TaskKind } from '../../../data/batch-source.ts';
import type { LayerDiscovery } from '../../../protect/layers.ts';
import { openDataset } from '../../../data/open.ts';
import { normalisationFrom } from '../../../data/normalisation.ts';
import { UsageError } from '../../errors.ts';
import { type KeyFlags, tokenFromFlags } from '../../key-flags.ts';
import type { CliIO, Output } from '../../io.ts';
import { type Progress, progress } from '../../progress.ts';
import type { ProcessGroup } from '../../../distributed/index.ts';
import { perRankBatch } from '../../../train/data-parallel.ts';

/** The tier token from --token, --keys or $NNLOCK_KEY (a token on the command line is visible to other local users). */
export async function tokenFrom(o: KeyFlags, io: CliIO): Promise<string> {
  const token = await tokenFromFlags(o, io.env);
  if (token === undefined) throw new UsageError('no key given: pass --keys <file> (or --token <token>, or set NNLOCK_KEY)');
  return token;
}

/** Refuses to start work whose output could not be written anyway. */
export function refuseOverwrite(paths: readonly (string | undefined)[], force: boolean | undefined): void {
  if (force) return;
  for (const p of paths) if (p !== undefined && existsSync(p)) throw new Error(`${p} exists (use --force to overwrite)`);
}

/** The architecture a file or --arch names. */
export { architectureOf as specOf } from '../../../models/load.ts';

/**
 * The model file ("no such file" when missing), after finishing or undoing a protected write of
 * it that was interrupted (a kill between renaming its key file and the model): the model and its
 * key file on disk then match again.
 */
export async function readModel(path: string): Promise<SafetensorsFile> {
  await recoverInterruptedWrite(path);
  return readModelFile(path);
}

/** The --module and --task options of the protect verbs: a user's own model as a TorchScript file. */
export interface ModuleFlags {
  arch?: string;
  module?: string;
  task?: TaskKind;
}

/** The model a protect verb runs: the spec, and with --module the TorchScript model with the weights loaded (the caller disposes it). */
export interface VerbModel {
  spec: ModelSpec | undefined;
  /** The user's own model (--module), with the weights of the file loaded. */
  model?: Module;
  /** The architecture to record and build (undefined for a TorchScript model). */
  architecture?: string;
  /** The task of a TorchScript model (an architecture's spec says its own). */
  task?: TaskKind;
}

/** --module's TorchScript model with `file`'s weights loaded, or the architecture --arch or the file names. */
export async function verbModel(o: ModuleFlags, file: SafetensorsFile, path: string): Promise<VerbModel> {
  if (o.task && !o.module) throw new UsageError('--task is for a TorchScript model (--module): an architecture knows its task');
  if (!o.module) {
    const spec = architectureOf(o.arch, file.metadata);
    return { spec, architecture: spec?.name };
  }
  const { model, spec } = await openTorchScriptModel(o.module, file, { task: o.task ?? 'classification', source: path });
  return { spec, model, task: spec.task };
}

/** How the layers were found, for --json: the rule, the layers, what was skipped and why. */
export function discoveryJson(d: LayerDiscovery): Record<string, unknown> {
  return { by: d.by, layers: d.layers.map((l) => l.name), skipped: d.skipped, ...(d.note ? { note: d.note } : {}) };
}

/** The same as text lines: the skipped tensors, one a line. */
export function discoveryLines(d: LayerDiscovery): string[] {
  const by = d.by === 'module-types' ? 'by module type' : 'by name and shape';
  return [`conv layers found ${by}: ${d.layers.map((l) => l.name).join(', ')}`, ...d.skipped.map((t) => `  skipped ${t.name} ${t.dtype}[${t.shape.join(', ')}]: ${t.reason}`)];
}

export function requireSpec(spec: ModelSpec | undefined, path: string, why: string): ModelSpec {
  if (!spec)
    throw new UsageError(
      `${path} does not say its architecture, which ${why} needs: pass --arch (e.g. resnet20, vgg16-bn, dncnn-17), or your own model with --module model.pt (torch.jit.script(model).save)`,
    );
  return spec;
}

/** A ratio of kernels, in [0, 1). */
export function ratio(v: string): number {
  const r = Number(v);
  if (v.trim() === '' || !(r >= 0 && r < 1)) throw new InvalidArgumentError(`must be a number in [0, 1), got '${v}'`);
  return r;
}

/** `--data cifar10:<dir>` is accepted as well as a plain path. */
function dataPath(spec: string): string {
  return spec.replace(/^(cifar10|images):/, '');
}

/**
 * Training data for PSS and Taylor: the first `images` CIFAR-10 training images, normalised as the
 * weights file says, for classifiers; for denoisers the clean 40×40 patches of an image folder
 * (denoiserTrainingData: evenly spread, seeded noise, target = the residual).
 */
/** With a data-parallel job's `group`, `batch` is the global batch and the data this rank's shard. */
export async function trainingData(
  spec: ModelSpec,
  data: string,
  metadata: Record<string, string>,
  flags: { images: number; batch: number; seed: number; sigma: number; augment?: boolean },
  group?: ProcessGroup,
): Promise<BatchSource> {
  const o = { ...flags, batch: perRankBatch(flags.batch, group), shard: group && { rank: group.rank, count: group.worldSize } };
  const path = dataPath(data);
  if (spec.task === 'denoising') return denoiserTrainingData(await denoisePatches(path), o);
  const ds = await openDataset(path, { split: 'train', limit: o.images });
  const augment = flags.augment ? { augment: { crop: { padding: 4 }, hflip: true } } : {}; // random crop (padding 4) and flip
  const loader = new DataLoader(ds, { batchSize: o.batch, shuffle: true, seed: o.seed, workers: 0, shard: o.shard, ...augment, ...normalisationFrom(metadata) });
  return loader;
}

export interface Evaluator {
  evaluate: (m: Module) => Promise<number>;
  unit: string;
  count: number;
}

/**
 * The owner's metric: top-1 accuracy (a fraction) on CIFAR-10 test images for classifiers; mean
 * PSNR (dB) of clamp(noisy − net(noisy), 0, 1) over a folder of grayscale images for denoisers.
 */
export async function evaluator(spec: ModelSpec, data: string, metadata: Record<string, string>, o: { images?: number; sigma: number; seed: number }): Promise<Evaluator> {
  const path = dataPath(data);
  if (spec.task === 'classification') {
    const ds = await openDataset(path, { split: 'test', limit: o.images });
    const loader = new DataLoader(ds, { batchSize: 500, shuffle: false, workers: 0, ...normalisationFrom(metadata) });
    return { evaluate: async (m) => (await evaluateAccuracy(m, loader)).accuracy, unit: 'accuracy', count: ds.length };
  }
  let files: string[];
  try {
    files = await listImages(path);
  } catch {
    throw new Error(`${path}: no such folder of images`);
  }
  if (o.images !== undefined) files = files.slice(0, o.images);
  if (files.length === 0) throw new Error(`${path}: no images`);
  const images: DenoiseImage[] = [];
  await forEachImage(files, { channels: 1 }, (img, i) => images.push({ name: basename(files[i]), data: img.data, channels: 1, height: img.height, width: img.width }));
  return { evaluate: async (m) => mean(evaluateDenoiser(m, images, o.sigma, o.seed).map((r) => r.psnr)), unit: 'PSNR dB', count: images.length };
}

/** Builds the architecture, loads `file` into it (strictly: a wrong --arch fails here), measures it (when asked) and disposes it. */
export async function measure(spec: ModelSpec, file: SafetensorsFile, ev?: Evaluator): Promise<number | undefined> {
  const model = spec.create();
  try {
    loadWeightsSync(model, file, { source: `the weights (as ${spec.name})` });
    model.eval();
    return await ev?.evaluate(model);
  } finally {
    model.dispose();
  }
}

/** A PSS progress bar, started on the first step (when the layer count is known). */
export function stepProgress(out: Output, stepsPerLayer: number): { onStep: (s: { layerIndex: number; layerCount: number; loss: number }) => void; stop: () => void } {
  let bar: Progress | undefined;
  let done = 0;
  return {
    onStep: (s) => {
      bar ??= progress('pss', s.layerCount * stepsPerLayer, { unit: 'steps/s', quiet: !out.progressStream, stream: out.progressStream as NodeJS.WriteStream });
      bar.update(++done, { layer: `${s.layerIndex + 1}/${s.layerCount}`, loss: s.loss });
    },
    stop: () => bar?.stop(),
  };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
