// Shared by the protection experiments: paths, a resumable JSON cache, progress lines, the
// experiment keys, CIFAR-10 / Set12 access and evaluation helpers.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { loadWeightsSync } from '../../src/models/weights.ts';
import { type ImportanceMap, type ProtectedModel, denoiserTrainingData, protectModel } from '../../src/protect/index.ts';
import { encodeKeyToken } from '../../src/crypto/index.ts';
import type { Module } from '../../src/nn/index.ts';
import { scope, noGrad } from '../../src/tensor/index.ts';
import { loadCifar10 } from '../../src/data/cifar10.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { correctCount } from '../../src/train/metrics.ts';
import { denoisePatches } from '../../src/data/denoise-patches.ts';
import { forEachImage, listImages } from '../../src/data/image-folder.ts';
import type { DenoiseImage } from '../../src/train/evaluate.ts';
import type { BatchSource } from '../../src/data/batch-source.ts';
import { formatDuration } from '../../src/cli/progress.ts';
import { init } from '../../src/tensor/init.ts';
import { type SafetensorsFile } from '../../src/io/safetensors.ts';

// A script, not a library: nnlock's process settings (every core, the malloc policy) apply.
init();

export const ROOT = join(import.meta.dirname, '..', '..');
export const DATA = process.env.NNLOCK_DATA ?? join(ROOT, '..', 'shared', 'data');
export const CIFAR = join(DATA, 'cifar10');
export const RESNET20 = join(DATA, 'weights', 'resnet20-cifar10.safetensors');
export const DNCNN = join(DATA, 'weights', 'dncnn-s-25.safetensors');
export const SET12 = join(DATA, 'images', 'Set12');
export const TRAIN400 = join(DATA, 'images', 'train400');

/** Settings of a run: the full one, or --quick (tiny, to check the code path end to end). */
export interface RunContext {
  quick: boolean;
  /** Caches of finished units (importance files, evaluations, checkpoints). */
  out: string;
  /** Results: the page, its figures and one JSON per experiment. */
  results: string;
}

export function runContext(quick: boolean): RunContext {
  const out = join(ROOT, 'experiments', 'out', 'protect', ...(quick ? ['quick'] : []));
  // A quick run never overwrites the real results page: it writes next to its caches.
  const results = quick ? join(out, 'results') : join(ROOT, 'experiments', 'results', 'protect');
  mkdirSync(out, { recursive: true });
  mkdirSync(results, { recursive: true });
  return { quick, out, results };
}

export function requireData(): void {
  for (const p of [CIFAR, RESNET20, DNCNN, SET12, TRAIN400]) {
    if (!existsSync(p)) {
      console.error(`missing ${p}: these experiments need the shared fixtures (../shared/data, see its README), or NNLOCK_DATA=<folder>`);
      process.exit(2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Progress and caching

const started = performance.now();

/** A progress line on stderr, with the time since the start of the run. */
export function log(msg: string): void {
  process.stderr.write(`[${formatDuration((performance.now() - started) / 1000).padStart(6)}] ${msg}\n`);
}

/** A JSON object on disk, one entry per finished unit of work, rewritten atomically after each. */
export class JsonCache<T> {
  private readonly data: Record<string, T>;
  constructor(readonly path: string) {
    this.data = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, T>) : {};
  }
  get(key: string): T | undefined {
    return this.data[key];
  }
  has(key: string): boolean {
    return key in this.data;
  }
  async set(key: string, value: T): Promise<void> {
    this.data[key] = value;
    mkdirSync(join(this.path, '..'), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(this.data, null, 1));
  }
  /** The cached value, or computes, stores and returns it. */
  async getOr(key: string, compute: () => Promise<T> | T): Promise<T> {
    const hit = this.data[key];
    if (hit !== undefined) return hit;
    const v = await compute();
    await this.set(key, v);
    return v;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys: fixed, reproducible master keys and model ids, one per key index (never use such keys for
// real models: they are public). Decoys are drawn from a stream keyed by them.

export function experimentKey(k: number, tiers: number): { masterToken: string; modelId: Uint8Array } {
  const masterKey = new Uint8Array(createHash('sha256').update(`nnlock experiments master key ${k}`).digest());
  const modelId = new Uint8Array(createHash('sha256').update(`nnlock experiments model id ${k}`).digest().subarray(0, 16));
  return { masterToken: encodeKeyToken({ tier: tiers, key: masterKey }), modelId };
}

/** protectModel with experiment key k (the same decoys on every run). */
export async function protectWithKey(file: SafetensorsFile, k: number, o: { importance: ImportanceMap; ratio: number; tiers: number; architecture: string }): Promise<ProtectedModel> {
  return protectModel(file, { ...o, ...experimentKey(k, o.tiers) });
}

// ---------------------------------------------------------------------------------------------
// Models

export function loadIntoModel(model: Module, file: SafetensorsFile, strict = true): void {
  loadWeightsSync(model, file, { strict });
}

export async function readWeights(path: string): Promise<SafetensorsFile> {
  return readSafetensors(path);
}

/** True when both files hold the same tensors, byte for byte. */
export function bitIdentical(a: SafetensorsFile, b: SafetensorsFile): { identical: boolean; differing: string[] } {
  const differing: string[] = [];
  for (const [name, e] of a.tensors) {
    const f = b.tensors.get(name);
    if (
      !f ||
      e.dtype !== f.dtype ||
      e.shape.join() !== f.shape.join() ||
      Buffer.compare(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength), Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)) !== 0
    )
      differing.push(name);
  }
  for (const name of b.tensors.keys()) if (!a.tensors.has(name)) differing.push(name);
  return { identical: differing.length === 0, differing };
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10

/** The shared ResNet-20's input normalisation (ImageNet statistics, as its file says). */
export const RESNET20_NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

let testSet: Dataset | undefined;
export async function cifarTest(): Promise<Dataset> {
  testSet ??= await loadCifar10([join(CIFAR, 'test_batch.bin')]);
  return testSet;
}

let trainSet: Dataset | undefined;
/** data_batch_1.bin (10,000 images, already shuffled). */
export async function cifarTrain1(): Promise<Dataset> {
  trainSet ??= await loadCifar10([join(CIFAR, 'data_batch_1.bin')]);
  return trainSet;
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** A loader over test images [from, to), in order, normalised for the shared ResNet-20. */
export async function testLoader(from: number, to: number): Promise<DataLoader> {
  return new DataLoader(subset(await cifarTest(), range(from, to)), { batchSize: 500, shuffle: false, workers: 0, ...RESNET20_NORM });
}

/** Correct top-1 predictions over a loader (the model in eval mode). */
export async function correctOn(model: Module, loader: DataLoader): Promise<number> {
  model.eval();
  let correct = 0;
  for await (const b of loader.epoch(0)) {
    correct += noGrad(() => scope(() => correctCount(model.forward(b.x), b.y)));
    b.x.dispose();
    b.y.dispose();
  }
  return correct;
}

/** PSS/Taylor data as the CLI builds it: the first `images` training images, shuffled per epoch. */
export async function cifarTaskData(images: number, batch: number, seed: number): Promise<BatchSource> {
  const loader = new DataLoader(subset(await cifarTrain1(), range(0, images)), { batchSize: batch, shuffle: true, seed, workers: 0, ...RESNET20_NORM });
  return loader;
}

// ---------------------------------------------------------------------------------------------
// Denoising

/** Grayscale images of a folder (name order), as evaluateDenoiser takes them. */
export async function grayImages(dir: string, limit?: number): Promise<DenoiseImage[]> {
  let files = await listImages(dir);
  if (limit !== undefined) files = files.slice(0, limit);
  const out: DenoiseImage[] = [];
  await forEachImage(files, { channels: 1 }, (img, i) => out.push({ name: basename(files[i]), data: img.data, channels: 1, height: img.height, width: img.width }));
  return out;
}

/** PSS/Taylor data for DnCNN as the CLI builds it: `images` clean 40×40 train400 patches, evenly spread, σ noise, target = residual. */
export async function denoiseTaskData(images: number, batch: number, seed: number, sigma: number): Promise<BatchSource> {
  return denoiserTrainingData(await denoisePatches(TRAIN400), { images, batch, seed, sigma });
}

// ---------------------------------------------------------------------------------------------
// Results

export interface Section {
  /** Experiment number 1..4 (its place on the page). */
  n: number;
  title: string;
  markdown: string;
  data: unknown;
  /** Time of this run. */
  seconds: number;
  /** Time of every run that filled the current caches (see run.ts). */
  computeSeconds?: number;
  date: string;
  quick: boolean;
}

export async function writeSection(ctx: RunContext, s: Section): Promise<void> {
  await writeFileAtomic(join(ctx.results, `exp${s.n}.json`), JSON.stringify(s, null, 1));
}

export function readSection(ctx: RunContext, n: number): Section | undefined {
  const p = join(ctx.results, `exp${n}.json`);
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Section) : undefined;
}

export function fmt(v: number, digits = 4): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

export function pct(r: number): string {
  return `${+(r * 100).toFixed(2)}%`;
}

/** A Markdown table (cells are not escaped: keep pipes out of them). */
export function table(headers: string[], rows: (string | number)[][], right: boolean[] = []): string {
  return [`| ${headers.join(' | ')} |`, `| ${headers.map((_, i) => ((right[i] ?? i > 0) ? '---:' : '---')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
