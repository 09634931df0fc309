// What the data-driven strategies (PSS, Taylor) need besides data (a BatchSource): the loss of
// the model's task, and its conv modules.
import type { Tensor } from '../../tensor/index.ts';
import type { TaskKind } from '../../data/batch-source.ts';
import type { Module } from '../../nn/index.ts';
import { Conv2d } from '../../nn/index.ts';
import { ScriptedConv2d } from '../../models/torchscript.ts';
import { crossEntropy, mseLoss } from '../../ops/loss.ts';

export type TaskLoss = (output: Tensor, target: Tensor) => Tensor;

/** Cross-entropy for classifiers, MSE for denoisers (what the paper trains the gates with). */
export function taskLoss(task: TaskKind): TaskLoss {
  return task === 'classification' ? (out, y) => crossEntropy(out, y) : (out, y) => mseLoss(out, y);
}

/**
 * A Conv2d as PSS and Taylor use it: its weight, and a transform applied to the weight at each
 * forward (the gates). nnlock's Conv2d and a TorchScript model's scripted Conv2d both are one.
 */
export type GateableConv = Conv2d | ScriptedConv2d;

/** The model's Conv2d modules (nnlock's or a TorchScript model's) by weight name ('layer1.0.conv1.weight'), in model order. */
export function convModules(model: Module): Map<string, GateableConv> {
  const out = new Map<string, GateableConv>();
  for (const [name, m] of model.namedModules()) if (m instanceof Conv2d || m instanceof ScriptedConv2d) out.set(name ? `${name}.weight` : 'weight', m);
  return out;
}

/** The requested conv modules (weight or module names), all when none are named. */
export function pickConvModules(model: Module, layers?: readonly string[]): Map<string, GateableConv> {
  const all = convModules(model);
  if (all.size === 0) throw new Error('the model has no Conv2d layers');
  if (!layers || layers.length === 0) return all;
  const out = new Map<string, GateableConv>();
  for (const l of layers) {
    const name = all.has(l) ? l : `${l}.weight`;
    const m = all.get(name);
    if (!m) throw new Error(`the model has no conv layer '${l}'; its conv layers are ${[...all.keys()].join(', ')}`);
    out.set(name, m);
  }
  return out;
}

/**
 * Freezes every parameter (requiresGrad off) and puts the model in eval mode (batch-norm
 * statistics fixed); the returned function puts both back as they were.
 */
export function freeze(model: Module): () => void {
  const params = model.parameters();
  const grads = params.map((p) => p.requiresGrad);
  const modes = model.namedModules().map(([, m]) => m.training);
  for (const p of params) p.requiresGrad = false;
  model.eval();
  return () => {
    params.forEach((p, i) => {
      p.setGrad(null);
      p.requiresGrad = grads[i];
    });
    model.namedModules().forEach(([, m], i) => {
      m.training = modes[i];
    });
  };
}
