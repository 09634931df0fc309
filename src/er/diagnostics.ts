// What a trained Encryption-Robust model's adaptation network learned, shown two ways: its
// learned decryption (PSNR/SSIM of its output against the plaintext, raw and after oracle affine
// fits: src/attacks/learned.ts) and a picture grid. `nnlock er eval --decryption`, `nnlock er
// show` and the cipher experiments all use this one function.
import { type Tensor, noGrad, scope } from '../tensor/index.ts';
import { div } from '../ops/arithmetic.ts';
import { toDevice, toDtype } from '../ops/convert.ts';
import { narrow } from '../ops/shape.ts';
import type { BlockCipher } from '../cipher/hill.ts';
import { encryptPixels } from '../cipher/data.ts';
import { type LearnedDecryptionReport, adaptedImages, learnedDecryption } from '../attacks/learned.ts';
import type { EncryptionRobustModel } from './model.ts';
import { type GridColumn, minMaxScale, writeImageGrid } from '../cipher/pictures.ts';

export interface DecryptionDiagnosticsOptions {
  /**
   * Also write a PNG grid to `path`: one row per image (the first `rows`, default 8), columns
   * ciphertext (real kinds min–max scaled per image and channel; hill256 as its bytes), adaptation
   * output raw (clamped to [0, 1]), the same min–max scaled, the same after the per-channel affine
   * oracle fit (fitted over every image given), plaintext. A model without an adaptation network
   * gets ciphertext and plaintext only.
   */
  grid?: { path: string; rows?: number; tileSize?: number };
}

export interface DecryptionDiagnostics {
  /** Learned decryption over every image given; null for a model without an adaptation network. */
  report: LearnedDecryptionReport | null;
  /** The grid written, if asked. */
  grid?: string;
}

/**
 * Encrypts `images` (plaintext [N, C, H, W]: uint8 bytes, or float pixels in [0, 1]) with `cipher`
 * and scores `model`'s adaptation output against them; optionally writes the picture grid.
 */
export async function decryptionDiagnostics(model: EncryptionRobustModel, cipher: BlockCipher, images: Tensor, o: DecryptionDiagnosticsOptions = {}): Promise<DecryptionDiagnostics> {
  const rows = Math.min(o.grid?.rows ?? 8, images.shape[0]);
  const { report, columns } = noGrad(() =>
    scope(() => {
      // Encrypted where the images are, then scored where the model is.
      const cpuPlain = images.dtype === 'uint8' ? div(toDtype(images, 'float32'), 255) : images;
      const input = toDevice(encryptPixels(cpuPlain, cipher), model.device);
      const plain = toDevice(cpuPlain, model.device);
      const shown = cipher.key.kind === 'hill256' ? input : minMaxScale(input);
      const first = (x: Tensor) => narrow(x, 0, 0, rows);
      if (!model.adaptation) {
        return {
          report: null,
          columns: o.grid
            ? [
                { title: 'ciphertext', images: first(shown) },
                { title: 'plaintext', images: first(plain) },
              ]
            : [],
        };
      }
      const r = learnedDecryption(model, input, plain);
      if (!o.grid) return { report: r, columns: [] as GridColumn[] };
      const { raw, fitted } = adaptedImages(model, input, plain);
      return {
        report: r,
        columns: [
          { title: 'ciphertext', images: first(shown) },
          { title: 'adapted (raw)', images: first(raw) },
          { title: 'adapted (min-max)', images: first(minMaxScale(model.adapt(input))) },
          { title: 'adapted (fit)', images: first(fitted) },
          { title: 'plaintext', images: first(plain) },
        ],
      };
    }),
  );
  try {
    if (o.grid) await writeImageGrid(o.grid.path, columns, { count: rows, tileSize: o.grid.tileSize });
  } finally {
    for (const c of columns) c.images.dispose();
  }
  return { report, ...(o.grid ? { grid: o.grid.path } : {}) };
}

/**
 * A learned-decryption report as flat numbers (a round's metrics): PSNR (dB) and SSIM of the
 * adaptation output raw (clamped), after the per-channel and the colour affine oracle fits, and the
 * ciphertext's own per-channel fit (the baseline without learning).
 */
export function decryptionMetrics(r: LearnedDecryptionReport): Record<string, number> {
  return {
    decryptionImages: r.images,
    decryptionPsnrRaw: r.raw.psnr,
    decryptionSsimRaw: r.raw.ssim,
    decryptionPsnrAffine: r.perChannelAffine.psnr,
    decryptionSsimAffine: r.perChannelAffine.ssim,
    decryptionPsnrColour: r.colourAffine.psnr,
    decryptionSsimColour: r.colourAffine.ssim,
    ciphertextPsnrAffine: r.ciphertextPerChannelAffine.psnr,
  };
}
