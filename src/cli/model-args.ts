// A model named on the command line: its file (read once), its architecture (--arch or the
// file's metadata) and, for a protected file, the key that unlocks it in memory.
import { existsSync } from 'node:fs';
import type { Module } from '../nn/index.ts';
import { describeReport } from '../nn/index.ts';
import { type ModelSpec, modelSpec } from '../models/index.ts';
import { readSafetensors } from '../io/safetensors.ts';
import type { DecodedKeyToken } from '../crypto/index.ts';
import { PROTECT_METADATA_KEY, unlock } from '../protect/index.ts';
import { WeightsMismatchError, loadWeightsSync } from '../models/weights.ts';
import { type SafetensorsFile } from '../io/safetensors.ts';

/** Reads a safetensors file, with "no such file" for a missing one. */
export async function readModelFile(path: string): Promise<SafetensorsFile> {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return readSafetensors(path);
}

/** The architecture named by --arch or the file's metadata, or undefined when neither says. */
export function architectureOf(arch: string | undefined, metadata: Record<string, string>): ModelSpec | undefined {
  const name = arch ?? metadata.architecture;
  return name ? modelSpec(name) : undefined;
}

export function requireArchitecture(spec: ModelSpec | undefined, path: string, why: string): ModelSpec {
  if (!spec) throw new Error(`${path} does not say its architecture, which ${why} needs: pass --arch (e.g. resnet20, vgg16-bn, dncnn-17)`);
  return spec;
}

/** Builds the architecture and loads the file into it strictly: a wrong architecture fails here, clearly. */
export function modelFor(spec: ModelSpec, file: SafetensorsFile, path: string): Module {
  const model = spec.create();
  try {
    loadWeightsSync(model, file);
  } catch (e) {
    model.dispose();
    if (e instanceof WeightsMismatchError) {
      const said = file.metadata.architecture ? ` (the file says its architecture is '${file.metadata.architecture}')` : '';
      throw new Error(`${path} is not a ${spec.name} model${said}: ${describeReport(e.report.report)}`);
    }
    throw e;
  }
  model.eval();
  return model;
}

export function isProtected(file: SafetensorsFile): boolean {
  return file.metadata[PROTECT_METADATA_KEY] !== undefined;
}

export interface LoadedModel {
  model: Module;
  spec: ModelSpec;
  metadata: Record<string, string>;
  /** For a protected file: the tier restored (0 without a key). */
  tier?: number;
  tiers?: number;
}

/**
 * Loads a model for eval/denoise. A protected file without a key runs as it is (tier 0: the
 * decoys in place); with a key it is unlocked in memory to the key's tier (or `tier`), and no
 * plaintext weights touch the disk.
 */
export async function loadModel(path: string, o: { arch?: string; key?: DecodedKeyToken; tier?: number } = {}): Promise<LoadedModel> {
  let file = await readModelFile(path);
  let tier: number | undefined;
  let tiers: number | undefined;
  if (isProtected(file)) {
    if (o.key) {
      const r = unlock(file, o.key, { tier: o.tier });
      file = r.file;
      tier = r.tier;
      tiers = r.tiers;
    } else {
      tier = 0;
    }
  } else if (o.key) {
    throw new Error(`${path} is not a protected model: it needs no key`);
  }
  const spec = requireArchitecture(architectureOf(o.arch, file.metadata), path, 'loading it');
  return { model: modelFor(spec, file, path), spec, metadata: file.metadata, tier, tiers };
}
