// A model named on the command line: architecture (from --arch or the file's metadata) and
// weights, read once.
import { existsSync } from 'node:fs';
import type { Module } from '../nn/index.ts';
import { type ModelSpec, modelSpec } from '../models/index.ts';
import { applyWeights } from '../models/weights.ts';
import { type TensorFile, readTensorFile } from '../io/tensor-file.ts';

export interface LoadedModel {
  model: Module;
  spec: ModelSpec;
  metadata: Record<string, string>;
}

export function resolveArchitecture(arch: string | undefined, metadata: Record<string, string>, path: string): ModelSpec {
  const name = arch ?? metadata.architecture;
  if (!name) throw new Error(`${path} does not say its architecture: pass --arch (e.g. resnet20, vgg16-bn, dncnn-17)`);
  return modelSpec(name);
}

export async function readWeightsFile(path: string): Promise<TensorFile> {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return readTensorFile(path);
}

/** Builds the architecture and loads the file into it (strict), in eval mode. */
export async function loadModel(path: string, arch?: string): Promise<LoadedModel> {
  const file = await readWeightsFile(path);
  let spec: ModelSpec;
  try {
    spec = resolveArchitecture(arch, file.metadata, path);
  } catch (e) {
    for (const t of file.tensors.values()) t.dispose();
    throw e;
  }
  const model = spec.create();
  try {
    applyWeights(model, file, path);
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return { model, spec, metadata: file.metadata };
}
