// First-order Taylor importance (Molchanov et al., "Pruning convolutional neural networks for
// resource efficient inference", ICLR 2017): removing kernel k changes the loss by about
// |Σ_{j∈k} w_j ∂L/∂w_j|. The term is computed per batch and averaged over a few batches (per batch
// first, so that signs of different batches do not cancel). Weights frozen otherwise; batch norm
// in eval mode. Cost: `batches` forward and backward passes.
import { abs, mul } from '../../ops/arithmetic.ts';
import { sum } from '../../ops/reduction.ts';
import type { Module } from '../../nn/index.ts';
import type { BatchSource } from '../../data/batch-source.ts';
import type { TaskLoss } from './data.ts';
import { sumKernelGradientTerms } from './kernel-gradients.ts';
import { type ImportanceMap, layerScores } from './scores.ts';

export interface TaylorOptions {
  loss: TaskLoss;
  layers?: readonly string[];
  /** Batches to average over (default 8), taken from pass 0 of the data. */
  batches?: number;
}

export async function taylorImportance(model: Module, data: BatchSource, options: TaylorOptions): Promise<ImportanceMap> {
  const maxBatches = options.batches ?? 8;
  if (!Number.isInteger(maxBatches) || maxBatches < 1) throw new RangeError('taylor: batches must be a positive integer');
  const { sums, batches } = await sumKernelGradientTerms(model, data, { loss: options.loss, layers: options.layers, batches: maxBatches, who: 'taylor' }, (w, g) => abs(sum(mul(w, g), [2, 3])));
  if (batches === 0) throw new Error('taylor: the data gave no batches');
  const out: ImportanceMap = new Map();
  // The mean in float32, as a float32 division would give it (a double quotient of two float32
  // values rounds to the correctly rounded float32 quotient).
  for (const [name, s] of sums)
    out.set(
      name,
      layerScores(
        s.shape,
        s.values.map((v) => Math.fround(v / batches)),
      ),
    );
  return out;
}
