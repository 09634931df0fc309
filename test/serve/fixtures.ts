// Tiny models for the service tests, made here (never ../shared/data): a ResNet-8 classifier and a
// 3-layer DnCNN, both protected with 3 tiers and written with their key files; an Encryption-Robust
// ResNet-8 for hill256 ciphertext; and the offline results the server's answers are checked
// against (the same weights unlocked in this thread, run directly).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { softmax } from '../../src/ops/activation.ts';
import { clamp, sub } from '../../src/ops/arithmetic.ts';
import { modelSpec } from '../../src/models/registry.ts';
import { openModel, saveWeights } from '../../src/models/index.ts';
import { normalisationFrom } from '../../src/data/normalisation.ts';
import { protectModel, unlockModel } from '../../src/protect/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { buildErModel, loadErModel, saveErModel } from '../../src/er/model-file.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';

export interface Fixtures {
  dir: string;
  classifier: string;
  classifierKeys: string;
  /** Tier tokens of the classifier, tokens[m - 1] of tier m. */
  classifierTokens: string[];
  denoiser: string;
  denoiserKeys: string;
  denoiserTokens: string[];
  er: string;
  cipherSecret: Uint8Array;
}

/** Makes and writes the models (a few seconds). */
export async function makeFixtures(): Promise<Fixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'nnlock-serve-'));
  manualSeed(11);
  const resnet = modelSpec('resnet8').create(10);
  await saveWeights(resnet, join(dir, 'resnet8.safetensors'), { architecture: 'resnet8' });
  resnet.dispose();
  const pc = await protectModel(join(dir, 'resnet8.safetensors'), { tiers: 3, ratio: 0.3, seed: 1 });
  const c = await pc.write(join(dir, 'resnet8.protected.safetensors'), { keys: join(dir, 'resnet8.keys') });
  const dncnn = modelSpec('dncnn-3').create();
  await saveWeights(dncnn, join(dir, 'dncnn.safetensors'), { architecture: 'dncnn-3' });
  dncnn.dispose();
  const pd = await protectModel(join(dir, 'dncnn.safetensors'), { tiers: 3, ratio: 0.3, seed: 2 });
  const d = await pd.write(join(dir, 'dncnn.protected.safetensors'), { keys: join(dir, 'dncnn.keys') });
  const cipherSecret = new Uint8Array(32).map((_, i) => i * 7 + 3);
  const key = deriveKey(cipherSecret, { kind: 'hill256', k: 4, channels: 3 });
  const spec = { architecture: 'resnet8', adaptation: 'aligned' as const, k: 4, channels: 3, numClasses: 10 };
  const er = buildErModel(spec);
  await saveErModel(join(dir, 'er.safetensors'), er, spec, key);
  er.dispose();
  return {
    dir,
    classifier: c.model,
    classifierKeys: c.keys,
    classifierTokens: pc.tokens,
    denoiser: d.model,
    denoiserKeys: d.keys,
    denoiserTokens: pd.tokens,
    er: join(dir, 'er.safetensors'),
    cipherSecret,
  };
}

/** A random RGB (or grey) image as PNG, and its CHW bytes. */
export async function randomPng(seed: number, width = 32, height = 32, channels: 1 | 3 = 3): Promise<{ png: Buffer; chw: Uint8Array }> {
  let s = seed * 2654435761;
  const hwc = new Uint8Array(width * height * channels).map(() => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  });
  const raw = sharp(hwc, { raw: { width, height, channels } });
  const png = await (channels === 1 ? raw.toColourspace('b-w') : raw).png().toBuffer();
  const plane = width * height;
  const chw = new Uint8Array(hwc.length);
  for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) chw[c * plane + p] = hwc[p * channels + c];
  return { png, chw };
}

/** The tier-m weights of a protected file, as the owner would have them offline. */
async function tierFile(path: string, tokens: string[], tier: number) {
  const file = await readSafetensors(path);
  if (tier === 0) return file;
  return (await unlockModel(file, tokens[tokens.length - 1], { tier })).file;
}

/** Offline softmax probabilities of the classifier at a tier, for CHW byte images. */
export async function offlineClassify(path: string, tokens: string[], tier: number, images: Uint8Array[]): Promise<Float32Array[]> {
  const file = await tierFile(path, tokens, tier);
  const { model, metadata } = await openModel(file);
  const n = normalisationFrom(metadata);
  try {
    return images.map((chw) =>
      noGrad(() =>
        scope(() => {
          const plane = chw.length / 3;
          const x = Float32Array.from(chw, (v, i) => (v / 255 - n.mean[Math.floor(i / plane)]) / n.std[Math.floor(i / plane)]);
          return softmax(model.forward(tensor(x, [1, 3, 32, 32])), 1).toTypedArray() as Float32Array;
        }),
      ),
    );
  } finally {
    model.dispose();
  }
}

/** Offline denoised grayscale image (values in [0, 1]) at a tier. */
export async function offlineDenoise(path: string, tokens: string[], tier: number, gray: Float32Array, h: number, w: number): Promise<Float32Array> {
  const { model } = await openModel(await tierFile(path, tokens, tier));
  try {
    return noGrad(() =>
      scope(() => {
        const x = tensor(gray, [1, 1, h, w]);
        return clamp(sub(x, model.forward(x)), 0, 1).toTypedArray() as Float32Array;
      }),
    );
  } finally {
    model.dispose();
  }
}

/** Offline probabilities of the ER model on hill256 ciphertext bytes (CHW). */
export async function offlineEr(path: string, cipherBytes: Uint8Array): Promise<Float32Array> {
  const { model } = await loadErModel(path);
  try {
    return noGrad(() =>
      scope(
        () =>
          softmax(
            model.forward(
              tensor(
                Float32Array.from(cipherBytes, (v) => v / 255),
                [1, 3, 32, 32],
              ),
            ),
            1,
          ).toTypedArray() as Float32Array,
      ),
    );
  } finally {
    model.dispose();
  }
}

/** hill256 ciphertext bytes (CHW) of plaintext bytes, with the fixtures' key. */
export function hillEncrypt(secret: Uint8Array, chw: Uint8Array): Uint8Array {
  const key = deriveKey(secret, { kind: 'hill256', k: 4, channels: 3 });
  const cipher = new BlockCipher(key);
  try {
    return noGrad(() => scope(() => cipher.encrypt(tensor(chw, [1, 3, 32, 32])).toTypedArray() as Uint8Array));
  } finally {
    cipher.dispose();
  }
}

/** Index of the largest value. */
export function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
