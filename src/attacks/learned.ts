// Learned decryption: after training an Encryption-Robust model on ciphertexts with class labels
// only, how much does its adaptation network's output look like the plaintext?
//
// The adaptation output lives in whatever space the backbone found convenient: possibly scaled,
// shifted, negated or colour-mixed relative to the plaintext. So three figures are reported, each
// PSNR (dB, peak 1) and SSIM (Gaussian window, as src/train/metrics.ts) against the plaintext in [0, 1]:
//
//   raw                the output as it is, clamped to [0, 1]: what an attacker gets for free
//   perChannelAffine   a·out_c + b per channel, a and b fitted by least squares AGAINST THE
//                      PLAINTEXT (an oracle fit: an upper bound on what a linear recolouring of the
//                      output can recover; an attacker would have to guess it), clamped to [0, 1]
//   colourAffine       out·A + b with a full C×C matrix A (cross-channel), same oracle fit
//
// The same per-channel fit applied to the ciphertext itself is reported as a baseline: the
// information visible without any learning.
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { cat, permute, reshape, narrow } from '../ops/shape.ts';
import { add, clamp, mul } from '../ops/arithmetic.ts';
import { sum } from '../ops/reduction.ts';
import { ones } from '../ops/creation.ts';
import { toDevice, toDtype } from '../ops/convert.ts';
import { linalgLstsq } from '../ops/linalg.ts';
import { matmul } from '../ops/linear.ts';
import { psnrPerImage, ssimPerImage } from '../train/metrics.ts';

/**
 * What the attack needs of a trained model: the adaptation network's output. Structural, so this
 * attack does not depend on src/er (which builds the models it is aimed at).
 */
export interface AdaptingModel {
  readonly training: boolean;
  eval(): unknown;
  train(on?: boolean): unknown;
  adapt(x: Tensor): Tensor;
  /** The adaptation network, when the model reports whether it has one (null: it has none). */
  readonly adaptation?: unknown;
  /** Where the model runs (a Module's device); the images are moved there. Default 'cpu'. */
  readonly device?: string;
}

export interface Quality {
  psnr: number;
  ssim: number;
}

export interface LearnedDecryptionReport {
  images: number;
  raw: Quality;
  perChannelAffine: Quality & { scale: number[]; offset: number[] };
  colourAffine: Quality & { matrix: number[][]; offset: number[] };
  /** The ciphertext (network input) under the same per-channel oracle fit. */
  ciphertextPerChannelAffine: Quality;
  notes: string[];
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);

/** Mean PSNR (finite values; Infinity when all are exact) and mean SSIM over images, batch by batch. */
export function quality(output: Tensor, reference: Tensor, batchSize = 256): Quality {
  const psnrs: number[] = [];
  const ssims: number[] = [];
  const n = output.shape[0];
  for (let s = 0; s < n; s += batchSize) {
    const m = Math.min(batchSize, n - s);
    scope(() => {
      const o = narrow(output, 0, s, m);
      const r = narrow(reference, 0, s, m);
      psnrs.push(...psnrPerImage(o, r));
      ssims.push(...ssimPerImage(o, r));
    });
  }
  const finite = psnrs.filter(Number.isFinite);
  return { psnr: finite.length ? mean(finite) : Infinity, ssim: mean(ssims) };
}

/** Least-squares a, b per channel with a·out_c + b ≈ ref_c over every pixel of every image. */
export function perChannelAffineFit(out: Tensor, ref: Tensor): { scale: number[]; offset: number[] } {
  return noGrad(() =>
    scope(() => {
      const o = toDtype(out, 'float64');
      const r = toDtype(ref, 'float64');
      const count = out.numel / out.shape[1];
      const so = sum(o, [0, 2, 3]).toArray();
      const sr = sum(r, [0, 2, 3]).toArray();
      const soo = sum(mul(o, o), [0, 2, 3]).toArray();
      const sor = sum(mul(o, r), [0, 2, 3]).toArray();
      const scale: number[] = [];
      const offset: number[] = [];
      for (let c = 0; c < so.length; c++) {
        const varO = soo[c] / count - (so[c] / count) ** 2;
        const cov = sor[c] / count - (so[c] / count) * (sr[c] / count);
        const a = varO > 1e-20 ? cov / varO : 0;
        scale.push(a);
        offset.push(sr[c] / count - a * (so[c] / count));
      }
      return { scale, offset };
    }),
  );
}

function applyPerChannel(out: Tensor, fit: { scale: number[]; offset: number[] }): Tensor {
  return scope(() => {
    const c = fit.scale.length;
    const a = tensor(fit.scale, [1, c, 1, 1]);
    const b = tensor(fit.offset, [1, c, 1, 1]);
    return clamp(add(mul(out, a), b), 0, 1);
  });
}

/** Full colour affine fit: pixels [P, C] · A [C, C] + b ≈ reference pixels. */
function colourAffine(out: Tensor, ref: Tensor): { fitted: Tensor; matrix: number[][]; offset: number[] } {
  return noGrad(() =>
    scope(() => {
      const [n, c, h, w] = out.shape;
      const pix = (t: Tensor) => reshape(permute(toDtype(t, 'float64'), [0, 2, 3, 1]), [n * h * w, c]);
      const design = cat([pix(out), ones([n * h * w, 1], { dtype: 'float64' })], 1);
      const { solution } = linalgLstsq(design, pix(ref), { driver: 'gelsd' });
      const fittedPix = matmul(design, solution);
      const fitted = clamp(toDtype(permute(reshape(fittedPix, [n, h, w, c]), [0, 3, 1, 2]), 'float32'), 0, 1);
      const sol = solution.toArray();
      const matrix = Array.from({ length: c }, (_, i) => sol.slice(i * c, (i + 1) * c));
      const offset = sol.slice(c * c, c * c + c);
      return { fitted, matrix, offset };
    }),
  );
}

/**
 * Runs the model's adaptation network on `input` (the ciphertext as the network sees it) and scores
 * its output against `plain` (pixels in [0, 1]), both [N, C, H, W].
 */
export function learnedDecryption(model: AdaptingModel, cpuInput: Tensor, cpuPlain: Tensor, o: { batchSize?: number } = {}): LearnedDecryptionReport {
  const batch = o.batchSize ?? 256;
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() =>
      scope(() => {
        const input = toDevice(cpuInput, model.device ?? 'cpu');
        const plain = toDevice(cpuPlain, model.device ?? 'cpu');
        const n = input.shape[0];
        const parts: Tensor[] = [];
        for (let s = 0; s < n; s += batch) {
          const m = Math.min(batch, n - s);
          parts.push(scope(() => model.adapt(narrow(input, 0, s, m))));
        }
        const out = parts.length === 1 ? parts[0] : cat(parts, 0);
        const raw = quality(clamp(out, 0, 1), plain);
        const fit = perChannelAffineFit(out, plain);
        const affine = quality(applyPerChannel(out, fit), plain);
        const colour = colourAffine(out, plain);
        const colourQ = quality(colour.fitted, plain);
        const cfit = perChannelAffineFit(input, plain);
        const cq = quality(applyPerChannel(input, cfit), plain);
        const notes = [
          'raw: adaptation output clamped to [0, 1], no fitting.',
          'perChannelAffine and colourAffine are fitted by least squares against the plaintext itself (oracle fits): upper bounds for a linear recolouring, not something an attacker gets for free.',
          'ciphertextPerChannelAffine: the ciphertext under the same oracle fit, the baseline without learning.',
        ];
        return {
          images: n,
          raw,
          perChannelAffine: { ...affine, ...fit },
          colourAffine: { ...colourQ, matrix: colour.matrix, offset: colour.offset },
          ciphertextPerChannelAffine: cq,
          notes,
        };
      }),
    );
  } finally {
    model.train(wasTraining);
  }
}

/** Adaptation outputs (raw) and their per-channel oracle fit, for pictures. */
export function adaptedImages(model: AdaptingModel, cpuInput: Tensor, cpuPlain: Tensor): { raw: Tensor; fitted: Tensor } {
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() =>
      scope(() => {
        const input = toDevice(cpuInput, model.device ?? 'cpu');
        const plain = toDevice(cpuPlain, model.device ?? 'cpu');
        const out = model.adapt(input);
        const fit = perChannelAffineFit(out, plain);
        return { raw: clamp(out, 0, 1), fitted: applyPerChannel(out, fit) };
      }),
    );
  } finally {
    model.train(wasTraining);
  }
}
