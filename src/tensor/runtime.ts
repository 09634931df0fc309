// Process-level settings of the engine: seeds, threads, grad mode, CUDA, counters.
import { native } from '../native/index.ts';

/**
 * Seeds libtorch's default random generator (randn, dropout, weight init, ...).
 *
 * That generator is PROCESS-WIDE: one for the whole process, shared by the main thread and every
 * worker thread that loads the addon. A worker that calls manualSeed reseeds the main thread's
 * draws too, and two threads drawing at the same time take numbers from one stream in whatever
 * order they run. So a seed makes results reproducible only when one thread at a time seeds and
 * draws. Threads that need their own reproducible randomness draw it in JavaScript from a seeded
 * Rng (src/data/rng.ts), as the DataLoader's workers do (they never load the addon, never call
 * manualSeed, and their batches do not depend on it), and pass the numbers in as tensors.
 */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Native tensors alive in this thread: tests check it returns to its baseline. */
export function liveTensors(): number {
  return native.liveTensors();
}

export function libtorchVersion(): string {
  return native.libtorchVersion();
}

export const cuda = {
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  synchronize: (): void => native.cudaSynchronize(),
};

/**
 * Runs fn with autograd recording off. Grad mode is per thread and fn must be synchronous:
 * an async fn would leave grad mode off for whatever else runs while it awaits.
 */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    const r = fn();
    if (typeof r === 'object' && r !== null && typeof (r as { then?: unknown }).then === 'function') {
      throw new Error('noGrad(fn) takes a synchronous function; wrap each synchronous step instead');
    }
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
