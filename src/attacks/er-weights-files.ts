// `nnlock attack er-weights`'s workflow: read an Encryption-Robust model file's adaptation network
// (adaptation.conv.weight, adaptation.deconv.weight: the names src/er writes, read here as plain
// tensors so attacks does not depend on er), recover the key it implies (keyFromAdapterWeights),
// and optionally score it against the true key and by the PSNR of images decrypted with it.
import { noGrad, scope } from '../tensor/index.ts';
import { clamp } from '../ops/arithmetic.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { type CipherKey, keyFromMatrices, keyId } from '../cipher/key.ts';
import { saveKey } from '../cipher/key-file.ts';
import { BlockCipher } from '../cipher/hill.ts';
import { assertWritable } from '../cipher/files.ts';
import { psnrPerImage } from '../train/metrics.ts';
import { mean } from '../train/evaluate.ts';
import { assertKeyChannels, readAttackPixels } from './image-input.ts';
import { keyFromAdapterWeights, recoveredKeyError } from './er-weights.ts';

export interface ErWeightsAttackOptions {
  /** The backbone's input std (the service knows it: it chose the backbone); default 1 per channel. */
  std?: readonly number[];
  /** Score the recovered key against this one and, with `images`, by decryption PSNR. */
  trueKey?: CipherKey;
  /** Plaintext images (a CIFAR-10 .bin or an image): encrypted with trueKey, decrypted with the recovered key. */
  images?: string;
  /** First n images of `images` (default 1000). */
  limit?: number;
  /** Write the recovered key here (matrices form). */
  outKey?: string;
  force?: boolean;
}

export interface ErWeightsAttackReport {
  weights: string;
  k: number;
  channels: number;
  /** Share of the composite map that mixes channels (0 for an exact per-channel inverse). */
  crossChannel: number;
  recoveredKeyId: string | null;
  /** ‖K̂ − K‖_F/‖K‖_F, and after one best scale per channel. */
  relError?: number;
  scaleFreeRelError?: number;
  /** ‖K̂⁻¹ − K⁻¹‖_F/‖K⁻¹‖_F: the decryption map's error (small where K's is not: directions that images barely use are poorly learned, and inverting amplifies them). */
  inverseRelError?: number;
  /** Mean PSNR (dB, peak 1) of the images decrypted with the recovered key, clamped to [0, 1]. */
  decryptedPsnr?: number;
  images?: number;
  outKey?: string;
}

export async function keyFromAdapterFile(weights: string, o: ErWeightsAttackOptions = {}): Promise<ErWeightsAttackReport> {
  if (o.images && !o.trueKey) throw new Error('scoring decryptions of images needs the true key (to encrypt them)');
  if (o.outKey) assertWritable([o.outKey], o.force);
  const file = await readSafetensors(weights);
  const conv = file.tensors.get('adaptation.conv.weight');
  const deconv = file.tensors.get('adaptation.deconv.weight');
  if (!conv || !deconv) throw new Error(`${weights} has no adaptation network (adaptation.conv.weight, adaptation.deconv.weight): not an Encryption-Robust model file with one`);
  if (conv.dtype !== 'F32' || deconv.dtype !== 'F32') throw new Error(`${weights}: expected float32 adaptation weights, got ${conv.dtype}`);
  const [hidden, channels, k, k2] = conv.shape;
  if (k !== k2 || hidden !== channels * k * k) throw new Error(`${weights}: adaptation.conv.weight [${conv.shape.join(', ')}] is not an aligned adaptation network's [C·k², C, k, k]`);
  const f32 = (d: Uint8Array) => new Float32Array(d.slice().buffer);
  const rec = keyFromAdapterWeights({ convWeight: f32(conv.data), deconvWeight: f32(deconv.data), k, channels }, { std: o.std });
  const report: ErWeightsAttackReport = { weights, k, channels, crossChannel: rec.crossChannel, recoveredKeyId: null };
  if (rec.matrices.some((m) => !m)) return report;
  // Real arithmetic whatever the true key's kind: 'uniform' is the kind without structural checks.
  const key = keyFromMatrices('uniform', k, rec.matrices as Float64Array[], { maxCondition: 1e15 });
  report.recoveredKeyId = keyId(key);
  if (o.trueKey) {
    const { relative, scaleFree } = recoveredKeyError(rec.matrices, o.trueKey.matrices);
    Object.assign(report, { relError: relative, scaleFreeRelError: scaleFree, inverseRelError: recoveredKeyError(key.inverses, o.trueKey.inverses).relative });
  }
  if (o.images && o.trueKey) {
    const x = await readAttackPixels(o.images, { limit: o.limit ?? 1000, channels: channels });
    const enc = new BlockCipher(o.trueKey);
    const dec = new BlockCipher(key);
    try {
      assertKeyChannels(x, channels, o.images);
      const psnr = noGrad(() => scope(() => psnrPerImage(clamp(dec.decrypt(enc.encrypt(x)), 0, 1), x)));
      report.decryptedPsnr = mean(psnr);
      report.images = x.shape[0];
    } finally {
      x.dispose();
      enc.dispose();
      dec.dispose();
    }
  }
  if (o.outKey) {
    await saveKey(key, o.outKey, 'matrices', { exclusive: !o.force });
    report.outKey = o.outKey;
  }
  return report;
}
