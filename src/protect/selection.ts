// Which kernels to protect: per layer, the ⌊N·ratio⌋ + 1 most important of its N kernels, in
// ranking order (most important first). The +1 (Tian et al.) protects at least one kernel of
// every named layer even at tiny ratios. Ties go to the lower flat index, so a ranking never
// depends on the sort algorithm; the ranking order is what tiers cut their prefixes from.
import type { ConvLayer } from './layers.ts';
import type { ImportanceMap, LayerScores } from './importance/scores.ts';
import { checkImportanceCovers } from './importance/io.ts';

/** Selected kernels of one layer, most important first (flat indices a·B + b). */
export interface LayerSelection {
  layer: ConvLayer;
  ranked: Int32Array;
}

/** ⌊N·ratio⌋ + 1, at most N. A tiny epsilon keeps e.g. 100 × 0.29 = 28.999… at 29. */
export function selectedCount(kernels: number, ratio: number): number {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`ratio must be in [0, 1), got ${ratio}`);
  return Math.min(kernels, Math.floor(kernels * ratio + 1e-9) + 1);
}

/** Every kernel index ordered by descending score, ties by ascending index. */
export function rankKernels(scores: LayerScores): Int32Array {
  const s = scores.scores;
  for (let i = 0; i < s.length; i++) if (Number.isNaN(s[i])) throw new Error(`importance score ${i} is NaN`);
  const idx = Array.from({ length: s.length }, (_, i) => i);
  idx.sort((i, j) => s[j] - s[i] || i - j);
  return Int32Array.from(idx);
}

export function selectLayer(layer: ConvLayer, scores: LayerScores, ratio: number): LayerSelection {
  return { layer, ranked: rankKernels(scores).slice(0, selectedCount(layer.kernels, ratio)) };
}

export function selectKernels(layers: readonly ConvLayer[], importance: ImportanceMap, ratio: number): LayerSelection[] {
  checkImportanceCovers(importance, layers);
  return layers.map((l) => selectLayer(l, importance.get(l.name)!, ratio));
}
