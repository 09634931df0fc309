// Reading a protected model from disk to unlock or verify it: one pass over its bytes. The weights
// digest (format.ts) is a stream over the published tensors in name order, and a check of every
// weight has to read every weight anyway, so each tensor is hashed as soon as its bytes are in,
// while the next chunk of the file is being read (src/io/safetensors.ts readSafetensors onTensor):
// the hash overlaps the read instead of following it, and the bytes are hashed while they are
// still in the cache. The digest is only computed here; unlock.ts compares it with the header's.
import { type SafetensorsFile, readSafetensors } from '../io/safetensors.ts';
import { WeightsHasher, digestOrder } from './format.ts';

export interface ReadProtected {
  file: SafetensorsFile;
  /** The weights digest of exactly the bytes read (undefined when not asked for). */
  hashed?: Uint8Array;
}

/** Reads a (protected) safetensors file, hashing its published weights as they are read unless `hash` is false. */
export async function readProtectedFile(path: string, options: { hash?: boolean } = {}): Promise<ReadProtected> {
  if (options.hash === false) return { file: await readSafetensors(path) };
  const hasher = new WeightsHasher();
  let order: string[] | undefined;
  const arrived = new Set<string>();
  let next = 0;
  const file = await readSafetensors(path, {
    onTensor(name, _entry, f) {
      order ??= digestOrder(f.tensors.keys());
      arrived.add(name);
      // Tensors arrive in file order (by dtype, then name); the digest takes them by name: hash
      // every one whose predecessors are all in.
      for (; next < order.length && arrived.has(order[next]); next++) {
        const e = f.tensors.get(order[next])!;
        hasher.add(order[next], e, e.data);
      }
    },
  });
  // A file without tensors never called back; every tensor of one that has was delivered.
  order ??= digestOrder(file.tensors.keys());
  for (; next < order.length; next++) {
    const e = file.tensors.get(order[next])!;
    hasher.add(order[next], e, e.data);
  }
  return { file, hashed: hasher.digest() };
}
