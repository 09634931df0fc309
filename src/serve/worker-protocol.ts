// The messages between the service's main thread (src/serve/pool.ts) and its inference workers
// (src/serve/worker.ts). Plain data only: tensors cross as safetensors entries (bytes, dtype,
// shape) and batches as Float32Arrays (or 8-bit pixels), transferred rather than copied where they can be.
import type { TensorEntry } from '../io/safetensors.ts';
import type { ErModelSpec } from '../er/model-file.ts';

/** How a worker builds a model before loading its weights. */
export type WorkerArchitecture = { kind: 'registry'; architecture: string; numClasses?: number } | { kind: 'er'; spec: ErModelSpec };

/** What a worker runs: softmax probabilities of a classifier, or clamp(x − f(x), 0, 1) of a denoiser. */
export type WorkerTask = 'classify' | 'denoise';

export interface LoadMessage {
  type: 'load';
  name: string;
  build: WorkerArchitecture;
  task: WorkerTask;
  /** The published weights (a protected model's decoys included): every tensor, once. */
  tensors: [string, TensorEntry][];
  /** Classifiers: the input value of each 8-bit pixel value per channel (pixel-table.ts), for batches sent as pixels. */
  pixelTable?: Float32Array;
}

/**
 * One tier's own copies of what it changes: per protected layer, the kernels (flat index a·B + b
 * of an [A, B, kh, kw] weight) whose values at this tier differ from the published ones, with both
 * values ([n, kh·kw] each), so a worker can go to the tier and back to the published weights.
 */
export interface TierLayer {
  name: string;
  kernels: number[];
  restored: TensorEntry;
  published: TensorEntry;
}

export interface TierMessage {
  type: 'tier';
  name: string;
  tier: number;
  layers: TierLayer[];
}

export interface RunMessage {
  type: 'run';
  id: number;
  name: string;
  tier: number;
  /** [N, C, H, W] */
  shape: number[];
  /** The network's input, or 8-bit pixels that the model's pixel table turns into it. */
  data: Float32Array | Uint8Array;
}

export interface MemoryMessage {
  type: 'memory';
  id: number;
}

export type ToWorker = LoadMessage | TierMessage | RunMessage | MemoryMessage;

/** Bytes of tensors a worker holds for one model: the model's own, and the tiers' copies. */
export interface ModelMemory {
  modelBytes: number;
  tierBytes: number;
  tiers: number;
}

export type FromWorker =
  | { type: 'ack'; name: string; what: 'load' | 'tier'; tier?: number; error?: string }
  /** ms: how long the worker took over the batch (the pool's estimate of when a worker will be free). */
  | { type: 'done'; id: number; shape: number[]; data: Float32Array; ms: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'memory'; id: number; models: Record<string, ModelMemory>; live: number };
