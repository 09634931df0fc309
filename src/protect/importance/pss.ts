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
// Three settings (PssOptions.gates, .initLogAlpha, .optimizer):
//   PSS_DEFAULTS (nnlock's light default since 0.4): the paper's gates, start and optimiser on a
//     light budget: deterministic gates, log α = 1.0, SGD 0.1 with Nesterov momentum 0.9, 2 epochs
//     (of 1,024 images, the CLI's default). Every-layer PSS on ResNet-20 reaches chance at 3.99%
//     of all weights with it, against 11.93% with 0.3's defaults (experiments/results/protect).
//   PSS_PAPER_SETTING, the authors': the same, 130 epochs with rate steps, on their data.
//   PSS_SAMPLED_SETTING, nnlock 0.3's light default: sampled gates, log α drawn from droprateInit
//     (≈ 2.2, gates nearly open), Adam 0.05. Adam moves log α by about lr per step, so on a light
//     budget the score counts sign agreements, not their size (experiments/protect/pss-diagnose.ts).
// In both, the layers not being learned run unchanged: the authors start their log α at 100,
// where both gates are exactly 1 (σ(100)(ζ − γ) + γ > 1 is clamped to 1, and so is every draw), so
// "no gate" is the same network.
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
import { Adam, type Module, type Optimizer, SGD } from '../../nn/index.ts';
import { applySchedule, multiStep } from '../../nn/optim/schedule.ts';
import { type BatchSource, batchesOn } from '../../data/batch-source.ts';
import { toDevice } from '../../ops/convert.ts';
import { type TaskLoss, freeze, pickConvModules } from './data.ts';
import { type ImportanceMap, layerScores } from './scores.ts';
import { type ProcessGroup, Reducer } from '../../distributed/index.ts';

export interface PssOptions {
  loss: TaskLoss;
  /** Conv layers to score (weight or module names); default every Conv2d. */
  layers?: readonly string[];
  /**
   * 'deterministic' (default): z = clamp(σ(log α)(ζ − γ) + γ, 0, 1) at every step, the evaluation
   * gate, as the authors learn it (their network stays in eval mode). 'sampled': z is a fresh
   * hard-concrete draw at every step (the L0 paper's training gate).
   */
  gates?: 'sampled' | 'deterministic';
  /**
   * log α of the layer being learned starts at exactly this value (default 1.0, the paper's); null:
   * drawn from N(log(1 − p) − log p, 0.01²) with p = droprateInit instead.
   */
  initLogAlpha?: number | null;
  /** Optimiser of log α: 'sgd' (default, with momentum and nesterov) or 'adam'. */
  optimizer?: 'adam' | 'sgd';
  /** SGD momentum (default 0.9; must be 0 with Adam). */
  momentum?: number;
  /** SGD Nesterov momentum (default true with SGD; needs momentum > 0). */
  nesterov?: boolean;
  /**
   * Learning-rate steps: at each of these epochs the rate is multiplied by lrDecay (the authors':
   * 60 and 120, by 0.2). Default none.
   */
  milestones?: readonly number[];
  lrDecay?: number;
  /** Passes over the data per layer (default 2). */
  epochs?: number;
  /** Learning rate on log α (default 0.1, for SGD; 0.3's Adam used 0.05). */
  lr?: number;
  /** Weight of the L0 penalty (default 1e-4, as the paper). */
  lambda?: number;
  /** Hard-concrete temperature β (2/3), stretch limits γ (−0.1) and ζ (1.1). */
  beta?: number;
  gamma?: number;
  zeta?: number;
  /**
   * With initLogAlpha null: log α starts at N(log(1 − p) − log p, 0.01²) as in the L0 reference
   * code. Default p = 0.1 (log α ≈ 2.2): the gates start nearly open (evaluation gate ≈ 0.98; in
   * training about two thirds of the draws are fully open). The reference default p = 0.5 would
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
  /** Called after each pass over the data with the layer's log α so far (a copy). */
  onEpoch?: (info: { layer: string; layerIndex: number; epoch: number; logAlpha: Float32Array }) => void;
  /** Called after each step. */
  onStep?: (info: PssStep) => void;
  /** Measure the gradients at each step for onStep (gradients: costs a copy of log α's gradient per step). */
  diagnostics?: boolean;
}

export const PSS_DEFAULTS = {
  epochs: 2,
  lr: 0.1,
  lambda: 1e-4,
  beta: 2 / 3,
  gamma: -0.1,
  zeta: 1.1,
  droprateInit: 0.1,
  seed: 0,
  gates: 'deterministic' as 'sampled' | 'deterministic',
  initLogAlpha: 1.0 as number | null,
  optimizer: 'sgd' as 'adam' | 'sgd',
  momentum: 0.9,
  nesterov: true,
  milestones: [] as readonly number[],
  lrDecay: 0.2,
};

/** PSS_DEFAULTS with the settings given (undefined ones skipped); with Adam, momentum and nesterov default to 0 and false. */
export function resolvePssSettings<T extends Partial<typeof PSS_DEFAULTS>>(given: T): typeof PSS_DEFAULTS & T {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as T;
  const adam = (defined.optimizer ?? PSS_DEFAULTS.optimizer) === 'adam';
  return { ...PSS_DEFAULTS, ...(adam ? { momentum: 0, nesterov: false } : {}), ...defined };
}

/**
 * nnlock 0.3's light default, kept reachable (`--setting sampled`): sampled gates, log α drawn
 * from droprateInit, Adam at 0.05. On a light budget it selects worse than PSS_DEFAULTS.
 */
export const PSS_SAMPLED_SETTING = {
  gates: 'sampled',
  initLogAlpha: null,
  droprateInit: 0.1,
  optimizer: 'adam',
  lr: 0.05,
  momentum: 0,
  nesterov: false,
} as const;

/**
 * The authors' setting (Tian, Zhou and Duan's ProtectVGG19.py): deterministic gates, log α from
 * 1.0, SGD 0.1 with Nesterov momentum 0.9, 130 epochs per layer with the rate × 0.2 at epochs 60
 * and 120. Their data (batch 150, the first 30,000 CIFAR-10 training images with crop and flip)
 * and layer choice are the caller's: see PSS_PAPER_DATA and paperLayers.
 */
export const PSS_PAPER_SETTING = {
  gates: 'deterministic',
  initLogAlpha: 1.0,
  optimizer: 'sgd',
  lr: 0.1,
  momentum: 0.9,
  nesterov: true,
  epochs: 130,
  milestones: [60, 120],
  lrDecay: 0.2,
} as const;

/** The authors' importance data: batch 150 over the first 30,000 CIFAR-10 training images, random crop (padding 4) and flip. */
export const PSS_PAPER_DATA = { images: 30_000, batch: 150, augment: true } as const;

/**
 * The paper's choice of layers, as a rule that gives its VGG19 choice (conv1_1, conv1_2, conv3_1,
 * conv4_1): the first two conv layers, and the first conv layer of each of the last two stages
 * that widen the network (VGG19 widens at conv2_1, conv3_1 and conv4_1). For ResNet-20 that is
 * conv1, layer1.0.conv1, layer2.0.conv1 and layer3.0.conv1. `layers` are the conv layers in model
 * order with their weight shapes [out, in, ...]; 1×1 projection shortcuts are not counted.
 */
export function paperLayers(layers: readonly { name: string; shape: readonly number[] }[]): string[] {
  const convs = layers.filter((l) => l.shape.length === 4 && !(l.shape[2] === 1 && l.shape[3] === 1 && l.name !== layers[0].name));
  if (convs.length <= 2) return convs.map((l) => l.name);
  const widening: string[] = [];
  let width = convs[1].shape[0];
  for (const l of convs.slice(2)) {
    if (l.shape[0] > width) widening.push(l.name);
    width = Math.max(width, l.shape[0]);
  }
  return [convs[0].name, convs[1].name, ...widening.slice(-2)];
}

/** What PSS reports after each step. */
export interface PssStep {
  layer: string;
  layerIndex: number;
  layerCount: number;
  epoch: number;
  step: number;
  loss: number;
  /** With `diagnostics`: the step's gradient on log α, split into its two terms (means over the layer's kernels). */
  gradients?: {
    /** Mean |∂(task loss)/∂log α|. */
    task: number;
    /** Mean |λ ∂(L0 penalty)/∂log α| (closed form: λ σ'(log α − β log(−γ/ζ))). */
    penalty: number;
    /** Share of kernels whose task gradient is exactly 0 (their gate clamped at 0 or 1 in this step). */
    zeroTask: number;
  };
}

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
  const o = resolvePssSettings(options);
  if (!(o.lambda >= 0) || !(o.lr > 0) || !(o.epochs >= 1) || !(o.droprateInit > 0 && o.droprateInit < 1)) {
    throw new RangeError('pss: needs lambda ≥ 0, lr > 0, epochs ≥ 1 and 0 < droprateInit < 1');
  }
  if (o.initLogAlpha !== null && !Number.isFinite(o.initLogAlpha)) throw new RangeError('pss: initLogAlpha must be a finite number (or null: drawn from droprateInit)');
  if (o.optimizer === 'adam' && (o.momentum !== 0 || o.nesterov)) throw new RangeError('pss: momentum and nesterov are for the sgd optimizer (give momentum 0, nesterov false with adam)');
  if (o.nesterov && !(o.momentum > 0)) throw new RangeError('pss: nesterov needs momentum > 0');
  if (o.gates !== 'sampled' && o.gates !== 'deterministic') throw new RangeError(`pss: gates must be 'sampled' or 'deterministic', not '${String(o.gates)}'`);
  if (o.optimizer !== 'adam' && o.optimizer !== 'sgd') throw new RangeError(`pss: optimizer must be 'adam' or 'sgd', not '${String(o.optimizer)}'`);
  const sampled = o.gates === 'sampled';
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
      const logAlpha = keep(noGrad(() => scope(() => toDevice(o.initLogAlpha === null ? normalInPlace(full([a, b], 0), init, 0.01) : full([a, b], o.initLogAlpha), device))));
      logAlpha.requiresGrad = true;
      options.group?.broadcastCoalesced([logAlpha]);
      const reducer = options.group && new Reducer(options.group, [logAlpha]);
      const opt: Optimizer = o.optimizer === 'sgd' ? new SGD([logAlpha], { lr: o.lr, momentum: o.momentum, nesterov: o.nesterov }) : new Adam([logAlpha], { lr: o.lr });
      conv.weightTransform = (w) => scope(() => mul(w, reshape(hardConcreteGate(logAlpha, sampled, o.beta, o.gamma, o.zeta), [a, b, 1, 1])));
      try {
        let step = 0;
        const schedule = multiStep(o.lr, [...o.milestones], o.lrDecay);
        for (let epoch = 0; epoch < o.epochs; epoch++) {
          if (o.milestones.length) applySchedule(opt, schedule, epoch);
          for await (const batch of batches.epoch(epoch)) {
            let loss: number;
            let gradients: PssStep['gradients'];
            try {
              loss = scope(() => {
                opt.zeroGrad();
                reducer?.prepare();
                const task = o.loss(model.forward(batch.x), batch.y);
                const total = add(task, mul(l0Penalty(logAlpha, o.beta, o.gamma, o.zeta), o.lambda));
                total.backward();
                if (o.diagnostics) gradients = splitGradient(logAlpha, o);
                opt.step();
                noGrad(() => clampInPlace(logAlpha, LOG_ALPHA_MIN, LOG_ALPHA_MAX));
                return total.item();
              });
            } finally {
              batch.x.dispose();
              batch.y.dispose();
            }
            if (!Number.isFinite(loss)) throw new Error(`pss: the loss became ${loss} on layer ${name}`);
            o.onStep?.({ layer: name, layerIndex, layerCount: convs.size, epoch, step, loss, ...(gradients ? { gradients } : {}) });
            step++;
          }
          if (o.onEpoch) o.onEpoch({ layer: name, layerIndex, epoch, logAlpha: new Float32Array(logAlpha.toTypedArray() as Float32Array) });
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

/** The gradient on log α (after backward, before the step) as its task and penalty terms. */
function splitGradient(logAlpha: Tensor, o: { lambda: number; beta: number; gamma: number; zeta: number }): NonNullable<PssStep['gradients']> {
  const grad = logAlpha.grad;
  if (!grad) throw new Error('pss: no gradient reached log α');
  const g = grad.toTypedArray() as Float32Array;
  grad.dispose();
  const la = logAlpha.toTypedArray() as Float32Array;
  const shift = o.beta * Math.log(-o.gamma / o.zeta);
  let task = 0;
  let penalty = 0;
  let zero = 0;
  for (let k = 0; k < g.length; k++) {
    const s = 1 / (1 + Math.exp(-(la[k] - shift)));
    const p = o.lambda * s * (1 - s);
    const t = g[k] - p;
    penalty += Math.abs(p);
    task += Math.abs(t);
    if (Math.abs(t) <= 1e-6 * Math.max(p, 1e-30)) zero++;
  }
  return { task: task / g.length, penalty: penalty / g.length, zeroTask: zero / g.length };
}
