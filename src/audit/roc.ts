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
