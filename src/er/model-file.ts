// Encryption-Robust model files: the model's state dict as safetensors (names adaptation.* and
// backbone.*, as PyTorch would write them) with metadata that says how to rebuild it:
//   format "nnlock-er-model", architecture (a src/models/registry.ts name, e.g. resnet20),
//   adaptation "aligned" | "padded" | "none", k, channels, numClasses, and the cipher it was trained
//   for (kind, keyId; "none" for a plaintext model), the class names (class_names, a JSON array as
//   in nnlock's weights files; absent in files written before they were saved, which still open),
//   plus free-form training facts.
import type { Module } from '../nn/index.ts';
import { modelSpec } from '../models/registry.ts';
import { classNamesMetadata, classNamesOf } from '../models/load.ts';
import { AdaptationNetwork, type AdaptationInit, type AdaptationVariant } from './adaptation.ts';
import { EncryptionRobustModel } from './model.ts';
import { readTensorFile, writeTensorFile } from '../io/tensor-file.ts';
import { describeReport, LoadStateDictError } from '../nn/index.ts';
import { type CipherKey, CipherKeyError, keyId } from '../cipher/key.ts';

export const ER_MODEL_FORMAT = 'nnlock-er-model';

export interface ErModelSpec {
  architecture: string;
  adaptation: AdaptationVariant | 'none';
  k: number;
  channels: number;
  numClasses: number;
  init?: AdaptationInit;
  /** The class names, label i = classes[i] (numClasses of them), when known. */
  classes?: readonly string[];
}

export function buildBackbone(architecture: string, numClasses: number): Module {
  const spec = modelSpec(architecture);
  if (spec.task !== 'classification') throw new Error(`${architecture} is a ${spec.task} model; the Encryption-Robust CNN needs a classifier`);
  return spec.create(numClasses);
}

export function buildErModel(s: ErModelSpec): EncryptionRobustModel {
  const backbone = buildBackbone(s.architecture, s.numClasses);
  const adaptation = s.adaptation === 'none' ? null : new AdaptationNetwork({ k: s.k, channels: s.channels, variant: s.adaptation, init: s.init });
  return new EncryptionRobustModel(adaptation, backbone);
}

export async function saveErModel(path: string, model: EncryptionRobustModel, s: ErModelSpec, key: CipherKey | null, extra: Record<string, string> = {}): Promise<void> {
  if (s.classes && s.classes.length !== s.numClasses) throw new RangeError(`${s.classes.length} class names for a model of ${s.numClasses} classes`);
  await writeTensorFile(path, model.stateDict(), {
    ...extra,
    format: ER_MODEL_FORMAT,
    architecture: s.architecture,
    adaptation: s.adaptation,
    k: String(s.k),
    channels: String(s.channels),
    numClasses: String(s.numClasses),
    kind: key?.kind ?? 'none',
    keyId: key ? keyId(key) : 'none',
    ...(s.classes ? classNamesMetadata(s.classes) : {}),
  });
}

/**
 * Refuses data whose classes are not the model's: `dataClasses` (the dataset's names, label i =
 * dataClasses[i]) must be the model's names in the same order. Either unknown: nothing to check
 * (an old model file without names, or data without them).
 */
export function checkErClasses(spec: ErModelSpec, dataClasses: readonly string[] | undefined, data: string, model: string): void {
  if (!spec.classes || !dataClasses) return;
  if (dataClasses.length === spec.classes.length && dataClasses.every((c, i) => c === spec.classes![i])) return;
  throw new Error(`${data}: its classes (${dataClasses.join(', ')}) are not those ${model} was trained on (${spec.classes.join(', ')})`);
}

export interface LoadedErModel {
  model: EncryptionRobustModel;
  spec: ErModelSpec;
  metadata: Record<string, string>;
}

/** Rebuilds and loads a model file; with a key, checks the model was trained for that key. */
export async function loadErModel(path: string, key?: CipherKey | null): Promise<LoadedErModel> {
  const { tensors, metadata } = await readTensorFile(path);
  try {
    if (metadata.format !== ER_MODEL_FORMAT) throw new Error(`${path} is not an Encryption-Robust model file (format ${JSON.stringify(metadata.format ?? null)}); train one with \`nnlock er train\``);
    const adaptation = metadata.adaptation as ErModelSpec['adaptation'];
    if (!['aligned', 'padded', 'none'].includes(adaptation)) throw new Error(`${path}: unknown adaptation '${metadata.adaptation}'`);
    const spec: ErModelSpec = {
      architecture: metadata.architecture,
      adaptation,
      k: Number(metadata.k),
      channels: Number(metadata.channels),
      numClasses: Number(metadata.numClasses),
    };
    const classes = classNamesOf(metadata);
    if (classes) {
      if (classes.length !== spec.numClasses) throw new Error(`${path}: ${classes.length} class names for a model of ${spec.numClasses} classes`);
      spec.classes = classes;
    }
    if (key !== undefined) {
      const want = key ? keyId(key) : 'none';
      if (metadata.keyId !== want) {
        throw new CipherKeyError(
          `${path} was trained for ${metadata.keyId === 'none' ? 'plaintext images' : `key ${metadata.keyId} (${metadata.kind})`}, not for ${key ? `key ${want} (${key.kind})` : 'plaintext images'}`,
        );
      }
    }
    const model = buildErModel(spec);
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      model.dispose();
      if (e instanceof LoadStateDictError) throw new Error(`${path} does not fit its own description (${spec.architecture}, ${spec.adaptation}): ${describeReport(e.report)}`);
      throw e;
    }
    model.eval();
    return { model, spec, metadata };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
