// The one way to load weights into a model, and to save them: safetensors with PyTorch's names.
import type { Module } from '../nn/index.ts';
import { describeReport, LoadStateDictError } from '../nn/index.ts';
import { type SafetensorsFile, readSafetensors } from '../io/safetensors.ts';
import { tensorsFromEntries, writeTensorFile } from '../io/tensor-file.ts';

export interface LoadWeightsOptions {
  /** Every key must match, no more and no fewer (default true, as PyTorch's load_state_dict). */
  strict?: boolean;
  /** What to call the weights in errors (default: the path, or "the weights file"). */
  source?: string;
}

/**
 * Loads weights into a model: from a safetensors file, or from one already in memory (a file read
 * once, an unlocked protected model). Strict by default. A mismatch fails with an error that names
 * the source and says which keys are missing, unexpected or of the wrong shape: the usual sign of
 * a wrong architecture. Returns the file's metadata.
 */
export async function loadWeights(model: Module, weights: string | SafetensorsFile, options: LoadWeightsOptions = {}): Promise<Record<string, string>> {
  const file = typeof weights === 'string' ? await readSafetensors(weights) : weights;
  loadWeightsSync(model, file, { ...options, source: options.source ?? (typeof weights === 'string' ? weights : undefined) });
  return file.metadata;
}

/** loadWeights for a file already in memory, synchronously. */
export function loadWeightsSync(model: Module, file: SafetensorsFile, options: LoadWeightsOptions = {}): void {
  const tensors = tensorsFromEntries(file.tensors);
  try {
    model.loadStateDict(tensors, { strict: options.strict ?? true });
  } catch (e) {
    if (e instanceof LoadStateDictError) {
      const hint = file.metadata.architecture ? ` (the file says its architecture is '${file.metadata.architecture}')` : '';
      throw new WeightsMismatchError(`${options.source ?? 'the weights file'} does not fit this model${hint}: ${describeReport(e.report)}`, e);
    }
    throw e;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Weights whose names or shapes do not fit the model; `report` has the missing, unexpected and mismatched keys. */
export class WeightsMismatchError extends Error {
  override name = 'WeightsMismatchError';
  constructor(
    message: string,
    readonly report: LoadStateDictError,
  ) {
    super(message, { cause: report });
  }
}

/** Writes a model's state dict atomically, with its metadata. */
export async function saveWeights(model: Module, path: string, metadata: Record<string, string> = {}): Promise<void> {
  await writeTensorFile(path, model.stateDict(), metadata);
}
