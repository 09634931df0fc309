// Shared by the cipher experiments: paths, the experiment keys, CIFAR-10 access, the budget,
// progress lines and small Markdown helpers.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { writeFileAtomic } from '../../src/io/atomic.ts';
import { loadCifar10 } from '../../src/data/cifar10.ts';
import { type Dataset, subset } from '../../src/data/dataset.ts';
import { type CipherKey, type CipherKind, deriveKey } from '../../src/cipher/key.ts';
import { formatDuration } from '../../src/cli/progress.ts';
import { init } from '../../src/tensor/init.ts';

// A script, not a library: nnlock's process settings (every core, the malloc policy) apply.
init();

export const ROOT = join(import.meta.dirname, '..', '..');
export const DATA = process.env.NNLOCK_DATA ?? join(ROOT, '..', 'shared', 'data');
export const CIFAR = join(DATA, 'cifar10');
export const TRAIN_FILES = [1, 2, 3].map((i) => join(CIFAR, `data_batch_${i}.bin`));
export const TEST_FILE = join(CIFAR, 'test_batch.bin');
/**
 * Plaintext prior of the statistical init and attack: images of the same kind that are not the
 * encrypted ones (data_batch_3, outside the first 20,000 training images those runs use).
 */
export const PRIOR_FILE = TRAIN_FILES[2];
export const PRIOR_DISJOINT_FROM = 20_000;

/** Plaintext normalisation of the plaintext baseline (the shared ResNet-20's, ImageNet statistics). */
export const PLAIN_NORM = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** The training budget every configuration gets (the same images, epochs and optimizer steps). */
export interface Budget {
  /** The first `trainImages` images of data_batch_1..3. */
  trainImages: number;
  /** Epochs in total (a multi-round run splits them: rounds × epochs/rounds). */
  epochs: number;
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** The first `testImages` images of test_batch.bin. */
  testImages: number;
  /** Test images for the learned-decryption figures (PSNR/SSIM). */
  decryptionImages: number;
  seed: number;
}

export const FULL_BUDGET: Budget = {
  trainImages: 10_000,
  epochs: 4,
  batch: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  testImages: 5_000,
  decryptionImages: 1_000,
  seed: 0,
};
export const QUICK_BUDGET: Budget = {
  trainImages: 512,
  epochs: 2,
  batch: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  testImages: 500,
  decryptionImages: 200,
  seed: 0,
};

export interface RunContext {
  quick: boolean;
  budget: Budget;
  /** Checkpoints and model files (git-ignored). */
  out: string;
  /** The results page, its figures, and one JSON per finished unit (also the cache). */
  results: string;
}

export function runContext(quick: boolean): RunContext {
  const out = join(ROOT, 'experiments', 'out', 'cipher', ...(quick ? ['quick'] : []));
  // A quick run never touches the real results page: it writes next to its caches.
  const results = quick ? join(out, 'results') : join(ROOT, 'experiments', 'results', 'cipher');
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  mkdirSync(join(out, 'models'), { recursive: true });
  mkdirSync(join(results, 'runs'), { recursive: true });
  return { quick, budget: quick ? QUICK_BUDGET : FULL_BUDGET, out, results };
}

export function requireData(): void {
  for (const p of [...TRAIN_FILES, TEST_FILE]) {
    if (!existsSync(p)) {
      console.error(`missing ${p}: these experiments need the shared fixtures (../shared/data, see its README), or NNLOCK_DATA=<folder>`);
      process.exit(2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Keys: fixed, public experiment keys (never use them for anything real).

export function experimentSecret(kind: CipherKind): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`nnlock cipher experiments key ${kind}`).digest());
}

export function experimentKey(kind: CipherKind, o: { shuffle?: boolean } = {}): CipherKey {
  return deriveKey(experimentSecret(kind), { kind, k: 4, channels: 3, shuffle: o.shuffle ?? false });
}

// ---------------------------------------------------------------------------------------------
// Data

let trainAll: Dataset | undefined;
let testAll: Dataset | undefined;

export async function trainSet(n: number): Promise<Dataset> {
  trainAll ??= await loadCifar10(TRAIN_FILES);
  return subset(trainAll, range(0, Math.min(n, trainAll.length)));
}

let priorAll: Dataset | undefined;

export async function priorSet(): Promise<Dataset> {
  priorAll ??= await loadCifar10([PRIOR_FILE]);
  return priorAll;
}

export async function testSet(n: number): Promise<Dataset> {
  testAll ??= await loadCifar10([TEST_FILE]);
  return subset(testAll, range(0, Math.min(n, testAll.length)));
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

// ---------------------------------------------------------------------------------------------
// Progress, caching, machine facts

const started = performance.now();

export function log(msg: string): void {
  process.stderr.write(`[${formatDuration((performance.now() - started) / 1000).padStart(6)}] ${msg}\n`);
}

export function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

/** A finished unit's stored result, or undefined; says so in the log when it is skipped. */
export function cachedUnit<T>(path: string, unit: string): T | undefined {
  const cached = readJson<T>(path);
  if (cached) log(`${unit}: finished earlier, skipped; delete ${path} to rerun`);
  return cached;
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}

export function loadAverage(): number[] {
  return os.loadavg().map((v) => Math.round(v * 100) / 100);
}

// ---------------------------------------------------------------------------------------------
// Markdown

export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined) return '-';
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  return [`| ${headers.join(' | ')} |`, `| ${headers.map((_, i) => (i > 0 ? '---:' : '---')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function duration(seconds: number): string {
  return formatDuration(seconds);
}
