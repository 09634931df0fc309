// PSS, the probabilistic selection strategy of Tian, Zhou and Duan (CVPR 2021): each kernel gets
// a hard-concrete L0 gate (Louizos, Welling and Kingma, ICLR 2018) with a learned log α; kernels
// the task needs keep their gates open against an L0 penalty, the others let them close. The
// learned log α is the importance.
//
// Gates are learned one layer at a time, every weight frozen and every other gate open (other
// layers run unchanged), through Conv2d.weightTransform: w ↦ w · z[:, :, None, None].
//
//   training:   u ~ U(0, 1), s = σ((log u − log(1 − u) + log α) / β), z = clamp(s(ζ − γ) + γ, 0, 1)
//   evaluation: z = clamp(σ(log α)(ζ − γ) + γ, 0, 1)
//   loss:       task loss + λ · Σ σ(log α − β log(−γ / ζ))      (the expected number of open gates)
//
// Cost: per layer, epochs × (images / batch) forward passes and the backward pass from that layer
// on. ResNet-20 with the defaults (1024 images, 2 epochs, batch 128: 16 steps for each of its 19
// conv layers) takes a few minutes on 2 CPU cores; the cost grows linearly in images × epochs ×
// layers.
import { type Tensor, keep, manualSeed, noGrad, scope } from '../../tensor/index.ts';
import { add, clamp, log, mul, sub } from '../../ops/arithmetic.ts';
import { sigmoid } from '../../ops/activation.ts';
import { full, rand } from '../../ops/creation.ts';
import { clampInPlace, normalInPlace } from '../../ops/inplace.ts';
import { sum } from '../../ops/reduction.ts';
import { reshape } from '../../ops/shape.ts';
import { Adam, type Module } from '../../nn/index.ts';
import { type BatchSource, batchesOn } from '../../data/batch-source.ts';
import { toDevice } from '../../ops/convert.ts';
import { type TaskLoss, freeze, pickConvModules } from './data.ts';
import { type ImportanceMap, layerScores } from './scores.ts';
import { type ProcessGroup, Reducer } from '../../distributed/index.ts';

export interface PssOptions {
  loss: TaskLoss;
  /** Conv layers to score (weight or module names); default every Conv2d. */
  layers?: readonly string[];
  /** Passes over the data per layer (default 2). */
  epochs?: number;
  /** Adam learning rate on log α (default 0.05). */
  lr?: number;
  /** Weight of the L0 penalty (default 1e-4, as the paper). */
  lambda?: number;
  /** Hard-concrete temperature β (2/3), stretch limits γ (−0.1) and ζ (1.1). */
  beta?: number;
  gamma?: number;
  zeta?: number;
  /**
   * log α starts at N(log(1 − p) − log p, 0.01²) as in the L0 reference code. Default p = 0.1
   * (log α ≈ 2.2): the gates start nearly open (evaluation gate ≈ 0.98; in training about two
   * thirds of the draws are fully open), so the network starts at its real accuracy and each
   * gate's gradient measures what closing that kernel costs. The reference default p = 0.5 would
   * start every gate half shut, far from the trained network the importance is about.
   */
  droprateInit?: number;
  /** Seeds the engine's generator before each layer (init and gate noise). Default 0. */
  seed?: number;
  /**
   * Learn the gates data-parallel in this group (`data` is then this rank's shard): log α starts
   * as rank 0's and its gradient is averaged across the ranks by c10d's Reducer at every step.
   */
  group?: ProcessGroup;
  /** Called after each step. */
  onStep?: (info: { layer: string; layerIndex: number; layerCount: number; epoch: number; step: number; loss: number }) => void;
}

export const PSS_DEFAULTS = { epochs: 2, lr: 0.05, lambda: 1e-4, beta: 2 / 3, gamma: -0.1, zeta: 1.1, droprateInit: 0.1, seed: 0 };

/** log α is kept in [ln 0.01, ln 100] after each step, as the L0 reference code does. */
export const LOG_ALPHA_MIN = Math.log(0.01);
export const LOG_ALPHA_MAX = Math.log(100);

/** Gate values z for log α (training: a stochastic draw; evaluation: the deterministic gate). */
export function hardConcreteGate(logAlpha: Tensor, training: boolean, beta = PSS_DEFAULTS.beta, gamma = PSS_DEFAULTS.gamma, zeta = PSS_DEFAULTS.zeta): Tensor {
  return scope(() => {
    let s: Tensor;
    if (training) {
      const eps = 1e-6;
      const u = clamp(rand(logAlpha.shape, { device: logAlpha.device }), eps, 1 - eps);
      const logit = sub(log(u), log(sub(1, u)));
      s = sigmoid(mul(add(logit, logAlpha), 1 / beta));
    } else {
      s = sigmoid(logAlpha);
    }
    return clamp(add(mul(s, zeta - gamma), gamma), 0, 1);
  });
}

/** The L0 penalty term Σ σ(log α − β log(−γ/ζ)) (before λ). */
export function l0Penalty(logAlpha: Tensor, beta = PSS_DEFAULTS.beta, gamma = PSS_DEFAULTS.gamma, zeta = PSS_DEFAULTS.zeta): Tensor {
  return scope(() => sum(sigmoid(sub(logAlpha, beta * Math.log(-gamma / zeta)))));
}

/** Learns the gates of each requested conv layer in turn; importance = the learned log α. */
export async function pssImportance(model: Module, data: BatchSource, options: PssOptions): Promise<ImportanceMap> {
  const o = { ...PSS_DEFAULTS, ...options };
  if (!(o.lambda >= 0) || !(o.lr > 0) || !(o.epochs >= 1) || !(o.droprateInit > 0 && o.droprateInit < 1)) {
    throw new RangeError('pss: needs lambda ≥ 0, lr > 0, epochs ≥ 1 and 0 < droprateInit < 1');
  }
  const convs = pickConvModules(model, options.layers);
  const device = model.device;
  const batches = batchesOn(data, device);
  const out: ImportanceMap = new Map();
  const unfreeze = freeze(model);
  try {
    let layerIndex = 0;
    for (const [name, conv] of convs) {
      const [a, b] = conv.weight.shape;
      manualSeed(o.seed * 1_000_003 + layerIndex);
      const init = Math.log(1 - o.droprateInit) - Math.log(o.droprateInit);
      // Drawn on the CPU whatever the device, so the starting gates are the same everywhere.
      const logAlpha = keep(noGrad(() => scope(() => toDevice(normalInPlace(full([a, b], 0), init, 0.01), device))));
      logAlpha.requiresGrad = true;
      options.group?.broadcastCoalesced([logAlpha]);
      const reducer = options.group && new Reducer(options.group, [logAlpha]);
      const opt = new Adam([logAlpha], { lr: o.lr });
      conv.weightTransform = (w) => scope(() => mul(w, reshape(hardConcreteGate(logAlpha, true, o.beta, o.gamma, o.zeta), [a, b, 1, 1])));
      try {
        let step = 0;
        for (let epoch = 0; epoch < o.epochs; epoch++) {
          for await (const batch of batches.epoch(epoch)) {
            let loss: number;
            try {
              loss = scope(() => {
                opt.zeroGrad();
                reducer?.prepare();
                const task = o.loss(model.forward(batch.x), batch.y);
                const total = add(task, mul(l0Penalty(logAlpha, o.beta, o.gamma, o.zeta), o.lambda));
                total.backward();
                opt.step();
                noGrad(() => clampInPlace(logAlpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX));
                return total.item();
              });
            } finally {
              batch.x.dispose();
              batch.y.dispose();
            }
            if (!Number.isFinite(loss)) throw new Error(`pss: the loss became ${loss} on layer ${name}`);
            o.onStep?.({ layer: name, layerIndex, layerCount: convs.size, epoch, step, loss });
            step++;
          }
        }
        if (step === 0) throw new Error('pss: the data gave no batches');
        out.set(name, layerScores([a, b], new Float32Array(logAlpha.toTypedArray() as Float32Array)));
      } finally {
        conv.weightTransform = null;
        reducer?.destroy();
        opt.dispose();
        logAlpha.dispose();
      }
      layerIndex++;
    }
  } finally {
    unfreeze();
  }
  return out;
}
