// Reading a protected model from disk to unlock or verify it: one pass over its bytes, and the
// sections opened while the weights are still being read.
//
// The weights digest (format.ts) is a stream over the published tensors in name order, and a
// check of every weight has to read every weight anyway, so each tensor is hashed as soon as its
// bytes are in, while the next chunks of the file are being read in the thread pool
// (src/io/safetensors.ts readSafetensors onTensor): the hash overlaps the read instead of
// following it, and the bytes are hashed while they are still in the cache.
//
// Format version 3 keeps the sealed sections as tensors, so they are read first and `prepare`
// runs on them (unlockModel: the signature, the key and opening the sections, openUnlock) while
// the weights are read; the weights are only compared with the digest, and kernels only put back,
// once every byte is in (applyUnlock). The digest is computed here; unlock.ts compares it.
// In place (the buffer is the reader's own), each tensor's kernels may be put back as soon as the
// tensor is settled (read, and hashed when hashing: `settled`), while its bytes are still in the
// cache from the read; that touches only the restored kernels, where a pass after the read
// missed the cache on nearly every one (13 ms of 20 for a VGG19). Nothing leaves unlockModel
// before every check has passed: if one fails, the kernels put back are wiped (OpenedUnlock.discard).
import { type SafetensorsFile, isReservedTensorName, readSafetensors } from '../io/safetensors.ts';
import { FORMAT_VERSION, SECTION_TENSOR_PREFIX, WeightsHasher, digestOrder, parseHeader } from './format.ts';

export interface ReadProtected {
  file: SafetensorsFile;
  /** The weights digest of exactly the bytes read (undefined when not asked for). */
  hashed?: Uint8Array;
}

export interface ReadProtectedOptions<T> {
  /** Hash the published weights as they are read (default true). */
  hash?: boolean;
  /**
   * Runs on a version 3 file once its header and sections are read, the weights not yet (their
   * bytes must not be looked at); on other files once the whole file is read. Its result comes
   * back as `prepared`; what it throws is thrown once the read is over.
   */
  prepare?: (file: SafetensorsFile) => T;
  /** Undoes a `prepare` whose result will not be returned (the read failed): wipes what it holds. */
  discard?: (prepared: T) => void;
  /**
   * Runs for each published tensor once its bytes are final: read and, when hashing, hashed (so
   * they may be changed from then on without changing the digest), with what `prepare` returned;
   * only on a version 3 file whose `prepare` ran early and succeeded. unlockModel restores the
   * tensor's kernels here, while its bytes are still in the cache from the read.
   */
  settled?: (prepared: T, name: string, file: SafetensorsFile) => void;
  /** Chunk reads kept in flight (readSafetensors' readsAhead); default PREPARE_READS_AHEAD with `prepare`, else readSafetensors' own. */
  readsAhead?: number;
}

/**
 * Chunks (4 MiB) read ahead while `prepare` runs: opening a VGG19's sections takes the main thread
 * several milliseconds, in which four chunks in flight are read and the pool would then idle.
 */
export const PREPARE_READS_AHEAD = 16;

/** Reads a (protected) safetensors file, hashing its published weights as they are read unless `hash` is false. */
export async function readProtectedFile<T = never>(path: string, options: ReadProtectedOptions<T> = {}): Promise<ReadProtected & { prepared?: T }> {
  const hasher = options.hash === false ? undefined : new WeightsHasher();
  let order: string[] | undefined;
  const arrived = new Set<string>();
  let next = 0;
  let prepared: { value: T } | { error: unknown } | undefined;
  const prepare = (f: SafetensorsFile) => {
    try {
      prepared = { value: options.prepare!(f) };
    } catch (error) {
      prepared = { error };
    }
  };
  const sectionsOf = (f: SafetensorsFile): string[] => {
    try {
      if (parseHeader(f.metadata).version !== FORMAT_VERSION) return [];
    } catch {
      return []; // not protected, or a broken header: `prepare` says so after the read
    }
    return [...f.tensors.keys()].filter((name) => name.startsWith(SECTION_TENSOR_PREFIX));
  };
  let early = false;
  const settle = (name: string, f: SafetensorsFile) => {
    if (options.settled && prepared && 'value' in prepared && !isReservedTensorName(name)) options.settled(prepared.value, name, f);
  };
  let file: SafetensorsFile;
  try {
    file = await readSafetensors(path, {
      readsAhead: options.readsAhead ?? (options.prepare ? PREPARE_READS_AHEAD : undefined),
      first: options.prepare
        ? (f) => {
            const names = sectionsOf(f);
            early = names.length > 0;
            return names;
          }
        : undefined,
      onFirst: options.prepare ? (f) => void (early && prepare(f)) : undefined,
      onTensor: hasher
        ? (name, _entry, f) => {
            order ??= digestOrder(f.tensors.keys());
            arrived.add(name);
            // Tensors arrive in file order (by dtype, then name); the digest takes them by name: hash
            // every one whose predecessors are all in.
            for (; next < order.length && arrived.has(order[next]); next++) {
              const e = f.tensors.get(order[next])!;
              hasher.add(order[next], e, e.data);
              settle(order[next], f);
            }
          }
        : options.settled
          ? (name, _entry, f) => settle(name, f)
          : undefined,
    });
  } catch (e) {
    if (prepared && 'value' in prepared) options.discard?.(prepared.value);
    throw e;
  }
  let hashed: Uint8Array | undefined;
  if (hasher) {
    // A file without tensors never called back; every tensor of one that has was delivered.
    order ??= digestOrder(file.tensors.keys());
    for (; next < order.length; next++) {
      const e = file.tensors.get(order[next])!;
      hasher.add(order[next], e, e.data);
      settle(order[next], file);
    }
    hashed = hasher.digest();
  }
  if (options.prepare && !early) prepare(file);
  if (prepared && 'error' in prepared) throw prepared.error;
  return { file, hashed, ...(prepared ? { prepared: prepared.value } : {}) };
}
