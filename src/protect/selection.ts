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

/**
 * ⌊N·ratio⌋ + 1, at most N. A tiny epsilon keeps e.g. 100 × 0.29 = 28.999… at 29. Ratio 1 is dense
 * protection: every kernel of the layer (the mode that removes a fine-tuning thief's head start).
 */
export function selectedCount(kernels: number, ratio: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`ratio must be in [0, 1], got ${ratio}`);
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

/**
 * How the ⌊N·ratio⌋ + 1 kernels are picked from the ranking:
 *   'top'       the most important, wherever they are (Tian et al.),
 *   'balanced'  the most important under a cap per output channel (row a of [A, B]) and per
 *               input channel (column b): about the same number in every row and every column.
 *               Important kernels cluster in rows and columns of large kernels, so with 'top' the
 *               positions alone point at the decoys (src/audit's rowColumnEffect detector); a
 *               balanced selection spreads them so that no row or column stands out.
 */
export type SelectionMode = 'top' | 'balanced';
export const SELECTION_MODES: readonly SelectionMode[] = ['top', 'balanced'];

/** Greedy in ranking order: accept a kernel while its row and column are under their caps; raise the caps if a pass falls short. */
function balancedPrefix(ranked: Int32Array, a: number, b: number, count: number): Int32Array {
  const taken = new Uint8Array(a * b);
  const out: number[] = [];
  for (let slack = 0; out.length < count; slack++) {
    const rowCap = Math.ceil(count / a) + slack;
    const colCap = Math.ceil(count / b) + slack;
    const rows = new Int32Array(a);
    const cols = new Int32Array(b);
    for (const k of out) {
      rows[Math.floor(k / b)]++;
      cols[k % b]++;
    }
    for (let i = 0; i < ranked.length && out.length < count; i++) {
      const k = ranked[i];
      if (taken[k]) continue;
      const r = Math.floor(k / b);
      const c = k % b;
      if (rows[r] >= rowCap || cols[c] >= colCap) continue;
      taken[k] = 1;
      rows[r]++;
      cols[c]++;
      out.push(k);
    }
  }
  // Ranking order, so that tiers still restore the most important first.
  const rank = new Int32Array(a * b);
  ranked.forEach((k, i) => {
    rank[k] = i;
  });
  return Int32Array.from(out).sort((x, y) => rank[x] - rank[y]);
}

/**
 * What protect puts decoys in:
 *   'sparse'       the ⌊N·ratio⌋ + 1 most important kernels of each layer (Tian et al.; the
 *                  default). It stops a model being used as it is, but a thief who fine-tunes the
 *                  tier-0 file with a few hundred labelled images keeps a large head start over
 *                  training from scratch (22–30 accuracy points on ResNet-20: the clear weights
 *                  are a pretrained model with holes).
 *   'dense-front'  EVERY kernel of the first conv layers (file order) that together hold
 *                  `frontShare` of the model's conv weights (default 0.25; ResNet-20: conv1,
 *                  layer1 and layer2, 24% of all weights). The clear back of the network is tuned
 *                  to features it no longer gets, so fine-tuning the tier-0 file is no better than
 *                  training from scratch (experiments/results/protect/audit.md). The ranking still
 *                  orders the kernels into tiers.
 */
export type ProtectMode = 'sparse' | 'dense-front';
export const PROTECT_MODES: readonly ProtectMode[] = ['sparse', 'dense-front'];
export const DEFAULT_FRONT_SHARE = 0.25;

/**
 * The leading layers (in the order given: file order, which is model order in the files nnlock
 * and PyTorch's state_dict write, but not in a file whose tensors are sorted by name) whose weights
 * add up to at most `share` of all the layers' weights; at least the first layer.
 */
export function frontLayers(layers: readonly ConvLayer[], share = DEFAULT_FRONT_SHARE): ConvLayer[] {
  if (!(share > 0 && share <= 1)) throw new RangeError(`the front share must be in (0, 1], got ${share}`);
  const size = (l: ConvLayer) => l.kernels * l.kernelSize;
  const total = layers.reduce((n, l) => n + size(l), 0);
  const out: ConvLayer[] = [];
  let sum = 0;
  for (const l of layers) {
    if (out.length > 0 && sum + size(l) > share * total * (1 + 1e-9)) break;
    out.push(l);
    sum += size(l);
  }
  return out;
}

export function selectLayer(layer: ConvLayer, scores: LayerScores, ratio: number, mode: SelectionMode = 'top'): LayerSelection {
  const ranked = rankKernels(scores);
  const count = selectedCount(layer.kernels, ratio);
  if (mode === 'balanced') return { layer, ranked: balancedPrefix(ranked, layer.shape[0], layer.shape[1], count) };
  return { layer, ranked: ranked.slice(0, count) };
}

export function selectKernels(layers: readonly ConvLayer[], importance: ImportanceMap, ratio: number, mode: SelectionMode = 'top'): LayerSelection[] {
  checkImportanceCovers(importance, layers);
  return layers.map((l) => selectLayer(l, importance.get(l.name)!, ratio, mode));
}
