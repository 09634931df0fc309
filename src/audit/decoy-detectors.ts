// The decoy detector suite: what an attacker holding only a published protected model (and, for
// the gradient detector, a few hundred labelled inputs) runs to find the decoys, and how well each
// does against the truth, which only the owner (or an experiment) knows.
//
// Detectors (every one scores each kernel of a layer; higher = more suspect):
//   <feature>            a kernel statistic of kernel-features.ts as it is (norms, moments,
//                        spatial autocorrelation, Mahalanobis distance under the published layer's
//                        own covariance, the audit's keyless diagonal-vs-full test, the residual
//                        from the kernel's row and column, the nearest-neighbour distance),
//   <feature>-deviation  its distance from the layer's median (too large OR too small),
//   rowColumnEffect      not about a kernel's values at all: the row + column part of its log-norm
//                        (the kernels around it), i.e. how much the POSITIONS an importance
//                        selection picks give away; no decoy can lower it,
//   fisher, fisher-per-norm   the gradient detector (fisher.ts), when its scores are given,
//   classifier           the attacker's learned detector (decoy-classifier.ts).
// Each is judged by its ROC AUC per layer; since an attacker who simulates decoys learns which way
// a statistic points, the figure of merit is the separability max(AUC, 1 − AUC). Pooled over
// layers: the AUC of the within-layer percentile ranks.
import type { DecoyMode } from '../protect/decoys.ts';
import { FEATURES, type LayerValues, kernelFeatures, rowColumnEffect } from './kernel-features.ts';
import { type ClassifierOptions, trainDecoyClassifier } from './decoy-classifier.ts';
import { aucInterval, chanceSeparability, percentileRanks, precisionAt, rocAuc, separability } from './roc.ts';

export interface PublishedLayer extends LayerValues {
  name: string;
}

export interface DetectorSuiteOptions {
  /** The decoy mode the classifier's simulated decoys use (the attacker reads the file's code). */
  mode: DecoyMode;
  /** Decoys per layer (public: the sealed sections' sizes and the ⌊N·r⌋ + 1 rule say it). */
  counts: readonly number[];
  /** The attacker's own decoy generator for the classifier, in place of `mode` (ClassifierOptions.draw). */
  draw?: ClassifierOptions['draw'];
  /** Per layer name, Fisher scores of its kernels (fisherScores), to add the gradient detector. */
  fisher?: Map<string, Float64Array>;
  seed?: number;
}

/** Every detector's scores of every layer: detector → one Float64Array per layer. */
export function runDetectors(layers: readonly PublishedLayer[], o: DetectorSuiteOptions): Map<string, Float64Array[]> {
  const out = new Map<string, Float64Array[]>();
  const put = (name: string, i: number, s: Float64Array) => {
    const list = out.get(name) ?? [];
    list[i] = s;
    out.set(name, list);
  };
  layers.forEach((layer, i) => {
    const f = kernelFeatures(layer);
    for (const name of FEATURES) {
      put(name, i, f[name]);
      const sorted = Float64Array.from(f[name]).sort();
      const med = sorted[sorted.length >> 1];
      put(
        `${name}-deviation`,
        i,
        f[name].map((x) => Math.abs(x - med)),
      );
    }
    put('rowColumnEffect', i, rowColumnEffect(layer, f.l2));
    const g = o.fisher?.get(layer.name);
    if (g) {
      put('fisher', i, g);
      put(
        'fisher-per-norm',
        i,
        g.map((x, k) => x / (f.l2[k] * f.l2[k] + 1e-20)),
      );
    }
  });
  const classifier = trainDecoyClassifier(layers, { mode: o.mode, counts: o.counts, seed: o.seed, draw: o.draw });
  layers.forEach((layer, i) => put('classifier', i, classifier.score(layer)));
  return out;
}

export interface LayerDetection {
  layer: string;
  kernels: number;
  decoys: number;
  auc: number;
  separability: number;
  /** Precision of flagging the `decoys` highest-scoring kernels (chance: decoys / kernels). */
  precision: number;
  /** 95% confidence interval of the AUC (roc.ts aucInterval). */
  aucInterval: [number, number];
  /** The separability a detector at chance stays under 19 times in 20 at this layer's size. */
  chance95: number;
}

export interface DetectorReport {
  detector: string;
  /** AUC of the within-layer percentile ranks over every layer together. */
  pooledAuc: number;
  pooledSeparability: number;
  /** Precision of the top S of each layer, pooled. */
  pooledPrecision: number;
  /** The largest per-layer separability among layers with at least `minDecoys` decoys. */
  maxLayerSeparability: number;
  /** The largest per-layer separability over every layer, small ones included. */
  maxLayerSeparabilityAll: number;
  /** Layers whose separability exceeds their chance95 (at chance: about 1 in 20 of them). */
  layersAboveChance: number;
  layers: LayerDetection[];
}

/**
 * How well each detector finds the true decoys (`truth[i][k]` = 1 for a decoy of layer i). Layers
 * with fewer than `minDecoys` decoys are reported but left out of maxLayerSeparability (their AUC
 * is mostly noise: with 4 decoys its standard error is about 0.15); every layer row carries its
 * AUC's confidence interval and the separability chance reaches at its size (chance95).
 */
export function scoreDetectors(layers: readonly PublishedLayer[], scores: Map<string, Float64Array[]>, truth: readonly Uint8Array[], minDecoys = 20): DetectorReport[] {
  const reports: DetectorReport[] = [];
  for (const [detector, perLayer] of scores) {
    const rows: LayerDetection[] = [];
    const pooledScores: number[] = [];
    const pooledTruth: number[] = [];
    let hits = 0,
      flagged = 0;
    layers.forEach((layer, i) => {
      const s = perLayer[i];
      if (!s) return;
      const t = truth[i];
      const decoys = t.reduce((a, b) => a + b, 0);
      const auc = rocAuc(s, t);
      const precision = precisionAt(s, t, decoys);
      rows.push({
        layer: layer.name,
        kernels: s.length,
        decoys,
        auc,
        separability: separability(auc),
        precision,
        aucInterval: aucInterval(auc, decoys, s.length - decoys),
        chance95: chanceSeparability(decoys, s.length - decoys),
      });
      hits += precision * decoys;
      flagged += decoys;
      const r = percentileRanks(s);
      for (let k = 0; k < s.length; k++) {
        pooledScores.push(r[k]);
        pooledTruth.push(t[k]);
      }
    });
    const pooledAuc = rocAuc(pooledScores, pooledTruth);
    const big = rows.filter((r) => r.decoys >= minDecoys && Number.isFinite(r.separability));
    reports.push({
      detector,
      pooledAuc,
      pooledSeparability: separability(pooledAuc),
      pooledPrecision: flagged ? hits / flagged : Number.NaN,
      maxLayerSeparability: big.length ? Math.max(...big.map((r) => r.separability)) : Number.NaN,
      maxLayerSeparabilityAll: Math.max(...rows.filter((r) => Number.isFinite(r.separability)).map((r) => r.separability)),
      layersAboveChance: rows.filter((r) => r.separability > r.chance95).length,
      layers: rows,
    });
  }
  return reports;
}

/**
 * The attacker's flags for detect-and-replace: per layer, the `counts[i]` kernels the named
 * detector scores highest (for a fixed statistic, whichever way it separates his own simulated
 * decoys better; the classifier already points the right way).
 */
export function flagSuspects(layers: readonly PublishedLayer[], detector: string, o: DetectorSuiteOptions): Map<string, Int32Array> {
  const scores = runDetectors(layers, o).get(detector);
  if (!scores) throw new Error(`no detector '${detector}'`);
  const out = new Map<string, Int32Array>();
  layers.forEach((layer, i) => {
    const s = scores[i];
    const order = Array.from({ length: s.length }, (_, k) => k).sort((a, b) => s[b] - s[a] || a - b);
    out.set(layer.name, Int32Array.from(order.slice(0, o.counts[i])));
  });
  return out;
}
