// The gradient detector: an attacker runs the published model on a few hundred labelled inputs
// and scores every kernel by its empirical Fisher information, Σ over batches of Σ_{j∈k} (∂L/∂w_j)²
// (batch norm in eval mode, weights unchanged). A decoy sits where an important kernel was, in a
// network that was tuned around the original: if the loss is unusually sensitive there, this
// finds it. Also the Fisher score over the kernel's squared norm (sensitivity per unit of weight).
import { mul } from '../ops/arithmetic.ts';
import { sum } from '../ops/reduction.ts';
import type { Module } from '../nn/index.ts';
import type { BatchSource, TaskKind } from '../data/batch-source.ts';
import { taskLoss } from '../protect/importance/data.ts';
import { sumKernelGradientTerms } from '../protect/importance/kernel-gradients.ts';

export interface FisherOptions {
  task: TaskKind;
  layers?: readonly string[];
  /** Batches of pass 0 of the data to sum over (default: all). */
  batches?: number;
}

/** Per conv weight name, the Fisher score of each of its A·B kernels. */
export async function fisherScores(model: Module, data: BatchSource, o: FisherOptions): Promise<Map<string, Float64Array>> {
  const { sums } = await sumKernelGradientTerms(model, data, { loss: taskLoss(o.task), layers: o.layers, batches: o.batches, who: 'fisher' }, (_w, g) => sum(mul(g, g), [2, 3]));
  return new Map([...sums].map(([name, s]) => [name, Float64Array.from(s.values)]));
}
