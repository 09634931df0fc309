// Ciphertext-only key recovery from natural-image statistics.
//
// The cipher applies the same linear map to every block: y = x·K (row vectors; column form
// y = Kᵀx). Second-order statistics therefore transform predictably: the covariance of a block,
// Σy = KᵀΣxK, and the cross-covariance between a block and its right (or lower) neighbour,
// Ξy = KᵀΞxK. In whitened coordinates (W = Σ^(-1/2)) the ciphertext and the plaintext differ by
// one orthogonal matrix Q: W_y·Ξy·W_y = Q·(W_x·Ξx·W_x)·Qᵀ. Natural images have strong,
// distinctive neighbour correlations, so the eigenvectors of the symmetrised whitened
// cross-covariances give Q up to one sign per eigenvector (U_y = Q·U_x·D); the signs are then
// read off the non-symmetric parts (horizontal and vertical), and the global sign off the mean.
// The plaintext statistics come from OTHER images of the same kind (a prior), never from the
// encrypted ones. Result, per channel: x ≈ A⁻¹·(y − μ_y) + μ_x with
// A⁻¹ = W_x⁻¹·Qᵀ·W_y.
//
// This needs no key and no plaintext of the target images, only many ciphertexts and public
// images like them. It breaks the real-valued kinds (uniform, orthogonal); hill256 works mod 256
// and its statistics do not transform linearly. Exact whitening is used on purpose: the
// near-empty directions (JPEG) are part of the signature that matches prior and target.
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import { toDtype } from '../ops/convert.ts';
import { bmm, linalgEigh } from '../ops/linalg.ts';
import { narrow, permute, reshape, transpose } from '../ops/shape.ts';
import { sum } from '../ops/reduction.ts';
import { add } from '../ops/arithmetic.ts';
import type { BatchSource } from '../data/batch-source.ts';
import { type Matrix, matVec, matmul as denseMatmul, transpose as denseTranspose } from '../linalg/matrix.ts';

/** Per-channel block statistics: mean, covariance and the two neighbour cross-covariances. */
export interface BlockPairStatistics {
  k: number;
  channels: number;
  images: number;
  /** Per channel, k² values. */
  mean: Float64Array[];
  /** Per channel, [k², k²] row-major: E[(b − μ)ᵀ(b − μ)]. */
  covariance: Float64Array[];
  /** Per channel: E[(b − μ)ᵀ(b_right − μ)] and E[(b − μ)ᵀ(b_below − μ)]. */
  horizontal: Float64Array[];
  vertical: Float64Array[];
}

interface Moments {
  n: number;
  sum: Float64Array;
  second: Float64Array;
  pairsH: number;
  crossH: Float64Array;
  pairsV: number;
  crossV: Float64Array;
}

/** Block statistics of the first `maxImages` images of a source (epoch 0), per channel. */
export async function blockPairStatistics(source: BatchSource, o: { k: number; maxImages?: number }): Promise<BlockPairStatistics> {
  const { k } = o;
  const n = k * k;
  const maxImages = o.maxImages ?? Infinity;
  let images = 0;
  let channels = 0;
  let acc: Moments[] = [];
  for await (const b of source.epoch(0)) {
    try {
      if (images >= maxImages) continue;
      const take = Math.min(b.x.shape[0], maxImages - images);
      const part = noGrad(() => scope(() => batchMoments(take < b.x.shape[0] ? narrow(b.x, 0, 0, take) : b.x, k)));
      if (acc.length === 0) {
        channels = part.length;
        acc = part;
      } else {
        for (let c = 0; c < channels; c++) addMoments(acc[c], part[c]);
      }
      images += take;
    } finally {
      b.x.dispose();
      b.y.dispose();
    }
  }
  if (images === 0) throw new Error('blockPairStatistics: the data source gave no images');
  const out: BlockPairStatistics = { k, channels, images, mean: [], covariance: [], horizontal: [], vertical: [] };
  for (const m of acc) {
    const mean = m.sum.map((v) => v / m.n);
    const centred = (raw: Float64Array, count: number) => Float64Array.from(raw, (v, idx) => v / count - mean[Math.floor(idx / n)] * mean[idx % n]);
    out.mean.push(mean);
    out.covariance.push(centred(m.second, m.n));
    out.horizontal.push(centred(m.crossH, m.pairsH));
    out.vertical.push(centred(m.crossV, m.pairsV));
  }
  return out;
}

function batchMoments(x: Tensor, k: number): Moments[] {
  if (x.ndim !== 4) throw new RangeError(`blockPairStatistics: expected images [N, C, H, W], got [${x.shape.join(', ')}]`);
  const [n, c, h, w] = x.shape;
  if (h % k || w % k) throw new RangeError(`blockPairStatistics: image size ${h}×${w} is not a multiple of k=${k}`);
  const gh = h / k;
  const gw = w / k;
  const nn = k * k;
  // [C, N, gh, gw, k²]
  const blocks = reshape(permute(reshape(toDtype(x, 'float64'), [n, c, gh, k, gw, k]), [1, 0, 2, 4, 3, 5]), [c, n, gh, gw, nn]);
  const rows = (t: Tensor) => reshape(t, [c, -1, nn]);
  const gram = (a: Tensor, b: Tensor) => bmm(transpose(rows(a), 1, 2), rows(b)).toTypedArray() as Float64Array;
  const sums = sum(rows(blocks), [1]).toTypedArray() as Float64Array;
  const second = gram(blocks, blocks);
  const crossH = gw > 1 ? gram(narrow(blocks, 3, 0, gw - 1), narrow(blocks, 3, 1, gw - 1)) : new Float64Array(c * nn * nn);
  const crossV = gh > 1 ? gram(narrow(blocks, 2, 0, gh - 1), narrow(blocks, 2, 1, gh - 1)) : new Float64Array(c * nn * nn);
  return Array.from({ length: c }, (_, ch) => ({
    n: n * gh * gw,
    sum: sums.slice(ch * nn, (ch + 1) * nn),
    second: second.slice(ch * nn * nn, (ch + 1) * nn * nn),
    pairsH: n * gh * (gw - 1),
    crossH: crossH.slice(ch * nn * nn, (ch + 1) * nn * nn),
    pairsV: n * (gh - 1) * gw,
    crossV: crossV.slice(ch * nn * nn, (ch + 1) * nn * nn),
  }));
}

function addMoments(a: Moments, b: Moments): void {
  a.n += b.n;
  a.pairsH += b.pairsH;
  a.pairsV += b.pairsV;
  for (const f of ['sum', 'second', 'crossH', 'crossV'] as const) for (let i = 0; i < a[f].length; i++) a[f][i] += b[f][i];
}

export interface StatisticalRecovery {
  /** Per channel, [k², k²] row-major in column form: x = inverse·(y − cipherMean) + plainMean. */
  inverses: Float64Array[];
  cipherMeans: Float64Array[];
  plainMeans: Float64Array[];
  /** Per channel, the generalized eigenvalues of ciphertext and prior (ascending): they should agree. */
  eigenvalues: { cipher: number[]; prior: number[] }[];
}

/**
 * Applies a recovered decryption to ciphertexts y [N, C, H, W] (real-valued): every k×k block b of
 * channel c becomes inverse_c·(b − cipherMean_c) + plainMean_c, in y's dtype. The attacker's
 * estimate of the plaintext pixels (unclamped).
 */
export function decryptWithRecovery(r: StatisticalRecovery, y: Tensor): Tensor {
  const c = r.inverses.length;
  const n = r.cipherMeans[0].length;
  const k = Math.round(Math.sqrt(n));
  const [count, channels, h, w] = y.shape;
  if (channels !== c) throw new RangeError(`decryptWithRecovery: the recovery has ${c} channels, the ciphertext ${channels}`);
  if (h % k || w % k) throw new RangeError(`decryptWithRecovery: image size ${h}×${w} is not a multiple of the block size k=${k}`);
  // Row form: x_row = y_row·inverseᵀ + (plainMean − inverse·cipherMean).
  const m = new Float64Array(c * n * n);
  const b = new Float64Array(c * n);
  for (let ch = 0; ch < c; ch++) {
    const inv = r.inverses[ch];
    const shift = matVec(inv, r.cipherMeans[ch], n);
    for (let p = 0; p < n; p++) {
      for (let q = 0; q < n; q++) m[(ch * n + q) * n + p] = inv[p * n + q];
      b[ch * n + p] = r.plainMeans[ch][p] - shift[p];
    }
  }
  return noGrad(() =>
    scope(() => {
      const gh = h / k;
      const gw = w / k;
      const rows = reshape(permute(reshape(y, [count, c, gh, k, gw, k]), [1, 0, 2, 4, 3, 5]), [c, count * gh * gw, n]);
      const x = add(bmm(rows, toDtype(tensor(m, [c, n, n], 'float64'), y.dtype)), toDtype(tensor(b, [c, 1, n], 'float64'), y.dtype));
      return reshape(permute(reshape(x, [c, count, gh, gw, k, k]), [1, 0, 2, 4, 3, 5]), [count, c, h, w]);
    }),
  );
}

/** Weight of the vertical cross-covariance in the matrix whose eigenvectors are matched (breaks the x/y symmetry). */
const VERTICAL_WEIGHT = 0.618;

/** Recovers the decryption map of each channel from ciphertext statistics and a plaintext prior (see the file comment). */
export function recoverFromStatistics(cipher: BlockPairStatistics, prior: BlockPairStatistics): StatisticalRecovery {
  if (cipher.k !== prior.k) throw new RangeError(`recoverFromStatistics: block size ${cipher.k} against the prior's ${prior.k}`);
  if (prior.channels !== cipher.channels && prior.channels !== 1) {
    throw new RangeError(`recoverFromStatistics: the prior has ${prior.channels} channels, the ciphertext ${cipher.channels} (a 1-channel prior serves every channel)`);
  }
  const out: StatisticalRecovery = { inverses: [], cipherMeans: [], plainMeans: [], eigenvalues: [] };
  for (let c = 0; c < cipher.channels; c++) {
    const p = prior.channels === 1 ? 0 : c;
    const y = whitenedBasis(cipher, c);
    const x = whitenedBasis(prior, p);
    const d = matchSigns(y, x);
    const n = cipher.k * cipher.k;
    // A⁻¹ = W_x⁻¹ · U_x · D · U_yᵀ · W_y (Qᵀ = U_x·D·U_yᵀ).
    let inv = matMul(matMul(matMul(x.unwhiten, scaleColumns(x.vectors, d, n), n), transposed(y.vectors, n), n), y.whiten, n);
    // Second-order statistics cannot tell x from −x (around the mean): the mean decides.
    const my = cipher.mean[c];
    const mx = prior.mean[p];
    const mapped = matVec(inv, my, n);
    const err = (s: number) => mapped.reduce((a, v, i) => a + (s * v - mx[i]) ** 2, 0);
    if (err(-1) < err(1)) inv = inv.map((v) => -v);
    out.inverses.push(inv);
    out.cipherMeans.push(my);
    out.plainMeans.push(mx);
    out.eigenvalues.push({ cipher: y.values, prior: x.values });
  }
  return out;
}

interface Basis {
  whiten: Float64Array;
  unwhiten: Float64Array;
  /** Eigenvectors (columns) of the symmetrised whitened cross-covariance, ascending eigenvalues. */
  vectors: Float64Array;
  values: number[];
  /** Whitened horizontal and vertical cross-covariances. */
  th: Float64Array;
  tv: Float64Array;
}

function whitenedBasis(s: BlockPairStatistics, c: number): Basis {
  const n = s.k * s.k;
  return noGrad(() =>
    scope(() => {
      const { values: lam, vectors: v } = linalgEigh(tensor(s.covariance[c], [n, n], 'float64'));
      const l = lam.toArray();
      // Singular to working precision, the rank rule of numpy's matrix_rank: an eigenvalue of an
      // exactly singular matrix comes out as ±ε·λmax, and its sign depends on the LAPACK (the
      // reference one gave ≤ 0, OpenBLAS a tiny positive value that 1/√λ would blow up).
      const tolerance = l[n - 1] * n * Number.EPSILON;
      if (!(l[0] > tolerance))
        throw new Error(`recoverFromStatistics: channel ${c}: the block covariance is singular (smallest eigenvalue ${l[0]}, largest ${l[n - 1]}); need more, and more varied, images`);
      const vv = v.toTypedArray() as Float64Array;
      const whiten = spectral(
        vv,
        l.map((e) => e ** -0.5),
        n,
      );
      const unwhiten = spectral(
        vv,
        l.map((e) => e ** 0.5),
        n,
      );
      const th = matMul(matMul(whiten, s.horizontal[c], n), whiten, n);
      const tv = matMul(matMul(whiten, s.vertical[c], n), whiten, n);
      const m = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) m[i * n + j] = (th[i * n + j] + th[j * n + i]) / 2 + (VERTICAL_WEIGHT * (tv[i * n + j] + tv[j * n + i])) / 2;
      }
      const e = linalgEigh(tensor(m, [n, n], 'float64'));
      return { whiten, unwhiten, vectors: Float64Array.from(e.vectors.toTypedArray() as Float64Array), values: e.values.toArray(), th, tv };
    }),
  );
}

/**
 * The sign of each eigenvector: in the eigenbases, the whitened cross-covariances agree up to
 * D·M·D, so entry (i, j) of the ciphertext's equals d_i·d_j times the prior's. Maximise that
 * agreement: the leading eigenvector of the agreement matrix, then single flips while they help.
 */
function matchSigns(y: Basis, x: Basis): number[] {
  const n = Math.round(Math.sqrt(y.vectors.length));
  const g = new Float64Array(n * n);
  for (const [ty, tx] of [
    [y.th, x.th],
    [y.tv, x.tv],
  ] as const) {
    const my = matMul(matMul(transposed(y.vectors, n), ty, n), y.vectors, n);
    const mx = matMul(matMul(transposed(x.vectors, n), tx, n), x.vectors, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) g[i * n + j] += my[i * n + j] * mx[i * n + j] + my[j * n + i] * mx[j * n + i];
  }
  const lead = noGrad(() =>
    scope(() => {
      const e = linalgEigh(tensor(g, [n, n], 'float64'));
      const v = e.vectors.toTypedArray() as Float64Array;
      return Array.from({ length: n }, (_, i) => v[i * n + n - 1]);
    }),
  );
  const d: number[] = lead.map((v) => (v < 0 ? -1 : 1));
  for (let pass = 0; pass < 100; pass++) {
    let improved = false;
    for (let i = 0; i < n; i++) {
      let field = 0;
      for (let j = 0; j < n; j++) field += g[i * n + j] * d[j];
      if (d[i] * field < -1e-15) {
        d[i] = -d[i];
        improved = true;
      }
    }
    if (!improved) break;
  }
  return d;
}

// Square n×n products, n = k² (at most a few hundred).
const matMul = (a: Matrix, b: Matrix, n: number): Matrix => denseMatmul(a, b, n, n, n);
const transposed = (a: Matrix, n: number): Matrix => denseTranspose(a, n);

function scaleColumns(a: Float64Array, s: number[], n: number): Float64Array {
  return Float64Array.from(a, (v, idx) => v * s[idx % n]);
}

/** V·diag(f)·Vᵀ for eigenvectors V (columns). */
function spectral(v: Float64Array, f: number[], n: number): Float64Array {
  return matMul(scaleColumns(v, f, n), transposed(v, n), n);
}
