// 'resample' decoys: a genuine kernel of the layer, turned and resized to fit the decoy's place.
// Every parametric draw before it ('joint', 'context') gives a decoy the layer's covariance but an
// elliptical (Gaussian-like) shape, while trained kernels are not Gaussian: their skewness,
// kurtosis and spatial autocorrelation, and how these go with their size, have a distribution of
// their own, and the attacker's classifier (src/audit/decoy-classifier.ts), trained on decoys he
// draws himself, learns the difference (separability 0.58 pooled and up to 0.89 in a layer on the
// shared ResNet-20 for 'context'). A resampled decoy starts from a genuine kernel and inherits it.
//
// With μ and L the mean and Cholesky factor of the kept kernels' covariance, y = L⁻¹(x − μ) a
// kernel's whitened coordinates and g_ab = r_a + c_b the row and column part of the log L2 norms
// (median polish over the kept kernels, as src/audit's contextResidual detector fits them), a decoy
// at (a, b) is made from a kept donor d picked uniformly from the stream:
//
//   u = y_d / |y_d| + h·z/√(kh·kw)     z standard normal: the donor's direction, turned;
//   decoy = e^(g_ab − g_d) · (μ + |y_d| · L · u/|u|)
//
// i.e. the donor with its own Mahalanobis radius and a direction turned by about atan(h) (45° at
// the default h = 1), then scaled as a whole (its mean too, as genuine kernels are) from the
// donor's row and column to the decoy's. Why these choices, measured on the shared models with
// experiments/protect/decoy-detectors.ts (random positions, best detector's pooled separability):
//   - without enough turn a decoy is a near-copy of its donor: the nearest-neighbour distance
//     finds it (0.71 at h = 0.5, 0.83 for a smoothed bootstrap at h = 0.3); with a uniform direction instead (h → ∞, 'context')
//     the shape statistics find it; h = 1 is between the two;
//   - scaling about μ instead of about 0 left the size statistics out of line with the row and
//     column (0.58 against 0.55 at h = 0.8).
// Donors are kept kernels only, which the published file shows anyway, so a decoy reveals nothing
// about the sealed kernels. Every random choice comes from the caller's stream.
//
// Known limits: the turn is isotropic Gaussian noise, so a decoy is more Gaussian than its donor;
// on kernels far heavier-tailed than trained ones (cubed normals) the classifier finds resampled
// decoys at 0.86 (context: 0.89). μ and L are the whole layer's: when rows differ in size by 16×,
// the turn, taken around the big rows' mean, makes small rows' decoys about 3× their neighbours'
// (1× to 4× is fine). Turning in row- and column-normalised space instead fixes that case but was
// worse on the shared ResNet-20 (0.61 against 0.54).
import { medianPolish } from './context.ts';
import { genuineKernelFit } from './gaussian.ts';

/** What resampled decoys take from a source of randomness: normals and uniform integers. */
export interface ResampleRandom {
  normal(n: number): Float64Array;
  int(maxExclusive: number): number;
}

/** h: how far a decoy's direction is turned from its donor's (relative to the direction's length). */
export const DEFAULT_TURN = 1;

const TINY = 1e-30;

/**
 * Decoys for the kernels flagged in `replaced` (ascending kernel order), of a layer [a, b, ks]
 * whose other kernels stay genuine. Falls back to every kernel as donor when fewer than two stay.
 */
export function resampleDecoys(values: Float64Array, a: number, b: number, ks: number, replaced: Uint8Array, rng: ResampleRandom, turn = DEFAULT_TURN): Float64Array {
  const kernels = a * b;
  const { kept, mean, l, donors, order } = genuineKernelFit(values, kernels, ks, replaced);

  // Row and column part of the kept kernels' log L2 norms.
  const logNorm = new Float64Array(kernels);
  for (let k = 0; k < kernels; k++) {
    let s2 = 0;
    for (let i = 0; i < ks; i++) s2 += values[k * ks + i] * values[k * ks + i];
    logNorm[k] = Math.log(Math.sqrt(s2) + TINY);
  }
  const fit = medianPolish(logNorm, a, b, kept);
  const context = (k: number) => fit.row[Math.floor(k / b)] + fit.col[k % b];

  const out = new Float64Array(order.length * ks);
  const y = new Float64Array(ks);
  const u = new Float64Array(ks);
  order.forEach((k, j) => {
    const d = donors[rng.int(donors.length)];
    const z = rng.normal(ks);
    // The donor's whitened coordinates y = L⁻¹(x_d − μ) and radius |y|.
    let radius = 0;
    for (let i = 0; i < ks; i++) {
      let s = values[d * ks + i] - mean[i];
      for (let q = 0; q < i; q++) s -= l[i * ks + q] * y[q];
      y[i] = s / l[i * ks + i];
      radius += y[i] * y[i];
    }
    radius = Math.sqrt(radius) || 1;
    let norm = 0;
    for (let i = 0; i < ks; i++) {
      u[i] = y[i] / radius + (turn * z[i]) / Math.sqrt(ks);
      norm += u[i] * u[i];
    }
    const size = radius / (Math.sqrt(norm) || 1);
    const rescale = Math.exp(context(k) - context(d));
    for (let i = 0; i < ks; i++) {
      let x = mean[i];
      for (let q = 0; q <= i; q++) x += l[i * ks + q] * size * u[q];
      out[j * ks + i] = rescale * x;
    }
  });
  return out;
}
