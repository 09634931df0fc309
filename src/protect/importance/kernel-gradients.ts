// One pass of per-kernel gradient statistics over a few batches, shared by the Taylor importance
// (Σ |w·∂L/∂w| per kernel) and the attacker's Fisher detector in src/audit (Σ (∂L/∂w)² per kernel):
// both freeze the model (batch norm in eval mode, weights unchanged), let gradients reach the conv
// weights only, and sum one [A, B] term per batch and conv layer.
import { type Tensor, keep, noGrad, scope } from '../../tensor/index.ts';
import { addInPlace } from '../../ops/inplace.ts';
import type { Module } from '../../nn/index.ts';
import { type BatchSource, batchesOn } from '../../data/batch-source.ts';
import { type TaskLoss, freeze, pickConvModules } from './data.ts';

export interface KernelGradientPass {
  loss: TaskLoss;
  layers?: readonly string[];
  /** Batches of pass 0 of the data to sum over (default: all). */
  batches?: number;
  /** Names the caller in errors ("taylor", "fisher"). */
  who: string;
}

export interface KernelSums {
  /** [A, B]: output and input channels. */
  shape: [number, number];
  /** A·B sums, row-major, in float32 as libtorch summed them. */
  values: Float32Array;
}

/** Per conv weight name, the sum over batches of term(weight, grad) (an [A, B] tensor), and the batch count. */
export async function sumKernelGradientTerms(
  model: Module,
  data: BatchSource,
  o: KernelGradientPass,
  term: (weight: Tensor, grad: Tensor) => Tensor,
): Promise<{ sums: Map<string, KernelSums>; batches: number }> {
  const convs = pickConvModules(model, o.layers);
  const acc = new Map<string, Tensor>();
  const unfreeze = freeze(model);
  let seen = 0;
  try {
    for (const conv of convs.values()) conv.weight.requiresGrad = true;
    for await (const batch of batchesOn(data, model.device).epoch(0)) {
      try {
        scope(() => {
          for (const conv of convs.values()) conv.weight.setGrad(null);
          o.loss(model.forward(batch.x), batch.y).backward();
          noGrad(() => {
            for (const [name, conv] of convs) {
              const g = conv.weight.grad;
              if (!g) throw new Error(`${o.who}: no gradient reached ${name}`);
              const t = term(conv.weight, g);
              const prev = acc.get(name);
              if (prev) addInPlace(prev, t);
              else acc.set(name, keep(t));
            }
          });
        });
      } finally {
        batch.x.dispose();
        batch.y.dispose();
      }
      seen++;
      if (o.batches !== undefined && seen >= o.batches) break;
    }
    const sums = new Map<string, KernelSums>();
    for (const [name, t] of acc) {
      const [a, b] = t.shape;
      sums.set(name, { shape: [a, b], values: new Float32Array(noGrad(() => t.toTypedArray() as Float32Array)) });
    }
    return { sums, batches: seen };
  } finally {
    for (const t of acc.values()) t.dispose();
    unfreeze();
  }
}
