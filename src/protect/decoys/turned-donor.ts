// The steps 'resample' (resample.ts) and 'matched' (matched.ts) decoys share: a decoy drawn as a
// kept donor kernel's direction turned by keyed noise, at the donor's size moved from its row and
// column to the decoy's (the best of some turns by whitened radius), and the sizes refitted at the
// end as the attacker fits rows and columns with the decoys in place. resample.ts's header says why
// each step is there and what it was measured against.
import { medianPolish } from './context.ts';

const TINY = 1e-30;

/** Rounds of refitting the rows' and columns' sizes with the decoys in place (3 converge). */
const SIZE_ROUNDS = 3;

/** Log L2 norm of every kernel. */
export function logNorms(values: Float64Array, kernels: number, ks: number): Float64Array {
  const out = new Float64Array(kernels);
  for (let k = 0; k < kernels; k++) {
    let s2 = 0;
    for (let i = 0; i < ks; i++) s2 += values[k * ks + i] * values[k * ks + i];
    out[k] = Math.log(Math.sqrt(s2) + TINY);
  }
  return out;
}

/**
 * A kernel's whitened coordinates y = L⁻¹(x − μ) (written into y), returning its Mahalanobis
 * radius |y|, for the kept kernels' mean μ and Cholesky factor L ([ks, ks], row-major).
 */
export function whitener(mean: Float64Array, l: Float64Array, ks: number): (x: Float64Array, y: Float64Array) => number {
  return (x, y) => {
    let r2 = 0;
    for (let i = 0; i < ks; i++) {
      let s = x[i] - mean[i];
      for (let q = 0; q < i; q++) s -= l[i * ks + q] * y[q];
      y[i] = s / l[i * ks + i];
      r2 += y[i] * y[i];
    }
    return Math.sqrt(r2);
  };
}

/** What turnedDonor needs of the layer: the kept kernels' fit and the row-and-column part of the log norms. */
export interface DonorLayer {
  values: Float64Array;
  ks: number;
  mean: Float64Array;
  l: Float64Array;
  whiten: (x: Float64Array, y: Float64Array) => number;
  /** Log L2 norm of every kernel (logNorms). */
  logNorm: Float64Array;
  /** g_k = r_a + c_b of kernel k's log norm (median polish over the kept kernels). */
  context: (k: number) => number;
}

/** Scratch arrays of ks values each, reused from decoy to decoy. */
export interface DonorScratch {
  y: Float64Array;
  u: Float64Array;
  yc: Float64Array;
  trial: Float64Array;
}

export function donorScratch(ks: number): DonorScratch {
  return { y: new Float64Array(ks), u: new Float64Array(ks), yc: new Float64Array(ks), trial: new Float64Array(ks) };
}

/**
 * Writes into `dest` a decoy for kernel k from donor d: `turns` draws of u = y_d/|y_d| + h·z/√ks
 * (z from the stream), x = μ + |y_d|·L·u/|u|, scaled to |x_d|·e^(g_k − g_d); the one whose whitened
 * radius lands nearest the donor's (times the same factor) is kept. Returns that radius.
 */
export function turnedDonor(layer: DonorLayer, k: number, d: number, turn: number, turns: number, normal: (n: number) => Float64Array, dest: Float64Array, s: DonorScratch): number {
  const { values, ks, mean, l, whiten } = layer;
  const radius = whiten(values.subarray(d * ks, (d + 1) * ks), s.y) || 1;
  const rescale = Math.exp(layer.context(k) - layer.context(d));
  const targetNorm = Math.exp(layer.logNorm[d]) * rescale;
  const targetLogRadius = Math.log(radius * rescale);
  let best = Number.POSITIVE_INFINITY;
  let bestRadius = 0;
  for (let t = 0; t < turns; t++) {
    const z = normal(ks);
    let norm = 0;
    for (let i = 0; i < ks; i++) {
      s.u[i] = s.y[i] / radius + (turn * z[i]) / Math.sqrt(ks);
      norm += s.u[i] * s.u[i];
    }
    const size = radius / (Math.sqrt(norm) || 1);
    let n2 = 0;
    for (let i = 0; i < ks; i++) {
      let x = mean[i];
      for (let q = 0; q <= i; q++) x += l[i * ks + q] * size * s.u[q];
      s.trial[i] = x;
      n2 += x * x;
    }
    const f = targetNorm / (Math.sqrt(n2) || 1);
    for (let i = 0; i < ks; i++) s.trial[i] *= f;
    const r = whiten(s.trial, s.yc);
    const miss = Math.abs(Math.log(r + TINY) - targetLogRadius);
    if (miss < best) {
      best = miss;
      bestRadius = r;
      dest.set(s.trial);
    }
  }
  return bestRadius;
}

/**
 * Sizes as the attacker sees them: he fits rows and columns on the published layer, decoys
 * included, where each decoy pulls its own row's and column's medians toward itself. So the fit is
 * redone with the decoys in place and each decoy (rows of `out`, at kernels `order`) is given its
 * donor's residual there, in place.
 */
export function refitSizes(values: Float64Array, shape: readonly [number, number, number, number], order: readonly number[] | Int32Array, donorOf: Int32Array, out: Float64Array): void {
  const [a, b, kh, kw] = shape;
  const ks = kh * kw;
  const kernels = a * b;
  const published = Float64Array.from(values);
  const all = new Uint8Array(kernels).fill(1);
  for (let round = 0; round < SIZE_ROUNDS; round++) {
    order.forEach((k, j) => published.set(out.subarray(j * ks, (j + 1) * ks), k * ks));
    const logs = logNorms(published, kernels, ks);
    const full = medianPolish(logs, a, b, all);
    order.forEach((k, j) => {
      const target = full.overall + full.row[Math.floor(k / b)] + full.col[k % b] + full.residual[donorOf[j]];
      const f = Math.exp(target - logs[k]);
      for (let i = 0; i < ks; i++) out[j * ks + i] *= f;
    });
  }
}
