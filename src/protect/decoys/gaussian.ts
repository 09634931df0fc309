// The joint Gaussian of a layer's kernels: the mean and the kh·kw × kh·kw covariance over a set of
// its kernels, and a Cholesky factor of that covariance to draw from it. Plain float64 JavaScript
// (like src/linalg): the decoys drawn from it must be bit-identical on every machine for a given
// key, whatever BLAS libtorch was built with.

/** Mean and (unbiased) covariance of the kernels `kernelsOf` of a layer (values kernel after kernel). */
export interface KernelMoments {
  /** kernelSize values. */
  mean: Float64Array;
  /** kernelSize × kernelSize, row-major, symmetric. */
  cov: Float64Array;
  /** How many kernels the moments are over. */
  count: number;
}

/**
 * Moments over the kernels whose `include` flag is set (every kernel when omitted). With one
 * kernel the covariance is 0.
 */
export function kernelMoments(values: Float64Array, kernels: number, kernelSize: number, include?: Uint8Array): KernelMoments {
  const n = kernelSize;
  const mean = new Float64Array(n);
  let count = 0;
  for (let k = 0; k < kernels; k++) {
    if (include && !include[k]) continue;
    count++;
    for (let p = 0; p < n; p++) mean[p] += values[k * n + p];
  }
  if (count === 0) throw new RangeError('kernelMoments: no kernel to take moments over');
  for (let p = 0; p < n; p++) mean[p] /= count;
  const cov = new Float64Array(n * n);
  if (count > 1) {
    const d = new Float64Array(n);
    for (let k = 0; k < kernels; k++) {
      if (include && !include[k]) continue;
      for (let p = 0; p < n; p++) d[p] = values[k * n + p] - mean[p];
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) cov[i * n + j] += d[i] * d[j];
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        cov[i * n + j] /= count - 1;
        cov[j * n + i] = cov[i * n + j];
      }
    }
  }
  return { mean, cov, count };
}

/** The lower Cholesky factor of a symmetric matrix, or null when it is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(sum > 0)) return null;
        l[i * n + i] = Math.sqrt(sum);
      } else l[i * n + j] = sum / l[j * n + j];
    }
  }
  return l;
}

export interface ShrunkFactor {
  /** Lower Cholesky factor of (1 − λ)·Σ + λ·diag(Σ) (+ a floor when diag(Σ) has zeros). */
  l: Float64Array;
  /** λ: 0 when Σ itself is positive definite. */
  shrinkage: number;
}

const SHRINKAGE_STEPS = [0, 1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.5, 1];

/**
 * A Cholesky factor of the covariance, shrunk toward its diagonal only as far as needed to make it
 * positive definite (fewer kernels than kh·kw, or duplicated kernels, make it singular). A
 * zero-variance position gets a tiny floor so the factor exists; it then draws (almost) constants.
 */
export function shrunkCholesky(cov: Float64Array, n: number): ShrunkFactor {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += cov[i * n + i];
  const floor = trace > 0 ? 1e-12 * (trace / n) : 1e-30;
  const m = new Float64Array(n * n);
  for (const lambda of SHRINKAGE_STEPS) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) m[i * n + j] = i === j ? Math.max(cov[i * n + i], floor) : (1 - lambda) * cov[i * n + j];
    }
    const l = cholesky(m, n);
    if (l) return { l, shrinkage: lambda };
  }
  throw new Error('shrunkCholesky: no positive-definite covariance (non-finite values?)');
}

/**
 * What decoys for the `replaced` kernels of a layer (kernels × ks values) are fitted on: the
 * kernels that stay genuine (at least two: with fewer, decoys would imitate the sealed kernels, so
 * decoys.ts draws fresh-init ones instead and never calls this), their mean and the shrunk
 * Cholesky factor of their covariance, the donors (the genuine kernels, ascending) and the kernels
 * to replace (ascending, the order their decoys come out in).
 */
export function genuineKernelFit(
  values: Float64Array,
  kernels: number,
  ks: number,
  replaced: Uint8Array,
): { kept: Uint8Array; mean: Float64Array; l: Float64Array; donors: number[]; order: number[] } {
  let keptCount = 0;
  for (let k = 0; k < kernels; k++) if (!replaced[k]) keptCount++;
  if (keptCount < 2) throw new RangeError(`decoys are fitted on the genuine kernels: ${keptCount} of ${kernels} stay (fewer than two: use fresh-init decoys)`);
  const kept = replaced.map((r) => (r ? 0 : 1));
  const { mean, cov } = kernelMoments(values, kernels, ks, kept);
  const { l } = shrunkCholesky(cov, ks);
  const donors: number[] = [];
  const order: number[] = [];
  for (let k = 0; k < kernels; k++) {
    if (kept[k]) donors.push(k);
    if (replaced[k]) order.push(k);
  }
  return { kept, mean, l, donors, order };
}

/** Squared Mahalanobis distances of every kernel to `mean` under the factor L (Σ = L·Lᵀ). */
export function mahalanobis(values: Float64Array, kernels: number, n: number, mean: Float64Array, l: Float64Array): Float64Array {
  const out = new Float64Array(kernels);
  const y = new Float64Array(n);
  for (let k = 0; k < kernels; k++) {
    let d2 = 0;
    for (let i = 0; i < n; i++) {
      let s = values[k * n + i] - mean[i];
      for (let j = 0; j < i; j++) s -= l[i * n + j] * y[j];
      y[i] = s / l[i * n + i];
      d2 += y[i] * y[i];
    }
    out[k] = d2;
  }
  return out;
}
