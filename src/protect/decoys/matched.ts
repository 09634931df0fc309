// 'matched' decoys: resampled decoys (decoys/resample.ts: a kept donor's direction, turned, sized
// from the donor's residual moved to the decoy's row and column) drawn by importance resampling,
// so that their detector features follow the joint distribution of the layer's genuine kernels
// and not only its centre.
//
// What carried the signal in 'resample' (each (feature, layer) AUC averaged over 8 keys at random
// positions on the shared ResNet-20; 100 of 456 such means above their 95% chance level, against
// 34 for a null without decoys):
//   - the turn is isotropic Gaussian noise in whitened space, so a decoy's shape is a blend of its
//     donor's and a Gaussian's: its lag-1 spatial autocorrelation is pulled toward the layer's
//     (AUC 0.43–0.47 in every layer1 conv, chance 0.546), its skewness and kurtosis too;
//   - its size is its donor's residual moved to the decoy's row and column, but rows and columns do
//     not spread alike (an output channel of kernels of one size next to one of many), so a
//     residual from a wide row in a narrow one makes a decoy too large or too small there: the
//     deviation detectors (l2, maxAbs, std, Mahalanobis distance from the layer's median).
// Choosing the candidate turn nearest a genuine target's features (tried first) pulls every decoy
// toward the middle of the distribution (the nearest of a few candidates to an extreme target is
// less extreme): deviation AUCs of 0.38–0.42. Importance resampling has no such pull:
//
//   1. every decoy at (a, b) gets `candidates` (16) candidates, each from its own kept donor d: d's
//      whitened direction turned by h·z/√(kh·kw) (z standard normal), at d's Mahalanobis radius,
//      scaled to d's L2 norm moved to (a, b): |x_d|·e^(g_ab − g_d), g the row + column fit; of
//      `turns` (4) such turns the one whose whitened radius lands nearest d's (times the same
//      factor) is the candidate, as 'resample' picks its decoy;
//   2. features φ of each candidate and of each kept kernel: lag-1 autocorrelation, skewness,
//      kurtosis, peak, L1 and mean over L2, log whitened radius over L2, the size residual over
//      the spread of residuals at (a, b) (for a candidate: its donor's residual), the log
//      whitened distance to the nearest kept kernel, the log whitened radius itself and
//      r² − r²_diagonal (the attacker's Mahalanobis distance and the audit's diagonal-vs-full
//      test, both under the kept kernels' fit);
//   3. a logistic regression tells kept kernels from candidates on [1, z, z²] of those features
//      (z: within-layer robust z-scores), which is the attacker's classifier family; its odds
//      estimate the density ratio p_genuine(φ) / p_candidate(φ);
//   4. each decoy keeps one of its candidates with probability proportional to that ratio, so the
//      kept ones are distributed (as the candidates allow) like genuine kernels;
//   5. sizes are refitted as the attacker sees them (with the decoys in place), each decoy getting
//      its donor's residual there, as in 'resample'.
// Donors are kept kernels only, which the published file shows anyway, so a decoy reveals nothing
// about the sealed kernels, and each is a turned donor, near no kernel of the layer. Every random
// choice comes from the caller's stream; the fit is plain float64 (src/linalg), so a key gives the
// same decoys on every machine.
//
// Why the last two features (session 9, experiments/protect/decoy-scan.ts, 8 keys at random
// positions on the shared ResNet-20): with the first nine only, what the attacker's classifier
// (0.53–0.55 in every layer of ≥ 82 decoys) and the Mahalanobis-deviation detector (0.555 in
// layer3.0.conv1 and layer3.2.conv2) still saw was the radius: decoys' Mahalanobis distances
// spread wider than the genuine kernels' at both ends (in layer3.2.conv2, over 4 keys, the 10% and
// 90% points of log d² were 0.40 and 3.03 against 0.58 and 2.89), and their diagonal-vs-full had
// a heavier upper tail (90% point −1.1 against −2.6): the ratio saw the radius only over L2,
// never the radius itself. With both: classifier 0.522 pooled (was 0.532) and ≤ 0.537 per large
// layer (was ≤ 0.550); Mahalanobis deviation ≤ 0.544 (was 0.555).
//
// Measured (experiments/results/protect/keys32/decoy-detectors.md, random positions, 32 keys):
// pooled 0.522, worst layer with ≥ 20 decoys 0.548 (the null: 0.536). At 16 keys (keys16/):
// pooled 0.521 (0.532 with the first nine only), worst layer with ≥ 20 decoys 0.553 (0.561; the
// null at the same keys: 0.542), worst layer with ≥ 82 decoys 0.537 (0.561). At 8 keys
// (decoy-detectors.md): 80 of 513 (detector, layer) means above their chance level (first nine:
// 75; 'resample': 106; null: 26), worst layer 0.571 (null 0.569; 'resample' 0.608). Under L1 selection the positions
// themselves stay the clue (rowColumnEffect 0.676 pooled, Fisher 0.80 in layer1.0.conv2), as for
// every mode. Cost: about 4× 'resample' on a 512×512 layer (see the work bounds below).
import { fitLogistic } from '../../linalg/logistic.ts';
import { median, medianPolish } from './context.ts';
import { genuineKernelFit } from './gaussian.ts';
import { donorScratch, logNorms, refitSizes, turnedDonor, whitener } from './turned-donor.ts';

/** What matched decoys take from a source of randomness. */
export interface MatchedRandom {
  normal(n: number): Float64Array;
  uniform(n: number): Float64Array;
  int(maxExclusive: number): number;
}

export interface MatchedOptions {
  /** h: how far a candidate's direction is turned from its donor's (relative to its length). */
  turn?: number;
  /** Candidates drawn per decoy, each from its own donor. */
  candidates?: number;
  /** Turns per candidate; the one whose whitened radius lands nearest its donor's (rescaled) is the candidate. */
  turns?: number;
}

export const MATCHED_TURN = 1;
export const MATCHED_CANDIDATES = 16;
export const MATCHED_TURNS = 4;
const TINY = 1e-30;
/** How many features φ has (shapeFeatures, then the size, nearest-kernel and radius features after them). */
const FEATURES = 11;
/**
 * Bounds on the work per layer, so large layers (VGG19's 512×512 kernels) stay affordable; none of
 * them binds on ResNet-20 (at most 4,096 kernels a layer). The ratio is fitted on at most FIT_ROWS
 * genuine kernels and FIT_ROWS candidates (evenly spaced subsets). The nearest-kernel distance is
 * taken over an evenly spaced subset of the kept kernels, the same one for genuine kernels and
 * candidates, of at most NEIGHBOUR_POOL kernels and at most NEIGHBOUR_WORK / (distances to take)
 * (never under MIN_NEIGHBOURS): a coarser distance on large layers, compared like with like.
 */
const FIT_ROWS = 8192;
const NEIGHBOUR_POOL = 2048;
const NEIGHBOUR_WORK = 2048 * 10_000;
const MIN_NEIGHBOURS = 256;

/** At most `limit` evenly spaced indices of 0..n−1 (all of them when n ≤ limit). */
function evenlySpaced(n: number, limit: number): number[] {
  const step = Math.max(1, Math.ceil(n / limit));
  return Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);
}

/** Scale-free shape features of one kernel (kh × kw values) into f[0..6]. */
function shapeFeatures(x: Float64Array, kh: number, kw: number, whitenedRadius: number, f: Float64Array): void {
  const ks = kh * kw;
  let s1 = 0,
    s2 = 0,
    mx = 0,
    m = 0;
  for (let q = 0; q < ks; q++) {
    s1 += Math.abs(x[q]);
    s2 += x[q] * x[q];
    mx = Math.max(mx, Math.abs(x[q]));
    m += x[q];
  }
  m /= ks;
  let c2 = 0,
    c3 = 0,
    c4 = 0,
    lag = 0;
  for (let q = 0; q < ks; q++) {
    const d = x[q] - m;
    c2 += d * d;
    c3 += d * d * d;
    c4 += d * d * d * d;
  }
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const d = x[i * kw + j] - m;
      if (j + 1 < kw) lag += d * (x[i * kw + j + 1] - m);
      if (i + 1 < kh) lag += d * (x[(i + 1) * kw + j] - m);
    }
  }
  const l2 = Math.sqrt(s2) || TINY;
  f[0] = c2 > 0 ? lag / c2 : 0;
  const v = c2 / ks;
  f[1] = v > 0 ? c3 / ks / v ** 1.5 : 0;
  f[2] = v > 0 ? c4 / ks / (v * v) : 0;
  f[3] = mx / l2;
  f[4] = s1 / l2;
  f[5] = m / l2;
  f[6] = Math.log(whitenedRadius + TINY) - Math.log(l2);
}

/**
 * How widely sizes spread around the row + column fit at each position: s_ab = s_a · s_b / s, with
 * s_a, s_b and s the median |residual| of the kept kernels of row a, of column b and of the layer.
 */
function residualSpread(residual: Float64Array, a: number, b: number, kept: Uint8Array): (k: number) => number {
  const all: number[] = [];
  const rows = Array.from({ length: a }, () => [] as number[]);
  const cols = Array.from({ length: b }, () => [] as number[]);
  for (let k = 0; k < a * b; k++) {
    if (!kept[k]) continue;
    const r = Math.abs(residual[k]);
    all.push(r);
    rows[Math.floor(k / b)].push(r);
    cols[k % b].push(r);
  }
  const overall = median(all) || 1;
  const orOverall = (x: number) => (Number.isFinite(x) && x > 0 ? x : overall);
  const rs = rows.map((v) => orOverall(median(v)));
  const cs = cols.map((v) => orOverall(median(v)));
  return (k) => (rs[Math.floor(k / b)] * cs[k % b]) / overall;
}

/** Robust z-scores of features (rows of FEATURES values) against the reference rows' median and MAD, with their squares. */
function designRows(phi: Float64Array, count: number, centre: Float64Array, scale: Float64Array): Float64Array[] {
  return Array.from({ length: count }, (_, i) => {
    const row = new Float64Array(1 + 2 * FEATURES);
    row[0] = 1;
    for (let q = 0; q < FEATURES; q++) {
      const z = Math.max(-20, Math.min(20, (phi[i * FEATURES + q] - centre[q]) / scale[q]));
      row[1 + q] = z;
      row[1 + FEATURES + q] = z * z;
    }
    return row;
  });
}

/**
 * Decoys for the kernels flagged in `replaced` (ascending kernel order), of a layer [a, b, kh, kw]
 * whose other kernels stay genuine (at least two of them: genuineKernelFit).
 */
export function matchedDecoys(values: Float64Array, shape: readonly [number, number, number, number], replaced: Uint8Array, rng: MatchedRandom, o: MatchedOptions = {}): Float64Array {
  const turn = o.turn ?? MATCHED_TURN;
  const candidates = o.candidates ?? MATCHED_CANDIDATES;
  const turns = o.turns ?? MATCHED_TURNS;
  const [a, b, kh, kw] = shape;
  const ks = kh * kw;
  const kernels = a * b;
  const { mean, l, kept, donors, order } = genuineKernelFit(values, kernels, ks, replaced);
  const whiten = whitener(mean, l, ks);
  const logNorm = logNorms(values, kernels, ks);
  const fit = medianPolish(logNorm, a, b, kept);
  const context = (k: number) => fit.row[Math.floor(k / b)] + fit.col[k % b];
  const spread = residualSpread(fit.residual, a, b, kept);
  // The kept kernels' per-position variances (the diagonal of L·Lᵀ), for the diagonal-vs-full form.
  const variance = new Float64Array(ks);
  for (let i = 0; i < ks; i++) for (let q = 0; q <= i; q++) variance[i] += l[i * ks + q] ** 2;
  /**
   * f[9], f[10]: the log whitened radius itself (not over L2: the attacker's Mahalanobis distance)
   * and r² − r²_diagonal (the audit's diagonal-vs-full test), under the kept kernels' fit.
   */
  const radiusFeatures = (x: Float64Array, radius: number, into: Float64Array) => {
    let diagonal = 0;
    for (let i = 0; i < ks; i++) diagonal += (x[i] - mean[i]) ** 2 / (variance[i] || TINY);
    into[9] = Math.log(radius + TINY);
    into[10] = radius * radius - diagonal;
  };

  // The genuine kernels' features, and their whitened coordinates for the neighbour distance.
  const y = new Float64Array(ks);
  const f = new Float64Array(FEATURES);
  const fitted = evenlySpaced(donors.length, FIT_ROWS);
  const genuine = new Float64Array(fitted.length * FEATURES);
  const whitened = new Float64Array(donors.length * ks);
  donors.forEach((d, i) => {
    whiten(values.subarray(d * ks, (d + 1) * ks), y);
    whitened.set(y, i * ks);
  });
  fitted.forEach((i, row) => {
    const d = donors[i];
    const x = values.subarray(d * ks, (d + 1) * ks);
    const radius = whiten(x, y);
    shapeFeatures(x, kh, kw, radius, f);
    f[7] = fit.residual[d] / spread(d);
    radiusFeatures(x, radius, f);
    genuine.set(f, row * FEATURES);
  });
  const pool = order.length * candidates;
  const poolLimit = Math.max(MIN_NEIGHBOURS, Math.min(NEIGHBOUR_POOL, Math.floor(NEIGHBOUR_WORK / (pool + fitted.length))));
  const neighbours = evenlySpaced(donors.length, poolLimit);
  /** Log whitened distance from y to the nearest kept kernel of the pool (other than kept kernel `self`). */
  const nearest = (v: Float64Array, self: number) => {
    let best = Number.POSITIVE_INFINITY;
    for (const i of neighbours) {
      if (i === self) continue;
      let d2 = 0;
      for (let q = 0; q < ks && d2 < best; q++) d2 += (v[q] - whitened[i * ks + q]) ** 2;
      if (d2 < best) best = d2;
    }
    return 0.5 * Math.log(best + TINY);
  };
  fitted.forEach((i, row) => {
    genuine[row * FEATURES + 8] = nearest(whitened.subarray(i * ks, (i + 1) * ks), i);
  });

  // Candidates: `candidates` per decoy, each a turned donor at the decoy's place.
  const candidateValues = new Float64Array(pool * ks);
  const candidateDonor = new Int32Array(pool);
  const phi = new Float64Array(pool * FEATURES);
  const layer = { values, ks, mean, l, whiten, logNorm, context };
  const scratch = donorScratch(ks);
  const u = new Float64Array(ks);
  const x = new Float64Array(ks);
  order.forEach((k, j) => {
    for (let c = 0; c < candidates; c++) {
      const at = j * candidates + c;
      const d = donors[rng.int(donors.length)];
      candidateDonor[at] = d;
      const candidateRadius = turnedDonor(layer, k, d, turn, turns, (n) => rng.normal(n), x, scratch);
      candidateValues.set(x, at * ks);
      shapeFeatures(x, kh, kw, candidateRadius, f);
      f[7] = fit.residual[d] / spread(k);
      whiten(x, u);
      f[8] = nearest(u, -1);
      radiusFeatures(x, candidateRadius, f);
      phi.set(f, at * FEATURES);
    }
  });

  // The density ratio p_genuine / p_candidate from a logistic regression between the two.
  const centre = new Float64Array(FEATURES);
  const scale = new Float64Array(FEATURES);
  for (let q = 0; q < FEATURES; q++) {
    const col = Float64Array.from(fitted, (_, row) => genuine[row * FEATURES + q]);
    centre[q] = median(col);
    scale[q] = 1.4826 * median(col.map((v) => Math.abs(v - centre[q]))) || 1;
  }
  const genuineRows = designRows(genuine, fitted.length, centre, scale);
  const candidateRows = designRows(phi, pool, centre, scale);
  const candidateFit = evenlySpaced(pool, FIT_ROWS).map((i) => candidateRows[i]);
  const labels = new Uint8Array(genuineRows.length + candidateFit.length);
  labels.fill(1, 0, genuineRows.length);
  const w = fitLogistic([...genuineRows, ...candidateFit], labels);
  const logRatio = candidateRows.map((row) => {
    let t = 0;
    for (let q = 0; q < row.length; q++) t += w[q] * row[q];
    return t;
  });

  // Each decoy keeps one candidate, with probability proportional to the ratio.
  const out = new Float64Array(order.length * ks);
  const donorOf = new Int32Array(order.length);
  const pick = rng.uniform(order.length);
  const weights = new Float64Array(candidates);
  order.forEach((_, j) => {
    let top = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < candidates; c++) top = Math.max(top, logRatio[j * candidates + c]);
    let total = 0;
    for (let c = 0; c < candidates; c++) {
      weights[c] = Math.exp(logRatio[j * candidates + c] - top);
      total += weights[c];
    }
    let c = 0;
    for (let acc = weights[0], goal = pick[j] * total; acc < goal && c < candidates - 1; acc += weights[++c]);
    const at = j * candidates + c;
    out.set(candidateValues.subarray(at * ks, (at + 1) * ks), j * ks);
    donorOf[j] = candidateDonor[at];
  });

  refitSizes(values, shape, order, donorOf, out);
  return out;
}
