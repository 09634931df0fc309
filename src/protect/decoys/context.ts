// 'context' decoys: a kernel's direction from the layer's joint distribution, its size from its
// row and column. A genuine kernel x of weight [A, B, kh, kw] at (a, b) is well described as
// μ + ρ·d: a direction d (unit vector, its kh·kw positions correlated) and a size ρ = |x − μ| that
// depends on the output channel a and the input channel b it connects (log ρ ≈ m + r_a + c_b + e,
// with heavy-tailed residuals e). Joint-Gaussian decoys match the covariance but draw every size
// from one layer-wide Gaussian, so their sizes ignore the row and column (a kernel "unlike its
// neighbours", the audit's keyless test) and have lighter tails than the real ones. Here:
//
//   d = L·z / |L·z|   z standard normal, L the Cholesky factor of the covariance of the kept
//                     kernels' directions (an angular Gaussian with the layer's correlations),
//   ρ = exp(m + r_a + c_b + e*)   m, r, c fitted on the kept kernels' log sizes (median polish),
//                     e* one of the kept kernels' residuals, picked uniformly from the stream.
//
// Every random choice comes from the caller's stream (the keyed stream when protecting).
import { kernelMoments, shrunkCholesky } from './gaussian.ts';

/** What context decoys take from a source of randomness: normals and uniform integers. */
export interface ContextRandom {
  normal(n: number): Float64Array;
  int(maxExclusive: number): number;
}

const TINY = 1e-30;

function median(v: number[]): number {
  if (v.length === 0) return 0;
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Additive fit m + r_a + c_b of the kept entries of an A×B table (median polish, two sweeps). */
export function medianPolish(table: Float64Array, a: number, b: number, kept: Uint8Array): { overall: number; row: Float64Array; col: Float64Array; residual: Float64Array } {
  const res = Float64Array.from(table);
  const row = new Float64Array(a);
  const col = new Float64Array(b);
  const keptValues: number[] = [];
  for (let k = 0; k < a * b; k++) if (kept[k]) keptValues.push(res[k]);
  const overall = median(keptValues);
  for (let k = 0; k < a * b; k++) res[k] -= overall;
  for (let sweep = 0; sweep < 2; sweep++) {
    for (let i = 0; i < a; i++) {
      const v: number[] = [];
      for (let j = 0; j < b; j++) if (kept[i * b + j]) v.push(res[i * b + j]);
      const m = b > 1 ? median(v) : 0;
      row[i] += m;
      for (let j = 0; j < b; j++) res[i * b + j] -= m;
    }
    for (let j = 0; j < b; j++) {
      const v: number[] = [];
      for (let i = 0; i < a; i++) if (kept[i * b + j]) v.push(res[i * b + j]);
      const m = a > 1 ? median(v) : 0;
      col[j] += m;
      for (let i = 0; i < a; i++) res[i * b + j] -= m;
    }
  }
  return { overall, row, col, residual: res };
}

/**
 * Decoys for the kernels flagged in `replaced` (ascending kernel order), of a layer [a, b, ks]
 * whose other kernels stay genuine. Falls back to every kernel's statistics when fewer than two stay.
 */
export function contextDecoys(values: Float64Array, a: number, b: number, ks: number, replaced: Uint8Array, rng: ContextRandom): Float64Array {
  const kernels = a * b;
  let keptCount = 0;
  for (let k = 0; k < kernels; k++) if (!replaced[k]) keptCount++;
  const kept = keptCount >= 2 ? replaced.map((r) => (r ? 0 : 1)) : new Uint8Array(kernels).fill(1);
  const { mean } = kernelMoments(values, kernels, ks, kept);
  // Sizes and directions of every kernel around the kept kernels' mean.
  const logSize = new Float64Array(kernels);
  const dirs = new Float64Array(kernels * ks);
  for (let k = 0; k < kernels; k++) {
    let s = 0;
    for (let q = 0; q < ks; q++) s += (values[k * ks + q] - mean[q]) ** 2;
    const rho = Math.sqrt(s);
    logSize[k] = Math.log(rho + TINY);
    for (let q = 0; q < ks; q++) dirs[k * ks + q] = rho > 0 ? (values[k * ks + q] - mean[q]) / rho : 0;
  }
  const { cov } = kernelMoments(dirs, kernels, ks, kept);
  const { l } = shrunkCholesky(cov, ks);
  const fit = medianPolish(logSize, a, b, kept);
  const residuals: number[] = [];
  for (let k = 0; k < kernels; k++) if (kept[k]) residuals.push(fit.residual[k]);

  const order: number[] = [];
  for (let k = 0; k < kernels; k++) if (replaced[k]) order.push(k);
  const out = new Float64Array(order.length * ks);
  const w = new Float64Array(ks);
  order.forEach((k, j) => {
    const z = rng.normal(ks);
    let norm = 0;
    for (let i = 0; i < ks; i++) {
      let v = 0;
      for (let q = 0; q <= i; q++) v += l[i * ks + q] * z[q];
      w[i] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm) || 1;
    const i = Math.floor(k / b);
    const jj = k % b;
    const e = residuals[rng.int(residuals.length)];
    const rho = Math.exp(fit.overall + fit.row[i] + fit.col[jj] + e);
    for (let q = 0; q < ks; q++) out[j * ks + q] = mean[q] + (rho * w[q]) / norm;
  });
  return out;
}
