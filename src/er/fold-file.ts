// `nnlock er fold`'s workflow: a plaintext model file whose first layer is a k×k, stride-k patch
// embedding (a ConvMixer) turned into a model file that reads images encrypted with a key of block
// size k (src/er/fold.ts), without training. The folded file records the key's id and a neutral
// input normalisation (mean 0, std 1): it reads ciphertext as it is, since the plaintext
// normalisation is folded into the embedding with the key.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { type CipherKey, keyId } from '../cipher/key.ts';
import { openModel } from '../models/load.ts';
import { saveWeights } from '../models/weights.ts';
import { ConvMixer } from '../models/convmixer.ts';
import { normalisationFrom } from '../data/normalisation.ts';
import { foldCipherIntoPatchEmbedding } from './fold.ts';

export interface FoldModelOptions {
  /** The architecture, when the file does not record it. */
  arch?: string;
  /** Replace `out` when it exists. */
  force?: boolean;
}

export interface FoldModelReport {
  out: string;
  architecture: string;
  keyId: string;
  /** Block size = patch size. */
  k: number;
  /** The plaintext normalisation that was folded in. */
  normalisation: { mean: number[]; std: number[] };
}

/** Folds `key` into the model in `weights` and writes the ciphertext model to `out`. */
export async function foldModelFile(weights: string, key: CipherKey, out: string, o: FoldModelOptions = {}): Promise<FoldModelReport> {
  if (existsSync(out) && !o.force) throw new Error(`${out} exists; pass --force to overwrite it`);
  const { model, spec, metadata } = await openModel(weights, { arch: o.arch });
  try {
    if (!(model instanceof ConvMixer)) {
      throw new Error(`${weights} is a ${spec.name} model: folding needs a first layer that is a k×k, stride-k patch embedding (a convmixer-DIMxDEPTH-pK model)`);
    }
    const normalisation = normalisationFrom(metadata);
    foldCipherIntoPatchEmbedding(model.patchEmbedding, key, normalisation);
    await saveWeights(model, out, {
      ...metadata,
      architecture: spec.name,
      input_mean: '0,0,0',
      input_std: '1,1,1',
      cipher_key_id: keyId(key),
      cipher_kind: key.kind,
      folded_from: basename(weights),
    });
    return { out, architecture: spec.name, keyId: keyId(key), k: key.k, normalisation };
  } finally {
    model.dispose();
  }
}
