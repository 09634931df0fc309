// What an attacker can compute about each kernel of a published conv layer, from the file alone:
// the statistics the decoy detectors threshold and the decoy classifier learns from. A layer is
// its weight [A, B, kh, kw] as float64, kernel (a, b) at flat index a·B + b.
import { cholesky, kernelMoments, mahalanobis, shrunkCholesky } from '../protect/decoys/gaussian.ts';

export interface LayerValues {
  values: Float64Array;
  shape: readonly [number, number, number, number];
}

/** The per-kernel features, each a Float64Array over the A·B kernels. */
export const FEATURES = ['l1', 'l2', 'maxAbs', 'mean', 'std', 'skewness', 'kurtosis', 'autocorrelation', 'mahalanobis', 'diagonalVsFull', 'contextResidual', 'nearestNeighbour'] as const;
export type Feature = (typeof FEATURES)[number];
export type KernelFeatures = Record<Feature, Float64Array>;

function kernelCount(l: LayerValues): { kernels: number; ks: number } {
  const [a, b, kh, kw] = l.shape;
  return { kernels: a * b, ks: kh * kw };
}

/** Norms and moments of each kernel's kh·kw values. */
function momentFeatures(l: LayerValues): Pick<KernelFeatures, 'l1' | 'l2' | 'maxAbs' | 'mean' | 'std' | 'skewness' | 'kurtosis'> {
  const { kernels, ks } = kernelCount(l);
  const f = {
    l1: new Float64Array(kernels),
    l2: new Float64Array(kernels),
    maxAbs: new Float64Array(kernels),
    mean: new Float64Array(kernels),
    std: new Float64Array(kernels),
    skewness: new Float64Array(kernels),
    kurtosis: new Float64Array(kernels),
  };
  const v = l.values;
  for (let k = 0; k < kernels; k++) {
    let s1 = 0,
      s2 = 0,
      mx = 0,
      m = 0;
    for (let q = 0; q < ks; q++) {
      const x = v[k * ks + q];
      s1 += Math.abs(x);
      s2 += x * x;
      mx = Math.max(mx, Math.abs(x));
      m += x;
    }
    m /= ks;
    let c2 = 0,
      c3 = 0,
      c4 = 0;
    for (let q = 0; q < ks; q++) {
      const d = v[k * ks + q] - m;
      c2 += d * d;
      c3 += d * d * d;
      c4 += d * d * d * d;
    }
    c2 /= ks;
    c3 /= ks;
    c4 /= ks;
    f.l1[k] = s1;
    f.l2[k] = Math.sqrt(s2);
    f.maxAbs[k] = mx;
    f.mean[k] = m;
    f.std[k] = Math.sqrt(c2);
    f.skewness[k] = c2 > 0 ? c3 / c2 ** 1.5 : 0;
    f.kurtosis[k] = c2 > 0 ? c4 / (c2 * c2) : 0;
  }
  return f;
}

/**
 * Lag-1 spatial autocorrelation inside each kernel: Σ over horizontally and vertically adjacent
 * pairs of the mean-centred values' products, over Σ of their squares (0 for 1×1 kernels).
 */
export function spatialAutocorrelation(l: LayerValues): Float64Array {
  const [a, b, kh, kw] = l.shape;
  const ks = kh * kw;
  const out = new Float64Array(a * b);
  const d = new Float64Array(ks);
  for (let k = 0; k < a * b; k++) {
    let m = 0;
    for (let q = 0; q < ks; q++) m += l.values[k * ks + q];
    m /= ks;
    let den = 0;
    for (let q = 0; q < ks; q++) {
      d[q] = l.values[k * ks + q] - m;
      den += d[q] * d[q];
    }
    let num = 0;
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        if (j + 1 < kw) num += d[i * kw + j] * d[i * kw + j + 1];
        if (i + 1 < kh) num += d[i * kw + j] * d[(i + 1) * kw + j];
      }
    }
    out[k] = den > 0 ? num / den : 0;
  }
  return out;
}

/**
 * The audit's keyless test (exp3): log N_diag(x) − log N_full(x) under the layer's mean and
 * covariance, i.e. how much better independent positions explain the kernel than correlated ones.
 * Also returns the squared Mahalanobis distances under the full covariance.
 */
function gaussianFeatures(l: LayerValues): Pick<KernelFeatures, 'mahalanobis' | 'diagonalVsFull'> {
  const { kernels, ks } = kernelCount(l);
  const { mean, cov } = kernelMoments(l.values, kernels, ks);
  const full = shrunkCholesky(cov, ks).l;
  const diagCov = new Float64Array(ks * ks);
  for (let i = 0; i < ks; i++) diagCov[i * ks + i] = Math.max(cov[i * ks + i], 1e-30);
  const diag = cholesky(diagCov, ks)!;
  const dFull = mahalanobis(l.values, kernels, ks, mean, full);
  const dDiag = mahalanobis(l.values, kernels, ks, mean, diag);
  let logDetFull = 0,
    logDetDiag = 0;
  for (let i = 0; i < ks; i++) {
    logDetFull += 2 * Math.log(full[i * ks + i]);
    logDetDiag += 2 * Math.log(diag[i * ks + i]);
  }
  const lr = Float64Array.from(dFull, (f, k) => -0.5 * dDiag[k] - 0.5 * logDetDiag + 0.5 * f + 0.5 * logDetFull);
  return { mahalanobis: dFull, diagonalVsFull: lr };
}

function median(v: Float64Array): number {
  const s = Float64Array.from(v).sort();
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/**
 * "Statistics that differ from the neighbours'": kernel (a, b) shares its output channel a with
 * the kernels of row a and its input channel b with those of column b, and a genuine kernel's
 * log-norm follows an additive row + column model (median polish, two sweeps). The residual of a
 * kernel from that model; a decoy drawn from the whole layer ignores its row and column.
 */
export function contextResidual(l: LayerValues, l2: Float64Array): Float64Array {
  const [a, b] = l.shape;
  const r = Float64Array.from(l2, (x) => Math.log(x + 1e-12));
  const overall = median(r);
  for (let k = 0; k < r.length; k++) r[k] -= overall;
  const row = new Float64Array(b);
  const col = new Float64Array(a);
  for (let sweep = 0; sweep < 2; sweep++) {
    if (b > 1) {
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < b; j++) row[j] = r[i * b + j];
        const m = median(row);
        for (let j = 0; j < b; j++) r[i * b + j] -= m;
      }
    }
    if (a > 1) {
      for (let j = 0; j < b; j++) {
        for (let i = 0; i < a; i++) col[i] = r[i * b + j];
        const m = median(col);
        for (let i = 0; i < a; i++) r[i * b + j] -= m;
      }
    }
  }
  return r;
}

/**
 * The row + column part of each kernel's log-norm (log-norm minus the contextResidual): large
 * where the kernel's output and input channels carry large kernels, whatever the kernel itself is.
 */
export function rowColumnEffect(l: LayerValues, l2: Float64Array): Float64Array {
  const r = contextResidual(l, l2);
  return Float64Array.from(l2, (x, k) => Math.log(x + 1e-12) - r[k]);
}

/**
 * Distance from each kernel to its nearest other kernel of the layer, in the layer's whitened
 * coordinates: what finds decoys copied (or nearly copied) from genuine kernels.
 */
export function nearestNeighbourDistance(l: LayerValues): Float64Array {
  const { kernels, ks } = kernelCount(l);
  const { mean, cov } = kernelMoments(l.values, kernels, ks);
  const L = shrunkCholesky(cov, ks).l;
  // Whiten: y = L⁻¹(x − μ).
  const w = new Float64Array(kernels * ks);
  for (let k = 0; k < kernels; k++) {
    for (let i = 0; i < ks; i++) {
      let s = l.values[k * ks + i] - mean[i];
      for (let j = 0; j < i; j++) s -= L[i * ks + j] * w[k * ks + j];
      w[k * ks + i] = s / L[i * ks + i];
    }
  }
  const best = new Float64Array(kernels).fill(Number.POSITIVE_INFINITY);
  for (let i = 0; i < kernels; i++) {
    for (let j = i + 1; j < kernels; j++) {
      let d = 0;
      for (let q = 0; q < ks; q++) {
        const t = w[i * ks + q] - w[j * ks + q];
        d += t * t;
      }
      if (d < best[i]) best[i] = d;
      if (d < best[j]) best[j] = d;
    }
  }
  return best.map((d) => (Number.isFinite(d) ? Math.sqrt(d) : 0));
}

/** Every feature of every kernel of a layer. */
export function kernelFeatures(l: LayerValues): KernelFeatures {
  const m = momentFeatures(l);
  return {
    ...m,
    autocorrelation: spatialAutocorrelation(l),
    ...gaussianFeatures(l),
    contextResidual: contextResidual(l, m.l2),
    nearestNeighbour: nearestNeighbourDistance(l),
  };
}
