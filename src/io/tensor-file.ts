// Tensors to and from safetensors files: the bridge between src/io/safetensors.ts (bytes) and
// the tensor layer. Names and dtypes are kept as they are, so files move to and from PyTorch.
import { type DType, type Tensor, fromBytes, toBytes } from '../tensor/index.ts';
import { fromDType, isReservedTensorName, readSafetensors, type TensorEntry, toDType, writeSafetensors } from './safetensors.ts';

/**
 * Tensors from parsed safetensors entries (copies: the file buffer can be dropped). nnlock's own
 * reserved `__nnlock__/` entries (a protected model's sealed sections) are not tensors of any model
 * and are skipped, so a protected file loads as published (tier 0).
 */
export function tensorsFromEntries(entries: Map<string, TensorEntry>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const [name, e] of entries) if (!isReservedTensorName(name)) out.set(name, fromBytes(e.data, e.shape, toDType(e.dtype)));
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

export function entriesFromTensors(tensors: Map<string, Tensor>): Map<string, TensorEntry> {
  const out = new Map<string, TensorEntry>();
  for (const [name, t] of tensors) out.set(name, { dtype: fromDType(t.dtype), shape: t.shape, data: toBytes(t) });
  return out;
}

/** A file's tensors decoded (the caller disposes them) and its metadata. */
export async function readTensorFile(path: string): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(path);
  return { tensors: tensorsFromEntries(tensors), metadata };
}

/** Writes atomically: the file is either the old one or the complete new one. */
export async function writeTensorFile(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(path, entriesFromTensors(tensors), metadata);
}
