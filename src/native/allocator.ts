// nnlock's malloc policy. Tensors of image batches are megabytes each and are allocated and freed
// once per batch. With glibc's defaults a freed block is often handed back to the kernel (munmap,
// or trimming the heap top), so the next batch's tensor lands on fresh pages and pays a page fault
// per 4 KiB: measured here, ~3,000 faults and 2–8 ms extra per 1024-image CIFAR encryption, which
// is as long as the encryption itself. Whether that happens depends on the process's heap history,
// so the same code is fast in one process and slow in another. PyTorch's CPU performance guide
// answers the same problem with jemalloc or tcmalloc; nnlock sets glibc's own two thresholds so
// that blocks up to MMAP_THRESHOLD come from the heap and up to TRIM_THRESHOLD of freed heap is
// kept for reuse. The cost: up to TRIM_THRESHOLD bytes of freed memory stay with the process.
//
// NNLOCK_MALLOC=system leaves malloc alone, and so do any malloc settings of the user's own
// (MALLOC_*_ variables, or glibc.malloc tunables in GLIBC_TUNABLES).

export const MMAP_THRESHOLD = 256 * 1024 * 1024;
export const TRIM_THRESHOLD = 512 * 1024 * 1024;

export type AllocatorPolicy = { apply: true; mmapThreshold: number; trimThreshold: number } | { apply: false; reason: string };

export type AllocatorState = AllocatorPolicy & { applied: boolean };

/** What to do for a process with this environment (pure; see the file comment). */
export function allocatorPolicy(env: Record<string, string | undefined>): AllocatorPolicy {
  const choice = env.NNLOCK_MALLOC?.trim().toLowerCase();
  if (choice && choice !== 'nnlock' && choice !== 'system') {
    throw new Error(`nnlock: NNLOCK_MALLOC must be 'nnlock' (the default) or 'system', got '${env.NNLOCK_MALLOC}'`);
  }
  if (choice === 'system') return { apply: false, reason: 'NNLOCK_MALLOC=system' };
  const own = Object.keys(env).filter((k) => /^MALLOC_[A-Z_]+_$/.test(k) && env[k] !== undefined);
  if (own.length > 0) return { apply: false, reason: `the environment sets ${own.sort().join(', ')}` };
  if (env.GLIBC_TUNABLES?.includes('glibc.malloc.')) return { apply: false, reason: 'GLIBC_TUNABLES sets glibc.malloc tunables' };
  return { apply: true, mmapThreshold: MMAP_THRESHOLD, trimThreshold: TRIM_THRESHOLD };
}

/** Applies the policy through the addon; `applied` is false where the C library is not glibc. */
export function applyAllocatorPolicy(setThresholds: (mmapBytes: number, trimBytes: number) => boolean, env: Record<string, string | undefined> = process.env): AllocatorState {
  const policy = allocatorPolicy(env);
  if (!policy.apply) return { ...policy, applied: false };
  return { ...policy, applied: setThresholds(policy.mmapThreshold, policy.trimThreshold) };
}
