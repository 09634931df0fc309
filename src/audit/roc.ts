// ROC AUC of a detector: the probability that a random positive (a decoy) scores above a random
// negative (a genuine kernel), ties counting one half (the Mann–Whitney U statistic over n⁺·n⁻).

/** AUC of `scores` for the positives flagged in `positive`; NaN without positives or negatives. */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1; // 1-based mid-rank of the tie group
    for (let t = i; t <= j; t++) {
      if (positive[order[t]]) {
        pos++;
        rankSum += midRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * How well a score separates the classes whichever way it points: max(AUC, 1 − AUC). An attacker
 * who simulates decoys of his own learns which way a statistic points, so this is what counts.
 */
export function separability(auc: number): number {
  return Math.max(auc, 1 - auc);
}

/** Fraction of the `count` highest-scoring items that are positives (the audit's precision at S). */
export function precisionAt(scores: ArrayLike<number>, positive: ArrayLike<number>, count: number): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  let hits = 0;
  for (let i = 0; i < count && i < order.length; i++) if (positive[order[i]]) hits++;
  return count > 0 ? hits / Math.min(count, order.length) : Number.NaN;
}

/** Scores turned into within-set percentile ranks in (0, 1), so layers can be pooled. */
export function percentileRanks(scores: ArrayLike<number>): Float64Array {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const out = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let t = i; t <= j; t++) out[order[t]] = ((i + j) / 2 + 0.5) / n;
    i = j + 1;
  }
  return out;
}

/** The standard normal quantile for a probability p in (0, 1) (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * What a detector at chance scores at this size: the `level` quantile of max(AUC, 1 − AUC) when
 * decoys and genuine kernels come from the same distribution. Under that null the AUC (a
 * Mann–Whitney U over n⁺·n⁻) has mean 1/2 and variance (n⁺ + n⁻ + 1) / (12·n⁺·n⁻); 4 decoys
 * among 48 kernels reach 0.80 one time in twenty, 328 among 4096 only 0.534.
 */
export function chanceSeparability(positives: number, negatives: number, level = 0.95): number {
  if (positives < 1 || negatives < 1) return Number.NaN;
  const sd = Math.sqrt((positives + negatives + 1) / (12 * positives * negatives));
  return Math.min(1, 0.5 + normalQuantile((1 + level) / 2) * sd);
}

/**
 * A confidence interval of an AUC measured on `positives` and `negatives` (Hanley and McNeil's
 * standard error, normal approximation, clamped to [0, 1]).
 */
export function aucInterval(auc: number, positives: number, negatives: number, level = 0.95): [number, number] {
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives);
  const half = normalQuantile((1 + level) / 2) * Math.sqrt(Math.max(variance, 0));
  return [Math.max(0, auc - half), Math.min(1, auc + half)];
}
