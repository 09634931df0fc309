// The gradient detector: an attacker runs the published model on a few hundred labelled inputs
// and scores every kernel by its empirical Fisher information, Σ over batches of Σ_{j∈k} (∂L/∂w_j)²
// (batch norm in eval mode, weights unchanged). A decoy sits where an important kernel was, in a
// network that was tuned around the original: if the loss is unusually sensitive there, this
// finds it. Also the Fisher score over the kernel's squared norm (sensitivity per unit of weight).
import { type Tensor, keep, noGrad, scope } from '../tensor/index.ts';
import { mul } from '../ops/arithmetic.ts';
import { addInPlace } from '../ops/inplace.ts';
import { sum } from '../ops/reduction.ts';
import type { Module } from '../nn/index.ts';
import type { BatchSource, TaskKind } from '../data/batch-source.ts';
import { freeze, pickConvModules, taskLoss } from '../protect/importance/data.ts';

export interface FisherOptions {
  task: TaskKind;
  layers?: readonly string[];
  /** Batches of pass 0 of the data to sum over (default: all). */
  batches?: number;
}

/** Per conv weight name, the Fisher score of each of its A·B kernels. */
export async function fisherScores(model: Module, data: BatchSource, o: FisherOptions): Promise<Map<string, Float64Array>> {
  const loss = taskLoss(o.task);
  const convs = pickConvModules(model, o.layers);
  const acc = new Map<string, Tensor>();
  const unfreeze = freeze(model);
  let seen = 0;
  try {
    for (const conv of convs.values()) conv.weight.requiresGrad = true;
    for await (const batch of data.epoch(0)) {
      try {
        scope(() => {
          for (const conv of convs.values()) conv.weight.setGrad(null);
          loss(model.forward(batch.x), batch.y).backward();
          noGrad(() => {
            for (const [name, conv] of convs) {
              const g = conv.weight.grad;
              if (!g) throw new Error(`fisher: no gradient reached ${name}`);
              const term = sum(mul(g, g), [2, 3]);
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
      if (o.batches !== undefined && ++seen >= o.batches) break;
    }
    const out = new Map<string, Float64Array>();
    for (const [name, t] of acc) out.set(name, Float64Array.from(noGrad(() => t.toTypedArray() as Float32Array)));
    return out;
  } finally {
    for (const t of acc.values()) t.dispose();
    unfreeze();
  }
}
