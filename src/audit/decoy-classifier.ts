// The attacker's learned detector: he knows how nnlock draws decoys (the code is public), so he
// makes decoys of his own from the published layer (his own random key, random positions, as many
// as the file's sealed sections say there are), learns to tell them from the layer's kernels, and
// runs what he learned on the published kernels. Logistic regression on the kernel features
// (kernel-features.ts), each standardised within its layer by median and MAD, with their squares
// (so a feature too large OR too small can count), fitted by Newton's method with a small ridge.
import { createHash } from 'node:crypto';
import { KeyedStream } from '../crypto/index.ts';
import { type DecoyMode, type DecoyRandom, drawDecoys } from '../protect/decoys.ts';
import { fitLogistic } from '../linalg/logistic.ts';
import { FEATURES, type KernelFeatures, type LayerValues, kernelFeatures } from './kernel-features.ts';

export { fitLogistic };

const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

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
