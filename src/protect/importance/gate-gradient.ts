// The cheap estimator of PSS's selection: the gradient of the task loss with respect to each
// kernel's log α, at the paper's starting point (deterministic gates, log α = 1.0 in the layer,
// z ≈ 0.78), averaged over a few batches. It is where PSS's first SGD steps go: with the paper's
// optimiser log α moves by −lr · (momentum-amplified) Σ ∂L/∂log α, so while log α stays near its
// start (the first epochs), PSS's ranking is the ranking of −∂L/∂log α. This takes the direction
// without walking it: `batches` forward and backward passes per layer instead of PSS's
// epochs × images / batch.
//
// The L0 penalty is left out: at a common start its gradient is the same for every kernel of the
// layer, so it cannot change the ranking.
import { keep, noGrad, scope } from '../../tensor/index.ts';
import { full } from '../../ops/creation.ts';
import { mul } from '../../ops/arithmetic.ts';
import { reshape } from '../../ops/shape.ts';
import type { Module } from '../../nn/index.ts';
import { type BatchSource, batchesOn } from '../../data/batch-source.ts';
import { toDevice } from '../../ops/convert.ts';
import { type TaskLoss, freeze, pickConvModules } from './data.ts';
import { type ImportanceMap, layerScores } from './scores.ts';
import { PSS_DEFAULTS, PSS_PAPER_SETTING, hardConcreteGate } from './pss.ts';

export interface GateGradientOptions {
  loss: TaskLoss;
  layers?: readonly string[];
  /** Batches averaged per layer, from pass 0 of the data (default 8). */
  batches?: number;
  /** log α of the gates, the same for every kernel (default 1.0, PSS's start in the paper's setting). */
  initLogAlpha?: number;
  /** Called after each layer. */
  onLayer?: (info: { layer: string; layerIndex: number; layerCount: number }) => void;
}

export const GATE_GRADIENT_DEFAULTS = { batches: 8, initLogAlpha: PSS_PAPER_SETTING.initLogAlpha };

/** Per kernel, −mean over batches of ∂(task loss)/∂log α at the deterministic gate z(initLogAlpha); higher = more important. */
export async function gateGradientImportance(model: Module, data: BatchSource, options: GateGradientOptions): Promise<ImportanceMap> {
  const batches = options.batches ?? GATE_GRADIENT_DEFAULTS.batches;
  const init = options.initLogAlpha ?? GATE_GRADIENT_DEFAULTS.initLogAlpha;
  if (!Number.isInteger(batches) || batches < 1) throw new RangeError('gate-gradient: batches must be a positive integer');
  if (!Number.isFinite(init)) throw new RangeError('gate-gradient: initLogAlpha must be a finite number');
  const convs = pickConvModules(model, options.layers);
  const device = model.device;
  const onDevice = batchesOn(data, device);
  const out: ImportanceMap = new Map();
  const unfreeze = freeze(model);
  try {
    let layerIndex = 0;
    for (const [name, conv] of convs) {
      const [a, b] = conv.weight.shape;
      const logAlpha = keep(noGrad(() => scope(() => toDevice(full([a, b], init), device))));
      logAlpha.requiresGrad = true;
      const sum = new Float64Array(a * b);
      let seen = 0;
      conv.weightTransform = (w) => scope(() => mul(w, reshape(hardConcreteGate(logAlpha, false, PSS_DEFAULTS.beta, PSS_DEFAULTS.gamma, PSS_DEFAULTS.zeta), [a, b, 1, 1])));
      try {
        for await (const batch of onDevice.epoch(0)) {
          try {
            const g = scope(() => {
              logAlpha.setGrad(null);
              options.loss(model.forward(batch.x), batch.y).backward();
              const grad = logAlpha.grad;
              if (!grad) throw new Error(`gate-gradient: no gradient reached ${name}`);
              return grad.toTypedArray() as Float32Array;
            });
            for (let k = 0; k < g.length; k++) sum[k] += g[k];
          } finally {
            batch.x.dispose();
            batch.y.dispose();
          }
          if (++seen >= batches) break;
        }
        if (seen === 0) throw new Error('gate-gradient: the data gave no batches');
        out.set(
          name,
          layerScores(
            [a, b],
            Float32Array.from(sum, (v) => -v / seen),
          ),
        );
      } finally {
        conv.weightTransform = null;
        logAlpha.setGrad(null);
        logAlpha.dispose();
      }
      options.onLayer?.({ layer: name, layerIndex, layerCount: convs.size });
      layerIndex++;
    }
  } finally {
    unfreeze();
  }
  return out;
}
