// How alike two importance maps are, as selection sees them: the overlap of the kernels each
// would protect at a ratio (the same ⌊N·r⌋ + 1 per layer as selectKernels), and Spearman's rank
// correlation of the scores. Used to measure a cheap estimator against PSS.
import { rankKernels, selectedCount } from '../selection.ts';
import type { ImportanceMap, LayerScores } from './scores.ts';

/** Ranks 0..n−1 of the scores, descending (higher score = lower rank); ties get their mean rank. */
function ranks(s: Float32Array): Float64Array {
  const order = Array.from({ length: s.length }, (_, i) => i).sort((i, j) => s[j] - s[i]);
  const r = new Float64Array(s.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && s[order[j + 1]] === s[order[i]]) j++;
    for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/** Spearman's ρ of two score vectors of one layer (Pearson's r of their ranks, ties averaged). */
export function spearman(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} and ${b.length} scores`);
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const m = (n - 1) / 2;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - m) * (rb[i] - m);
    saa += (ra[i] - m) ** 2;
    sbb += (rb[i] - m) ** 2;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}

/** Share of the kernels `a` would protect at `ratio` that `b` would protect too (top-r overlap). */
export function topOverlap(a: LayerScores, b: LayerScores, ratio: number): number {
  const n = selectedCount(a.scores.length, ratio);
  const inB = new Set(rankKernels(b).subarray(0, n));
  let both = 0;
  for (const k of rankKernels(a).subarray(0, n)) if (inB.has(k)) both++;
  return both / n;
}

export interface ImportanceAgreement {
  /** Per layer of `a` (all must be in `b`): Spearman's ρ and the top-r overlap at each ratio. */
  layers: { name: string; kernels: number; spearman: number; overlap: Record<string, number> }[];
  /** Kernel-weighted means over the layers. */
  spearman: number;
  overlap: Record<string, number>;
}

/** Agreement of two importance maps over the layers of `a`, at the given ratios. */
export function compareImportance(a: ImportanceMap, b: ImportanceMap, ratios: readonly number[]): ImportanceAgreement {
  const layers: ImportanceAgreement['layers'] = [];
  for (const [name, s] of a) {
    const t = b.get(name);
    if (!t) throw new Error(`compareImportance: the second map has no layer '${name}'`);
    layers.push({ name, kernels: s.scores.length, spearman: spearman(s.scores, t.scores), overlap: Object.fromEntries(ratios.map((r) => [String(r), topOverlap(s, t, r)])) });
  }
  const total = layers.reduce((n, l) => n + l.kernels, 0);
  const weighted = (f: (l: ImportanceAgreement['layers'][number]) => number) => layers.reduce((acc, l) => acc + f(l) * l.kernels, 0) / total;
  return { layers, spearman: weighted((l) => l.spearman), overlap: Object.fromEntries(ratios.map((r) => [String(r), weighted((l) => l.overlap[String(r)])])) };
}
