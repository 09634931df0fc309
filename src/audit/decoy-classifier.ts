// The attacker's learned detector: he knows how nnlock draws decoys (the code is public), so he
// makes decoys of his own from the published layer (his own random key, random positions, as many
// as the file's sealed sections say there are), learns to tell them from the layer's kernels, and
// runs what he learned on the published kernels. Logistic regression on the kernel features
// (kernel-features.ts), each standardised within its layer by median and MAD, with their squares
// (so a feature too large OR too small can count), fitted by Newton's method with a small ridge.
import { createHash } from 'node:crypto';
import { KeyedStream } from '../crypto/index.ts';
import { type DecoyMode, type DecoyRandom, drawDecoys } from '../protect/decoys.ts';
import { FEATURES, type KernelFeatures, type LayerValues, kernelFeatures } from './kernel-features.ts';

export interface ClassifierOptions {
  /** The decoy mode the attacker assumes (he reads the code: the published file's). */
  mode: DecoyMode;
  /** Decoys per layer the attacker plants in each simulated copy (the true count is public). */
  counts: readonly number[];
  /** Simulated copies of each layer (default 2). */
  copies?: number;
  /** The attacker's own decoy generator, in place of nnlock's `mode` (to test a variant). */
  draw?: (values: Float64Array, shape: readonly [number, number, number, number], planted: Uint8Array, random: DecoyRandom) => Float64Array;
  /** Seed of the attacker's own randomness. */
  seed?: number;
  /** L2 penalty on the weights (default 1e-3 per row). */
  ridge?: number;
  iterations?: number;
}

export interface DecoyClassifier {
  /** Decoy probability of every kernel of a layer. */
  score(layer: LayerValues): Float64Array;
  weights: Float64Array;
}

function robustScale(v: Float64Array, ref: Float64Array): Float64Array {
  const s = Float64Array.from(ref).sort();
  const med = s[s.length >> 1];
  const dev = Float64Array.from(ref, (x) => Math.abs(x - med)).sort();
  const mad = dev[dev.length >> 1] || 1;
  return Float64Array.from(v, (x) => Math.max(-20, Math.min(20, (x - med) / (1.4826 * mad))));
}

/** Design rows [1, z_1..z_F, z_1²..z_F²] of a layer's kernels, standardised against `ref`. */
function design(f: KernelFeatures, ref: KernelFeatures): Float64Array[] {
  const cols = FEATURES.map((name) => robustScale(f[name], ref[name]));
  const n = cols[0].length;
  return Array.from({ length: n }, (_, k) => {
    const row = new Float64Array(1 + 2 * cols.length);
    row[0] = 1;
    cols.forEach((c, j) => {
      row[1 + j] = c[k];
      row[1 + cols.length + j] = c[k] * c[k];
    });
    return row;
  });
}

/** Solves the symmetric positive-definite system A·x = b (Gaussian elimination; A is small). */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    if (p !== c) {
      for (let j = 0; j < n; j++) [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      if (f === 0) continue;
      for (let j = c; j < n; j++) m[r * n + j] -= f * m[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let s = x[c];
    for (let j = c + 1; j < n; j++) s -= m[c * n + j] * x[j];
    x[c] = s / m[c * n + c];
  }
  return x;
}

const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

/** Logistic regression by Newton's method (IRLS), classes weighted to equal total weight. */
export function fitLogistic(rows: Float64Array[], labels: Uint8Array, ridge = 1e-3, iterations = 25): Float64Array {
  const d = rows[0].length;
  let w = new Float64Array(d);
  const pos = labels.reduce((s, y) => s + y, 0);
  const wPos = rows.length / (2 * Math.max(1, pos));
  const wNeg = rows.length / (2 * Math.max(1, rows.length - pos));
  for (let it = 0; it < iterations; it++) {
    const h = new Float64Array(d * d);
    const g = new Float64Array(d);
    for (let i = 0; i < rows.length; i++) {
      const x = rows[i];
      let t = 0;
      for (let j = 0; j < d; j++) t += w[j] * x[j];
      const p = sigmoid(t);
      const c = labels[i] ? wPos : wNeg;
      const r = c * (p - labels[i]);
      const s = c * Math.max(p * (1 - p), 1e-9);
      for (let j = 0; j < d; j++) {
        g[j] += r * x[j];
        for (let q = 0; q <= j; q++) h[j * d + q] += s * x[j] * x[q];
      }
    }
    for (let j = 0; j < d; j++) {
      for (let q = 0; q < j; q++) h[q * d + j] = h[j * d + q];
      h[j * d + j] += ridge * rows.length;
      g[j] += ridge * rows.length * w[j];
    }
    const step = solve(h, g, d);
    let change = 0;
    w = w.map((v, j) => {
      change = Math.max(change, Math.abs(step[j]));
      return v - step[j];
    });
    if (change < 1e-8) break;
  }
  return w;
}

/** Trains the attacker's classifier on simulated copies of the published layers. */
export function trainDecoyClassifier(published: readonly LayerValues[], o: ClassifierOptions): DecoyClassifier {
  const stream = new KeyedStream(
    new Uint8Array(
      createHash('sha256')
        .update(`nnlock attacker ${o.seed ?? 0}`)
        .digest(),
    ),
    'attacker decoys',
  );
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  published.forEach((layer, li) => {
    const [a, b, kh, kw] = layer.shape;
    const kernels = a * b;
    const ks = kh * kw;
    const count = Math.min(o.counts[li], kernels - 1);
    if (count < 1) return;
    const ref = kernelFeatures(layer);
    for (let c = 0; c < (o.copies ?? 2); c++) {
      const planted = new Uint8Array(kernels);
      const perm = stream.permutation(kernels);
      for (let i = 0; i < count; i++) planted[perm[i]] = 1;
      const order = Array.from(perm.subarray(0, count)).sort((x, y) => x - y);
      const decoys = o.draw ? o.draw(layer.values, layer.shape, planted, stream) : drawDecoys(layer.values, layer.shape, planted, stream, o.mode);
      const values = Float64Array.from(layer.values);
      order.forEach((k, j) => values.set(decoys.subarray(j * ks, (j + 1) * ks), k * ks));
      const f = design(kernelFeatures({ values, shape: layer.shape }), ref);
      f.forEach((row, k) => {
        rows.push(row);
        labels.push(planted[k]);
      });
    }
  });
  if (rows.length === 0) throw new Error('trainDecoyClassifier: no layer to learn from');
  const weights = fitLogistic(rows, Uint8Array.from(labels), o.ridge, o.iterations);
  return {
    weights,
    score(layer: LayerValues): Float64Array {
      const f = kernelFeatures(layer);
      return Float64Array.from(design(f, f), (row) => {
        let t = 0;
        for (let j = 0; j < row.length; j++) t += weights[j] * row[j];
        return sigmoid(t);
      });
    },
  };
}
