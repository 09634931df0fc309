// Loading and saving a model's weights as safetensors with PyTorch's names.
import type { Module } from '../nn/index.ts';
import { describeReport, LoadStateDictError } from '../nn/index.ts';
import { readTensorFile, writeTensorFile } from '../io/tensor-file.ts';

/**
 * Loads a safetensors file into a model, strictly by default. The error names the file and says
 * which keys are missing, unexpected or of the wrong shape: the usual sign of a wrong architecture.
 */
export async function loadWeights(model: Module, path: string, options: { strict?: boolean } = {}): Promise<Record<string, string>> {
  const { tensors, metadata } = await readTensorFile(path);
  try {
    model.loadStateDict(tensors, options);
  } catch (e) {
    if (e instanceof LoadStateDictError) {
      const hint = metadata.architecture ? ` (the file says its architecture is '${metadata.architecture}')` : '';
      throw new Error(`${path} does not fit this model${hint}: ${describeReport(e.report)}`);
    }
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return metadata;
}

export async function saveWeights(model: Module, path: string, metadata: Record<string, string> = {}): Promise<void> {
  await writeTensorFile(path, model.stateDict(), metadata);
}
