// Loading and saving a model's weights as safetensors with PyTorch's names.
import type { Module } from '../nn/index.ts';
import { describeReport, LoadStateDictError } from '../nn/index.ts';
import { type TensorFile, readTensorFile, writeTensorFile } from '../io/tensor-file.ts';

/**
 * Copies a read file into a model, strictly by default. The error names the file and says which
 * keys are missing, unexpected or of the wrong shape: the usual sign of a wrong architecture.
 * The file's tensors are disposed either way.
 */
export function applyWeights(model: Module, file: TensorFile, path: string, options: { strict?: boolean } = {}): void {
  try {
    model.loadStateDict(file.tensors, options);
  } catch (e) {
    if (e instanceof LoadStateDictError) {
      const hint = file.metadata.architecture ? ` (the file says its architecture is '${file.metadata.architecture}')` : '';
      throw new Error(`${path} does not fit this model${hint}: ${describeReport(e.report)}`);
    }
    throw e;
  } finally {
    for (const t of file.tensors.values()) t.dispose();
  }
}

/** Loads a safetensors file into a model; returns the file's metadata. */
export async function loadWeights(model: Module, path: string, options: { strict?: boolean } = {}): Promise<Record<string, string>> {
  const file = await readTensorFile(path);
  applyWeights(model, file, path, options);
  return file.metadata;
}

export async function saveWeights(model: Module, path: string, metadata: Record<string, string> = {}): Promise<void> {
  await writeTensorFile(path, model.stateDict(), metadata);
}
