// Learned decryption as a workflow: a trained model (an Encryption-Robust model with an adaptation
// network), its key and plaintext test images; the adaptation output is scored against the
// plaintext (learned.ts) and optionally drawn. What `nnlock attack learned` runs. The model is
// passed in (src/er loads it): this folder does not depend on src/er.
import { type Tensor, noGrad, scope } from '../tensor/index.ts';
import { div } from '../ops/arithmetic.ts';
import { toDtype } from '../ops/convert.ts';
import { narrow } from '../ops/shape.ts';
import { type CipherKey, describeKey } from '../cipher/key.ts';
import { BlockCipher } from '../cipher/hill.ts';
import { encryptPixels } from '../cipher/data.ts';
import { assertKeyChannels, readAttackImages } from './image-input.ts';
import { type GridColumn, drawImageGrid, minMaxScale } from '../cipher/pictures.ts';
import { type AdaptingModel, type LearnedDecryptionReport, adaptedImages, learnedDecryption } from './learned.ts';

export interface LearnedAttackOptions {
  /** Score the first `limit` images of the data (default 1000). */
  limit?: number;
  /** Also write a PNG grid (ciphertext, adaptation output raw and fitted, plaintext). */
  grid?: string;
  /** Rows of the grid (default 8). */
  gridImages?: number;
}

/**
 * Encrypts the plaintext images of `data` (CIFAR-10 .bin or an image) with `key`, runs the model's
 * adaptation network on them and scores its output against the plaintext.
 */
export async function learnedAttack(model: AdaptingModel, key: CipherKey, data: string, o: LearnedAttackOptions = {}): Promise<LearnedDecryptionReport> {
  if (model.adaptation === null) throw new Error('the model has no adaptation network (trained with --adaptation none): nothing to score');
  const { x } = await readAttackImages(data, { limit: o.limit ?? 1000, channels: key.channels });
  const cipher = new BlockCipher(key);
  try {
    assertKeyChannels(x, key.channels, data);
    const report = noGrad(() =>
      scope(() => {
        const plain = div(toDtype(x, 'float32'), 255);
        return learnedDecryption(model, encryptPixels(plain, cipher), plain);
      }),
    );
    if (o.grid) await writeLearnedGrid(o.grid, model, cipher, x, o.gridImages ?? 8);
    return report;
  } finally {
    x.dispose();
    cipher.dispose();
  }
}

/**
 * The picture grid for the first `count` images of plaintext bytes x [N, C, H, W]: ciphertext,
 * adaptation output raw and after the per-channel oracle fit (fitted on all of x), plaintext.
 */
export async function writeLearnedGrid(path: string, model: AdaptingModel, cipher: BlockCipher, x: Tensor, count = 8): Promise<void> {
  const n = Math.min(count, x.shape[0]);
  await drawImageGrid(
    path,
    () => {
      const plain = div(toDtype(x, 'float32'), 255);
      const input = encryptPixels(plain, cipher);
      const shown = cipher.key.kind === 'hill256' ? input : minMaxScale(input);
      const first = (t: Tensor) => narrow(t, 0, 0, n);
      if (model.adaptation === null)
        return [
          { title: 'ciphertext', images: first(shown) },
          { title: 'plaintext', images: first(plain) },
        ];
      const { raw, fitted } = adaptedImages(model, input, plain);
      const cols: GridColumn[] = [
        { title: 'ciphertext', images: first(shown) },
        { title: 'adapted (raw)', images: first(raw) },
        { title: 'adapted (fit)', images: first(fitted) },
        { title: 'plaintext', images: first(plain) },
      ];
      return cols;
    },
    { count: n },
  );
}

/** The report as Markdown; `model` names the model (e.g. its file name), `adaptation` its network variant. */
export function learnedMarkdown(model: string, adaptation: string, key: CipherKey, r: LearnedDecryptionReport): string {
  const row = (name: string, q: { psnr: number; ssim: number }) => `| ${name} | ${q.psnr.toFixed(2)} | ${q.ssim.toFixed(4)} |`;
  return [
    `# Learned decryption by ${model}`,
    '',
    `- key: ${describeKey(key)}`,
    `- adaptation network: ${adaptation}; ${r.images} test images`,
    '',
    '| output compared with the plaintext | PSNR (dB) | SSIM |',
    '|---|---:|---:|',
    row('adaptation output, raw (clamped to [0, 1])', r.raw),
    row('adaptation output, per-channel affine fit (oracle)', r.perChannelAffine),
    row('adaptation output, colour affine fit (oracle)', r.colourAffine),
    row('ciphertext, per-channel affine fit (oracle) — baseline', r.ciphertextPerChannelAffine),
    '',
    `Per-channel fit: scale ${r.perChannelAffine.scale.map((v) => v.toPrecision(3)).join(', ')}; offset ${r.perChannelAffine.offset.map((v) => v.toPrecision(3)).join(', ')}.`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
