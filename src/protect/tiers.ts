// Tiers: level m of M restores a prefix of each layer's ranking of its S selected kernels, the
// first ⌊f_m · S⌋, with 0 = f_0 < f_1 < … < f_M = 1. Prefixes of one ranking are nested by
// construction, so a higher key always restores a superset of what a lower key restores.
//
// Default rule (Tian et al.): f_m = 0.6 + 0.4·m/M for m ≥ 1. Calibrated rule: the owner gives a
// target metric per tier (accuracy, PSNR: higher is better) and f_m is the smallest fraction whose
// partially restored model meets it, found by bisection over the fractions where the restored set
// actually changes (the breakpoints k/S of every layer): about log2(Σ S) evaluations per tier.

import type { LayerSelection } from './selection.ts';

/** f_1..f_M of the default rule (f_M is exactly 1). */
export function defaultFractions(tiers: number): number[] {
  checkTierCount(tiers);
  return Array.from({ length: tiers }, (_, i) => (i + 1 === tiers ? 1 : 0.6 + (0.4 * (i + 1)) / tiers));
}

export function checkTierCount(tiers: number): void {
  if (!Number.isInteger(tiers) || tiers < 1 || tiers > 255) throw new RangeError(`the number of tiers must be an integer in [1, 255], got ${tiers}`);
}

/** f_1..f_M must rise strictly within (0, 1] and end at 1 (the top tier restores everything). */
export function checkFractions(fractions: readonly number[]): void {
  checkTierCount(fractions.length);
  let prev = 0;
  for (const [i, f] of fractions.entries()) {
    if (!(f > prev && f <= 1)) throw new RangeError(`tier fractions must rise strictly within (0, 1]: tier ${i + 1} has ${f} after ${prev}`);
    prev = f;
  }
  if (prev !== 1) throw new RangeError(`the top tier must restore every selected kernel (fraction 1), got ${prev}`);
}

/** ⌊f · S⌋ (the epsilon keeps k/S · S at k despite rounding). */
export function prefixCount(selected: number, fraction: number): number {
  if (fraction >= 1) return selected;
  return Math.min(selected, Math.floor(fraction * selected + 1e-9));
}

/** Per layer, the prefix length of tiers 0..M. */
export function tierCounts(selections: readonly LayerSelection[], fractions: readonly number[]): number[][] {
  return selections.map((s) => [0, ...fractions.map((f) => prefixCount(s.ranked.length, f))]);
}

export function restoredTotal(selections: readonly LayerSelection[], fraction: number): number {
  return selections.reduce((n, s) => n + prefixCount(s.ranked.length, fraction), 0);
}

/** Throws unless each tier restores strictly more kernels than the one below it. */
export function checkStrictTiers(selections: readonly LayerSelection[], fractions: readonly number[]): void {
  let prev = 0;
  for (const [i, f] of fractions.entries()) {
    const n = restoredTotal(selections, f);
    if (n <= prev) {
      throw new RangeError(`tier ${i + 1} would restore no more kernels than tier ${i} (${n} vs ${prev}): ` + 'protect more kernels (a higher ratio), use fewer tiers, or give other fractions');
    }
    prev = n;
  }
}

/** Every fraction in (0, 1] at which some layer's prefix grows, ascending. */
export function breakpoints(selections: readonly LayerSelection[]): number[] {
  const set = new Set<number>([1]);
  for (const s of selections) for (let k = 1; k <= s.ranked.length; k++) set.add(k / s.ranked.length);
  return [...set].sort((a, b) => a - b);
}

export interface CalibrationOptions {
  selections: readonly LayerSelection[];
  /**
   * Targets of tiers 1..M−1, rising strictly; or of tiers 1..M, the last one then being checked
   * against the fully restored model. The number of tiers M is targets.length + 1 in the first
   * case, targets.length in the second: say which with `tiers`.
   */
  targets: readonly number[];
  tiers: number;
  /** The metric (higher is better) of the model with prefix fraction f of every layer restored. */
  metricAt: (fraction: number) => Promise<number> | number;
  onEvaluate?: (fraction: number, metric: number) => void;
}

export interface CalibrationResult {
  /** f_1..f_M. */
  fractions: number[];
  /** Metric of tiers 0..M. */
  metrics: number[];
  /** Model evaluations made. */
  evaluations: number;
}

/**
 * Smallest fractions meeting each tier's target, assuming the metric grows with the fraction
 * (nearly so in practice; the metric at the chosen fraction is measured, not assumed, and
 * reported). Each tier restores at least one kernel more than the tier below, so the tiers stay
 * strictly ordered even when a target is already met lower down.
 */
export async function calibrateFractions(o: CalibrationOptions): Promise<CalibrationResult> {
  checkTierCount(o.tiers);
  const M = o.tiers;
  if (o.targets.length !== M - 1 && o.targets.length !== M) {
    throw new RangeError(`${M} tiers need ${M - 1} targets (tiers 1..${M - 1}; the top tier restores everything) or ${M}, got ${o.targets.length}`);
  }
  for (let i = 1; i < o.targets.length; i++) {
    if (!(o.targets[i] > o.targets[i - 1])) throw new RangeError(`tier targets must rise strictly: tier ${i + 1} has ${o.targets[i]} after ${o.targets[i - 1]}`);
  }
  const cache = new Map<number, number>();
  const metric = async (f: number): Promise<number> => {
    let v = cache.get(f);
    if (v === undefined) {
      v = await o.metricAt(f);
      if (!Number.isFinite(v)) throw new Error(`calibration: the metric at fraction ${f} is ${v}`);
      cache.set(f, v);
      o.onEvaluate?.(f, v);
    }
    return v;
  };
  const points = breakpoints(o.selections);
  const top = await metric(1);
  const bottom = await metric(0);
  if (o.targets.length === M && top < o.targets[M - 1]) {
    throw new RangeError(`the top tier target ${o.targets[M - 1]} is above what the unprotected model reaches (${top})`);
  }
  const fractions: number[] = [];
  let lo = -1; // index in points of the tier below (−1: fraction 0)
  for (let m = 1; m < M; m++) {
    const target = o.targets[m - 1];
    if (target > top) throw new RangeError(`tier ${m} target ${target} is above what the unprotected model reaches (${top})`);
    // Leave room for the tiers above: each needs at least one more breakpoint.
    let hi = points.length - 1 - (M - m);
    if (hi <= lo) throw new RangeError(`too few protected kernels for ${M} strictly ordered tiers: protect more kernels or use fewer tiers`);
    if ((await metric(points[hi])) < target) {
      throw new RangeError(`tier ${m} target ${target} cannot be met below the top tier (best ${await metric(points[hi])} at fraction ${points[hi].toFixed(4)})`);
    }
    let below = lo;
    while (hi - below > 1) {
      const mid = (below + hi) >> 1;
      if ((await metric(points[mid])) >= target) hi = mid;
      else below = mid;
    }
    fractions.push(points[hi]);
    lo = hi;
  }
  fractions.push(1);
  checkFractions(fractions);
  checkStrictTiers(o.selections, fractions);
  const metrics = [bottom];
  for (const f of fractions) metrics.push(await metric(f));
  return { fractions, metrics, evaluations: cache.size };
}
