// Tiny models for the page's end-to-end test, made here (never ../shared/data): a ResNet-8
// classifier and a 3-layer DnCNN, each protected with 3 tiers (key files and tokens), an Encryption-Robust ResNet-8 for
// hill256 ciphertext with its cipher key file, a photo, and the offline answers the page's
// results are checked against (the same weights run directly in this thread).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { softmax } from '../../src/ops/activation.ts';
import { clamp, sub } from '../../src/ops/arithmetic.ts';
import { modelSpec } from '../../src/models/registry.ts';
import { openModel, saveWeights } from '../../src/models/index.ts';
import { normalisationFrom } from '../../src/data/normalisation.ts';
import { protectModel, unlockModel } from '../../src/protect/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { writePng } from '../../src/io/image.ts';
import { buildErModel, loadErModel, saveErModel } from '../../src/er/model-file.ts';
import { type CipherKey, deriveKey } from '../../src/cipher/key.ts';
import { serializeKey } from '../../src/cipher/key-file.ts';

export interface WebFixtures {
  dir: string;
  classifier: string;
  classifierKeys: string;
  /** tokens[m - 1] unlocks tier m. */
  tokens: string[];
  /** A 3-layer DnCNN (grayscale) protected with 3 tiers. */
  denoiser: string;
  denoiserKeys: string;
  denoiserTokens: string[];
  er: string;
  cipherKey: CipherKey;
  cipherKeyFile: string;
  /** An ER model for orthogonal (real-valued) ciphertext, and its key. */
  erReal: string;
  realKey: CipherKey;
  realKeyFile: string;
  /** A 32×32 RGB photo (PNG) and its CHW bytes. */
  photo: string;
  photoChw: Uint8Array;
}

export async function makeWebFixtures(): Promise<WebFixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-web-'));
  manualSeed(5);
  const resnet = modelSpec('resnet8').create(10);
  await saveWeights(resnet, join(dir, 'resnet8.safetensors'), { architecture: 'resnet8' });
  resnet.dispose();
  const protectedModel = await protectModel(join(dir, 'resnet8.safetensors'), { tiers: 3, ratio: 0.5, seed: 3 });
  const written = await protectedModel.write(join(dir, 'resnet8.protected.safetensors'), { keys: join(dir, 'resnet8.keys') });
  const dncnn = modelSpec('dncnn-3').create();
  await saveWeights(dncnn, join(dir, 'dncnn.safetensors'), { architecture: 'dncnn-3' });
  dncnn.dispose();
  const protectedDenoiser = await protectModel(join(dir, 'dncnn.safetensors'), { tiers: 3, ratio: 0.5, seed: 4 });
  const writtenDenoiser = await protectedDenoiser.write(join(dir, 'dncnn.protected.safetensors'), { keys: join(dir, 'dncnn.keys') });
  const cipherKey = deriveKey(
    new Uint8Array(32).map((_, i) => (i * 29 + 5) % 256),
    { kind: 'hill256', k: 4, channels: 3, shuffle: true },
  );
  const cipherKeyFile = join(dir, 'cipher-key.json');
  writeFileSync(cipherKeyFile, serializeKey(cipherKey), { mode: 0o600 });
  const spec = { architecture: 'resnet8', adaptation: 'aligned' as const, k: 4, channels: 3, numClasses: 10 };
  const er = buildErModel(spec);
  await saveErModel(join(dir, 'er.safetensors'), er, spec, cipherKey);
  er.dispose();
  const realKey = deriveKey(
    new Uint8Array(32).map((_, i) => (i * 31 + 9) % 256),
    { kind: 'orthogonal', k: 4, channels: 3 },
  );
  const realKeyFile = join(dir, 'orthogonal-key.json');
  writeFileSync(realKeyFile, serializeKey(realKey), { mode: 0o600 });
  const erReal = buildErModel(spec);
  await saveErModel(join(dir, 'er-real.safetensors'), erReal, spec, realKey);
  erReal.dispose();
  // A smooth colourful picture (gradients and a disc), so the screenshot shows an image.
  const photoChw = new Uint8Array(3 * 32 * 32);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const disc = (x - 20) ** 2 + (y - 12) ** 2 < 60;
      photoChw[y * 32 + x] = disc ? 230 : 40 + 5 * x;
      photoChw[1024 + y * 32 + x] = disc ? 180 : 60 + 4 * y;
      photoChw[2048 + y * 32 + x] = disc ? 30 : 200 - 3 * x;
    }
  }
  const photo = join(dir, 'photo.png');
  await writePng(photo, photoChw, 3, 32, 32);
  return {
    dir,
    classifier: written.model,
    classifierKeys: written.keys,
    tokens: protectedModel.tokens,
    denoiser: writtenDenoiser.model,
    denoiserKeys: writtenDenoiser.keys,
    denoiserTokens: protectedDenoiser.tokens,
    er: join(dir, 'er.safetensors'),
    cipherKey,
    cipherKeyFile,
    erReal: join(dir, 'er-real.safetensors'),
    realKey,
    realKeyFile,
    photo,
    photoChw,
  };
}

/** Offline softmax of the protected classifier at a tier, for CHW bytes of a 32×32 image. */
export async function offlineClassify(f: WebFixtures, tier: number, chw: Uint8Array): Promise<Float32Array> {
  const published = await readSafetensors(f.classifier);
  const file = tier === 0 ? published : (await unlockModel(published, f.tokens[f.tokens.length - 1], { tier })).file;
  const { model, metadata } = await openModel(file);
  const n = normalisationFrom(metadata);
  try {
    return noGrad(() =>
      scope(() => {
        const x = Float32Array.from(chw, (v, i) => (v / 255 - n.mean[Math.floor(i / 1024)]) / n.std[Math.floor(i / 1024)]);
        return softmax(model.forward(tensor(x, [1, 3, 32, 32])), 1).toTypedArray() as Float32Array;
      }),
    );
  } finally {
    model.dispose();
  }
}

/** Offline output of the protected denoiser at a tier: clamp(x − residual) in [0, 1], for grey bytes. */
export async function offlineDenoise(f: WebFixtures, tier: number, gray: Uint8Array, h: number, w: number): Promise<Float32Array> {
  const published = await readSafetensors(f.denoiser);
  const file = tier === 0 ? published : (await unlockModel(published, f.denoiserTokens[f.denoiserTokens.length - 1], { tier })).file;
  const { model } = await openModel(file);
  try {
    return noGrad(() =>
      scope(() => {
        const x = tensor(
          Float32Array.from(gray, (v) => v / 255),
          [1, 1, h, w],
        );
        return clamp(sub(x, model.forward(x)), 0, 1).toTypedArray() as Float32Array;
      }),
    );
  } finally {
    model.dispose();
  }
}

/** Offline softmax of an ER model: on hill256 ciphertext bytes (CHW, divided by 255) or real-valued ciphertext as it is. */
export async function offlineEr(f: WebFixtures, cipher: Uint8Array | Float32Array, path = f.er): Promise<Float32Array> {
  const { model } = await loadErModel(path);
  const x = cipher instanceof Uint8Array ? Float32Array.from(cipher, (v) => v / 255) : cipher;
  try {
    return noGrad(() => scope(() => softmax(model.forward(tensor(x, [1, 3, 32, 32])), 1).toTypedArray() as Float32Array));
  } finally {
    model.dispose();
  }
}

export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
