// First-order Taylor importance (Molchanov et al., "Pruning convolutional neural networks for
// resource efficient inference", ICLR 2017): removing kernel k changes the loss by about
// |Σ_{j∈k} w_j ∂L/∂w_j|. The term is computed per batch and averaged over a few batches (per batch
// first, so that signs of different batches do not cancel). Weights frozen otherwise; batch norm
// in eval mode. Cost: `batches` forward and backward passes.
import { type Tensor, keep, noGrad, scope } from '../../tensor/index.ts';
import { abs, div, mul } from '../../ops/arithmetic.ts';
import { addInPlace } from '../../ops/inplace.ts';
import { sum } from '../../ops/reduction.ts';
import type { Module } from '../../nn/index.ts';
import type { BatchSource } from '../../data/batch-source.ts';
import { type TaskLoss, freeze, pickConvModules } from './data.ts';
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
  const convs = pickConvModules(model, options.layers);
  const acc = new Map<string, Tensor>();
  const unfreeze = freeze(model);
  let seen = 0;
  try {
    for (const conv of convs.values()) conv.weight.requiresGrad = true;
    for await (const batch of data.epoch(0)) {
      try {
        scope(() => {
          for (const conv of convs.values()) conv.weight.setGrad(null);
          options.loss(model.forward(batch.x), batch.y).backward();
          noGrad(() => {
            for (const [name, conv] of convs) {
              const g = conv.weight.grad;
              if (!g) throw new Error(`taylor: no gradient reached ${name}`);
              const term = abs(sum(mul(conv.weight, g), [2, 3]));
              const prev = acc.get(name);
              if (prev) addInPlace(prev, term);
              else acc.set(name, keep(term));
            }
          });
        });
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
      if (++seen >= maxBatches) break;
    }
    if (seen === 0) throw new Error('taylor: the data gave no batches');
    const out: ImportanceMap = new Map();
    for (const [name, t] of acc) {
      const [a, b] = t.shape;
      const mean = noGrad(() => scope(() => div(t, seen).toTypedArray() as Float32Array));
      out.set(name, layerScores([a, b], new Float32Array(mean)));
    }
    return out;
  } finally {
    for (const t of acc.values()) t.dispose();
    unfreeze();
  }
}
