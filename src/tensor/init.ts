// The engine's process-wide settings, applied only when asked: importing nnlock changes nothing
// in the process. The CLI, the benches and the service call init(); a library user calls it when
// they want nnlock's choices (every core for libtorch, malloc that keeps large blocks).
import { availableParallelism } from 'node:os';
import { native, nativeLoaded } from '../native/index.ts';
import { type AllocatorState, applyAllocatorPolicy } from '../native/allocator.ts';

export interface InitOptions {
  /**
   * 'nnlock': set glibc's thresholds so large tensors reuse heap pages (src/native/allocator.ts);
   * 'system': leave malloc alone. Default: NNLOCK_MALLOC, else 'nnlock' (unless the environment
   * sets malloc tunables of its own).
   */
  malloc?: 'nnlock' | 'system';
  /** libtorch's intra-op threads. Default: NNLOCK_THREADS, else every core. */
  threads?: number;
}

export interface EngineState {
  /** The malloc policy, or null before init(). */
  allocator: AllocatorState | null;
  /** libtorch's intra-op threads, or null while libtorch is not loaded. */
  threads: number | null;
}

let allocator: AllocatorState | null = null;

/**
 * Applies nnlock's process-wide settings. The malloc policy is applied once per process (a later
 * call keeps the first choice); the thread count is set on every call. Returns the state.
 */
export function init(options: InitOptions = {}): EngineState {
  if (!allocator) {
    const env = options.malloc ? { ...process.env, NNLOCK_MALLOC: options.malloc } : process.env;
    allocator = applyAllocatorPolicy((m, t) => native.setMallocThresholds(m, t), env);
  }
  native.setNumThreads(options.threads ?? threadsFromEnv());
  return engineState();
}

function threadsFromEnv(): number {
  const raw = process.env.NNLOCK_THREADS;
  if (raw === undefined || raw === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`nnlock: NNLOCK_THREADS must be a positive integer, got '${raw}'`);
  return n;
}

/** The settings in force (without loading anything the process has not loaded). */
export function engineState(): EngineState {
  return { allocator, threads: nativeLoaded() ? native.getNumThreads() : null };
}
