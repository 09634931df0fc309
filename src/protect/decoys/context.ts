// 'context' decoys: an elliptical draw around the layer's joint distribution whose size comes from
// the kernel's row and column. A genuine kernel x of weight [A, B, kh, kw] at (a, b) is described
// as μ + L·(s·u): L the Cholesky factor of the covariance of the kernels that stay, u a direction
// in whitened space, s = |L⁻¹(x − μ)| its Mahalanobis radius. Radii are heavy-tailed and depend
// on the output channel a and the input channel b the kernel connects (log s ≈ m + r_a + c_b + e).
// Joint-Gaussian decoys match the covariance but give every decoy a χ radius from one layer-wide
// Gaussian: their radii are too regular (lighter tails) and ignore the row and column (a kernel
// "unlike its neighbours", the audit's keyless test). Here:
//
//   u = z / |z|       z standard normal: a uniform direction,
//   s = exp(m + r_a + c_b + e_d)   m, r, c fitted on the kept kernels' log radii (median polish),
//                     e_d the residual of a kept kernel d picked uniformly from the stream.
//
// What no decoy can hide: an importance-based selection (L1, PSS) picks kernels in the rows and
// columns of large kernels, so the positions themselves are a clue (src/audit's rowColumnEffect
// detector measures it; with the random strategy it is at chance). Decoys sized by their context
// are as large as a genuine kernel there would be; sizing them smaller would hide the positions
// from size statistics but make them unlike their neighbours, which the residual test sees.
//
// Every random choice comes from the caller's stream (the keyed stream when protecting).
import { genuineKernelFit } from './gaussian.ts';

/** What context decoys take from a source of randomness: normals and uniform integers. */
export interface ContextRandom {
  normal(n: number): Float64Array;
  int(maxExclusive: number): number;
}

const TINY = 1e-30;

/** The median of v (0 for none). */
export function median(v: ArrayLike<number>): number {
  if (v.length === 0) return 0;
  const s = Array.from(v).sort((x, y) => x - y);
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
 * whose other kernels stay genuine (at least two of them: genuineKernelFit).
 */
export function contextDecoys(values: Float64Array, a: number, b: number, ks: number, replaced: Uint8Array, rng: ContextRandom): Float64Array {
  const kernels = a * b;
  const { kept, mean, l, donors, order } = genuineKernelFit(values, kernels, ks, replaced);
  // Whitened radius s = |L⁻¹(x − μ)| of every kernel: its Mahalanobis distance.
  const logRadius = new Float64Array(kernels);
  const y = new Float64Array(ks);
  for (let k = 0; k < kernels; k++) {
    let s2 = 0;
    for (let i = 0; i < ks; i++) {
      let v = values[k * ks + i] - mean[i];
      for (let j = 0; j < i; j++) v -= l[i * ks + j] * y[j];
      y[i] = v / l[i * ks + i];
      s2 += y[i] * y[i];
    }
    logRadius[k] = Math.log(Math.sqrt(s2) + TINY);
  }
  const fit = medianPolish(logRadius, a, b, kept);
  const out = new Float64Array(order.length * ks);
  order.forEach((k, j) => {
    // A uniform direction in whitened space, at the radius of the kernel's row, column and a
    // kept kernel's residual; then back through L.
    const z = rng.normal(ks);
    let norm = 0;
    for (let i = 0; i < ks; i++) norm += z[i] * z[i];
    norm = Math.sqrt(norm) || 1;
    const d = donors[rng.int(donors.length)];
    const radius = Math.exp(fit.overall + fit.row[Math.floor(k / b)] + fit.col[k % b] + fit.residual[d]);
    for (let i = 0; i < ks; i++) {
      let v = mean[i];
      for (let q = 0; q <= i; q++) v += (l[i * ks + q] * z[q] * radius) / norm;
      out[j * ks + i] = v;
    }
  });
  return out;
}
