// Metrics: classification accuracy, PSNR and SSIM (Wang et al. 2004: 11×11 Gaussian window,
// σ = 1.5, K1 = 0.01, K2 = 0.03, as MATLAB's ssim and the DnCNN paper use).
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { argmax, mean, sum } from '../ops/reduction.ts';
import { eq } from '../ops/compare.ts';
import { add, div, mul, square, sub } from '../ops/arithmetic.ts';
import { conv2d } from '../ops/conv.ts';
import { mseLoss } from '../ops/loss.ts';

/** How many rows of logits [N, K] pick the label in labels [N]. */
export function correctCount(logits: Tensor, labels: Tensor): number {
  return noGrad(() => scope(() => sum(eq(argmax(logits, 1), labels)).item()));
}

/** PSNR in dB of each image of a batch [N, C, H, W] against the reference, for a peak of 1. */
export function psnrPerImage(output: Tensor, reference: Tensor): number[] {
  return noGrad(() =>
    scope(() => {
      const err = mean(square(sub(output, reference)), [1, 2, 3]);
      return err.toArray().map((mse) => (mse === 0 ? Infinity : -10 * Math.log10(mse)));
    }),
  );
}

/** Mean PSNR of a batch computed from the batch MSE (for progress lines during training). */
export function psnrOfMse(mse: number): number {
  return mse === 0 ? Infinity : -10 * Math.log10(mse);
}

function gaussianWindow(channels: number, size = 11, sigma = 1.5): Tensor {
  const g = Array.from({ length: size }, (_, i) => Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma * sigma)));
  const total = g.reduce((a, b) => a + b, 0);
  const w: number[] = [];
  for (let c = 0; c < channels; c++) for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) w.push((g[i] * g[j]) / (total * total));
  return tensor(w, [channels, 1, size, size]);
}

/**
 * SSIM of each image of a batch [N, C, H, W] in [0, 1] against the reference, averaged over the
 * valid window positions and channels (no padding, as MATLAB's 'valid' filtering).
 */
export function ssimPerImage(output: Tensor, reference: Tensor): number[] {
  return noGrad(() =>
    scope(() => {
      const channels = output.shape[1];
      const w = gaussianWindow(channels);
      const f = (x: Tensor) => conv2d(x, w, null, { groups: channels });
      const c1 = 0.01 ** 2;
      const c2 = 0.03 ** 2;
      const muX = f(output);
      const muY = f(reference);
      const muX2 = square(muX);
      const muY2 = square(muY);
      const muXY = mul(muX, muY);
      const sX = sub(f(square(output)), muX2);
      const sY = sub(f(square(reference)), muY2);
      const sXY = sub(f(mul(output, reference)), muXY);
      const num = mul(add(mul(muXY, 2), c1), add(mul(sXY, 2), c2));
      const den = mul(add(add(muX2, muY2), c1), add(add(sX, sY), c2));
      return mean(div(num, den), [1, 2, 3]).toArray();
    }),
  );
}

/** Mean squared error as a number. */
export function mse(output: Tensor, reference: Tensor): number {
  return noGrad(() => scope(() => mseLoss(output, reference).item()));
}
