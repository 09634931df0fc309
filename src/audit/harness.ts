// The fine-tuning attack harness: what a thief who holds the published (tier-0) file and N
// labelled inputs gets out of it, against what he gets without it. For each N:
//
//   published   fine-tune the tier-0 model (all weights, SGD with momentum, cosine schedule),
//   replaced    detect-and-replace first: the kernels a detector flags are reset (zeros, the
//               layer's mean kernel, or a fresh initialisation), then fine-tune the same way,
//   scratch     the baseline without the file: the same architecture from a fresh initialisation,
//               trained on the same N inputs for the same number of steps,
//   public      the baseline of a public model of the same architecture trained on other data,
//               fine-tuned the same way (only when one is given).
//
// Every run has the same step budget (steps of `batch` inputs). The head start at N is the best of
// published/replaced minus the best baseline, in the metric's units (accuracy, or PSNR in dB).
// Runs are resumable: each trains with a checkpoint per epoch, and a finished run's result goes
// through `store` (an experiment's JSON cache) so a restart skips it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { KeyedStream } from '../crypto/index.ts';
import { manualSeed, parseDevice } from '../tensor/index.ts';
import { Adam, type Module, type Optimizer, SGD, cosine } from '../nn/index.ts';
import type { BatchSource, TaskKind } from '../data/batch-source.ts';
import { type SafetensorsFile, type TensorEntry, isReservedTensorName } from '../io/safetensors.ts';
import { modelSpec } from '../models/registry.ts';
import { loadWeightsSync } from '../models/weights.ts';
import { train } from '../train/loop.ts';
import { taskLoss } from '../protect/importance/data.ts';
import { bytesToFloat64, convLayerOf, float64ToBytes } from '../protect/layers.ts';

export type AttackStart = 'published' | 'replaced' | 'scratch' | 'public';
export type ResetTo = 'zeros' | 'mean' | 'init';

export interface AttackRun {
  start: AttackStart;
  images: number;
  steps: number;
  epochs: number;
  lr: number;
  /** The metric before any step (null for scratch, whose start is random). */
  before: number | null;
  after: number;
  seconds: number;
  /** A fingerprint of the starting weights ('fresh' from scratch): a stored run is reused only for the same. */
  startTag?: string;
}

export interface AttackRunStore {
  get(key: string): AttackRun | undefined;
  set(key: string, run: AttackRun): Promise<void> | void;
}

export interface HarnessOptions {
  architecture: string;
  /** Where the fine-tuning runs: 'cpu' (default), 'cuda', 'cuda:i' (checked before any run). */
  device?: string;
  task: TaskKind;
  /** The published tier-0 file (or the file of any tier the attacker holds). */
  published: SafetensorsFile;
  /** A public model of the same architecture trained on other data, when one exists. */
  publicWeights?: SafetensorsFile;
  /** Kernels to reset for the detect-and-replace runs (per conv weight name); none: no such run. */
  flagged?: Map<string, Int32Array>;
  resetTo?: ResetTo;
  /** Attacker's labelled inputs: N of them, batched, augmented as he likes. */
  data: (images: number) => Promise<BatchSource> | BatchSource;
  /** The held-out metric (higher is better) of a model in eval mode. */
  metric: (model: Module) => Promise<number>;
  sizes: readonly number[];
  /** Optimizer steps of every run. */
  steps: number;
  /**
   * Learning rates: fine-tuning (published, replaced, public; several: one run each, the attacker
   * keeps the best) and from scratch (likewise).
   */
  lr?: { fineTune?: number | readonly number[]; scratch?: number | readonly number[] };
  /**
   * 'sgd' (momentum 0.9, the default: what classifiers are trained with) or 'adam' (what DnCNN is
   * trained with; an attacker uses the optimizer the architecture is known to train well with).
   */
  optimizer?: 'sgd' | 'adam';
  /** Default 5e-4 with SGD, 0 with Adam. */
  weightDecay?: number;
  seed?: number;
  /** Folder for per-epoch checkpoints (resume). */
  checkpoints?: string;
  store?: AttackRunStore;
  /** Which runs; default every one that applies. */
  starts?: readonly AttackStart[];
  onRun?: (run: AttackRun, cached: boolean) => void;
  onEpoch?: (start: AttackStart, images: number, epoch: number, epochs: number) => void;
}

export interface HarnessResult {
  runs: AttackRun[];
  /** N → best attacker run (published or replaced) minus best baseline (scratch or public). */
  headStart: Record<string, number>;
}

/** The layer's weights with the given kernels reset. */
export function resetKernels(file: SafetensorsFile, flagged: Map<string, Int32Array>, to: ResetTo, seed = 0): SafetensorsFile {
  const tensors = new Map<string, TensorEntry>(file.tensors);
  // A fresh initialisation needs no secret, only reproducibility: a stream keyed by the seed.
  const rng = new KeyedStream(new Uint8Array(createHash('sha256').update(`nnlock reset ${seed}`).digest()), 'reset kernels');
  for (const [name, kernels] of flagged) {
    const e = file.tensors.get(name);
    if (!e) throw new Error(`resetKernels: no tensor ${name}`);
    const l = convLayerOf(name, e);
    const v = bytesToFloat64(e.data, l.dtype);
    const ks = l.kernelSize;
    const isFlagged = new Uint8Array(l.kernels);
    for (const k of kernels) isFlagged[k] = 1;
    const mean = new Float64Array(ks);
    let kept = 0;
    for (let k = 0; k < l.kernels; k++) {
      if (isFlagged[k]) continue;
      kept++;
      for (let q = 0; q < ks; q++) mean[q] += v[k * ks + q];
    }
    for (let q = 0; q < ks; q++) mean[q] /= Math.max(1, kept);
    // Kaiming-normal fan-in std, as a fresh conv layer would have.
    const std = Math.sqrt(2 / (l.shape[1] * ks));
    for (const k of kernels) for (let q = 0; q < ks; q++) v[k * ks + q] = to === 'zeros' ? 0 : to === 'mean' ? mean[q] : std * rng.normal(1)[0];
    tensors.set(name, { ...e, data: float64ToBytes(v, l.dtype) });
  }
  return { tensors, metadata: file.metadata };
}

/**
 * A short fingerprint of a run's starting weights ('fresh' for none): its checkpoint is named by
 * it and its stored run carries it, so that a run never resumes from, or is taken for, another
 * file's run with the same settings (e.g. another tier of the same model). Only the weights the
 * model loads count: nnlock's reserved tensors (the sealed `__nnlock__/tier-m` sections) get fresh
 * nonces each time a file is protected, so with them the same weights never matched their own run.
 */
export function startTag(file: SafetensorsFile | undefined): string {
  if (!file) return 'fresh';
  const h = createHash('sha256');
  for (const [name, e] of file.tensors) if (!isReservedTensorName(name)) h.update(name).update(e.data);
  return h.digest('hex').slice(0, 12);
}

function runKey(start: AttackStart, images: number, steps: number, lr: number, extra: string, optimizer: 'sgd' | 'adam'): string {
  return `${start}|${images}|${steps}|${lr}${extra}${optimizer === 'sgd' ? '' : `|${optimizer}`}`;
}

/** Runs the attack at every N and reports the head start. */
export async function attackHarness(o: HarnessOptions): Promise<HarnessResult> {
  const spec = modelSpec(o.architecture);
  const device = parseDevice(o.device ?? 'cpu');
  const loss = taskLoss(o.task);
  const list = (v: number | readonly number[] | undefined, d: number): readonly number[] => (v === undefined ? [d] : typeof v === 'number' ? [v] : v);
  const lrFine = list(o.lr?.fineTune, 0.01);
  const lrScratch = list(o.lr?.scratch, 0.1);
  const replacedFile = o.flagged ? resetKernels(o.published, o.flagged, o.resetTo ?? 'mean', o.seed) : undefined;
  const starts = (o.starts ?? ['published', 'replaced', 'scratch', 'public']).filter((s) => (s === 'replaced' ? !!replacedFile : s === 'public' ? !!o.publicWeights : true));
  if (o.checkpoints) mkdirSync(o.checkpoints, { recursive: true });
  const runs: AttackRun[] = [];
  for (const images of o.sizes) {
    for (const [start, lr] of starts.flatMap((st) => (st === 'scratch' ? lrScratch : lrFine).map((x) => [st, x] as const))) {
      const key = runKey(start, images, o.steps, lr, start === 'replaced' ? `|${o.resetTo ?? 'mean'}` : '', o.optimizer ?? 'sgd');
      const init = start === 'published' ? o.published : start === 'replaced' ? replacedFile : start === 'public' ? o.publicWeights : undefined;
      const tag = startTag(init);
      const cached = o.store?.get(key);
      // A stored run counts only for the same starting weights (runs stored before the tag was
      // recorded: only from scratch, which starts from nothing).
      if (cached && (cached.startTag ?? (start === 'scratch' ? 'fresh' : undefined)) === tag) {
        runs.push(cached);
        o.onRun?.(cached, true);
        continue;
      }
      const data = await o.data(images);
      const epochs = Math.max(1, Math.round(o.steps / data.batchCount));
      manualSeed(o.seed ?? 1);
      const model = spec.create();
      let optimizer: Optimizer | undefined;
      try {
        if (init) loadWeightsSync(model, init, { source: `the ${start} weights` });
        model.to(device).eval();
        const before = init ? await o.metric(model) : null;
        const t0 = performance.now();
        optimizer =
          o.optimizer === 'adam' ? new Adam(model.parameters(), { lr, weightDecay: o.weightDecay ?? 0 }) : new SGD(model.parameters(), { lr, momentum: 0.9, weightDecay: o.weightDecay ?? 5e-4 });
        await train({
          model,
          optimizer,
          epochs,
          schedule: cosine(lr, epochs),
          seed: o.seed ?? 1,
          task: o.task,
          data,
          loss,
          checkpoint: o.checkpoints ? join(o.checkpoints, `${key.replace(/[|]/g, '-')}-${tag}.ckpt`) : undefined,
          info: { run: key },
          onEpoch: (_r, p) => o.onEpoch?.(start, images, p.epoch, p.epochs),
        });
        model.eval();
        const after = await o.metric(model);
        const run: AttackRun = { start, images, steps: epochs * data.batchCount, epochs, lr, before, after, seconds: (performance.now() - t0) / 1000, startTag: tag };
        await o.store?.set(key, run);
        runs.push(run);
        o.onRun?.(run, false);
      } finally {
        optimizer?.dispose();
        model.dispose();
      }
    }
  }
  const headStart: Record<string, number> = {};
  for (const images of o.sizes) {
    const at = runs.filter((r) => r.images === images);
    const attacker = Math.max(...at.filter((r) => r.start === 'published' || r.start === 'replaced').map((r) => r.after));
    const baseline = Math.max(...at.filter((r) => r.start === 'scratch' || r.start === 'public').map((r) => r.after));
    if (Number.isFinite(attacker) && Number.isFinite(baseline)) headStart[String(images)] = attacker - baseline;
  }
  return { runs, headStart };
}
