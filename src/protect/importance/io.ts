// Importance files: computed once (PSS takes minutes), used by every later `protect`. A plain
// safetensors file: one float32 [A, B] tensor per conv layer, named by the layer's weight name
// (kernel (a, b) at [a, b], higher = more important). Metadata:
//   nnlock.importance  "1" (the format version; marks the file as an importance file)
//   strategy           pss | taylor | l1 | magnitude | magnitude-asc | closest-mean | random
//   settings           JSON of the options the strategy ran with (epochs, images, seed, ...)
//   source             weightsDigest (hex) of the weights scored, so a file made for other
//                      weights is noticed
//   architecture       when known
import { readSafetensors, writeSafetensors, type TensorEntry } from '../../io/safetensors.ts';
import { type ConvLayer, copyBytes } from '../layers.ts';
import { type ImportanceMap, type Strategy, assertStrategy, layerScores } from './scores.ts';

export const IMPORTANCE_METADATA_KEY = 'nnlock.importance';

export interface ImportanceInfo {
  strategy: Strategy;
  /** Options the strategy ran with (epochs, images, seed, ...). */
  settings: Record<string, unknown>;
  /** weightsDigest (hex) of the weights the scores were computed on. */
  source?: string;
  architecture?: string;
}

export interface ImportanceFile extends ImportanceInfo {
  scores: ImportanceMap;
}

export function serializeImportance(scores: ImportanceMap, info: ImportanceInfo): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const tensors = new Map<string, TensorEntry>();
  for (const [name, s] of scores) {
    tensors.set(name, { dtype: 'F32', shape: [...s.shape], data: new Uint8Array(s.scores.buffer.slice(s.scores.byteOffset, s.scores.byteOffset + s.scores.byteLength)) });
  }
  const metadata: Record<string, string> = { [IMPORTANCE_METADATA_KEY]: '1', strategy: info.strategy, settings: JSON.stringify(info.settings) };
  if (info.source) metadata.source = info.source;
  if (info.architecture) metadata.architecture = info.architecture;
  return { tensors, metadata };
}

export async function saveImportance(path: string, scores: ImportanceMap, info: ImportanceInfo): Promise<void> {
  const { tensors, metadata } = serializeImportance(scores, info);
  await writeSafetensors(path, tensors, metadata);
}

export function parseImportance(tensors: Map<string, TensorEntry>, metadata: Record<string, string>, where = 'importance file'): ImportanceFile {
  const version = metadata[IMPORTANCE_METADATA_KEY];
  if (version === undefined) throw new Error(`${where} is not an nnlock importance file (no '${IMPORTANCE_METADATA_KEY}' metadata)`);
  if (version !== '1') throw new Error(`${where}: unsupported importance format version ${version}`);
  let settings: unknown;
  try {
    settings = JSON.parse(metadata.settings ?? '{}');
  } catch {
    throw new Error(`${where}: 'settings' is not valid JSON`);
  }
  const scores: ImportanceMap = new Map();
  for (const [name, e] of tensors) {
    if (e.dtype !== 'F32' || e.shape.length !== 2) throw new Error(`${where}: ${name} must be a float32 [A, B] tensor, got ${e.dtype}[${e.shape.join(', ')}]`);
    const values = new Float32Array(copyBytes(e.data).buffer);
    if (values.some((v) => Number.isNaN(v))) throw new Error(`${where}: ${name} holds NaN scores`);
    scores.set(name, layerScores([e.shape[0], e.shape[1]], values));
  }
  return {
    scores,
    strategy: assertStrategy(String(metadata.strategy)),
    settings: typeof settings === 'object' && settings !== null && !Array.isArray(settings) ? (settings as Record<string, unknown>) : {},
    source: metadata.source,
    architecture: metadata.architecture,
  };
}

export async function loadImportance(path: string): Promise<ImportanceFile> {
  const { tensors, metadata } = await readSafetensors(path);
  return parseImportance(tensors, metadata, path);
}

/** Throws unless `scores` has a map of the right [A, B] shape for each layer. */
export function checkImportanceCovers(scores: ImportanceMap, layers: readonly ConvLayer[], where = 'the importance scores'): void {
  for (const l of layers) {
    const s = scores.get(l.name);
    if (!s) throw new Error(`${where} have nothing for layer ${l.name} (they cover ${[...scores.keys()].join(', ') || 'no layer'})`);
    if (s.shape[0] !== l.shape[0] || s.shape[1] !== l.shape[1]) {
      throw new Error(`${where} for ${l.name} are [${s.shape.join(', ')}] but the layer has [${l.shape[0]}, ${l.shape[1]}] kernels: wrong model?`);
    }
  }
}
