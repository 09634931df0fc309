// "Score the kernels by strategy": the one place that dispatches a strategy name to its
// implementation, with the settings it ran with and the digest of the weights it scored, so the
// result can be saved as an importance file (io.ts) or handed to protectModel as it is.
import type { Module } from '../../nn/index.ts';
import type { BatchSource, TaskKind } from '../../data/batch-source.ts';
import type { SafetensorsFile, TensorEntry } from '../../io/safetensors.ts';
import { entriesFromTensors } from '../../io/tensor-file.ts';
import { noGrad, parseDevice } from '../../tensor/index.ts';
import { modelSpec } from '../../models/registry.ts';
import { loadWeightsSync } from '../../models/weights.ts';
import { type LayerDiscovery, type ModuleTypes, architectureModuleTypes, discoverLayers, moduleTypesOf, resolveLayers } from '../layers.ts';
import { weightsDigest } from '../format.ts';
import { type ImportanceMap, type Strategy, WEIGHT_ONLY_STRATEGIES, assertStrategy } from './scores.ts';
import { type WeightStrategy, weightImportance } from './baselines.ts';
import { type PssOptions, type PssStep, pssImportance, resolvePssSettings } from './pss.ts';
import { taylorImportance } from './taylor.ts';
import { GATE_GRADIENT_DEFAULTS, gateGradientImportance } from './gate-gradient.ts';
import { taskLoss } from './data.ts';
import type { ImportanceFile } from './io.ts';

/** The tunable settings of PSS (see PssOptions for each). */
export type PssSettings = Partial<
  Pick<PssOptions, 'epochs' | 'lr' | 'lambda' | 'beta' | 'gamma' | 'zeta' | 'droprateInit' | 'gates' | 'initLogAlpha' | 'optimizer' | 'momentum' | 'nesterov' | 'milestones' | 'lrDecay'>
>;

/** What PSS reports after each of its steps. */
export type ImportanceStep = PssStep;

export interface ComputeImportanceOptions {
  /** Conv layers to score (weight or module names); default every conv layer. */
  layers?: readonly string[];
  /**
   * The model's module types, so conv layers are its Conv2d weights (see discoverLayers). Default:
   * those of `model` when it is a Module, else of the architecture when nnlock knows it, else none
   * (discovery by name and shape).
   */
  modules?: ModuleTypes;
  /**
   * Where pss and taylor run the model: 'cpu' (default), 'cuda', 'cuda:i'. A Module given as
   * `model` is moved there (Module.to); one built from a weights file is made there.
   */
  device?: string;
  /** Seed of the random strategy's draws and of PSS's gates (default 0). */
  seed?: number;
  /**
   * The model's task, which picks the loss of pss and taylor (cross-entropy or MSE). Default: the
   * architecture's task when it is known, else classification.
   */
  task?: TaskKind;
  /**
   * Architecture name (resnet20, dncnn-17, ...), to build the model when `model` is a weights file
   * and the strategy runs it (pss, taylor). Default: the file's `architecture` metadata.
   */
  architecture?: string;
  /** PSS settings beyond its defaults (PSS_DEFAULTS). */
  pss?: PssSettings;
  /** Taylor and gate-gradient: batches averaged (default 8). */
  batches?: number;
  /** Gate-gradient: the common log α of the gates (default 1.0). */
  initLogAlpha?: number;
  /** PSS: report the gradients' terms in onStep (see PssStep.gradients). */
  diagnostics?: boolean;
  /** Called after each PSS epoch of a layer, with log α so far. */
  onEpoch?: PssOptions['onEpoch'];
  /** Extra facts recorded in the result's settings (e.g. which data, how many images). */
  settings?: Record<string, unknown>;
  /** PSS data-parallel in this process group (`data` is this rank's shard; see PssOptions.group). */
  group?: PssOptions['group'];
  /** Called after each PSS step (the only strategy that takes long). */
  onStep?: (step: ImportanceStep) => void;
}

/** Scores as computeImportance gives them: what an importance file holds, and how the layers were found. */
export interface ComputedImportance extends ImportanceFile {
  /** How the conv layers were found (by module type or by name and shape) and what was skipped. */
  discovery: LayerDiscovery;
}

/** True for the strategies that read only the weights (no model run, no data). */
export function isWeightOnly(strategy: Strategy): strategy is WeightStrategy {
  return WEIGHT_ONLY_STRATEGIES.includes(strategy);
}

function isModule(m: Module | SafetensorsFile): m is Module {
  return typeof (m as Module).stateDict === 'function';
}

/**
 * Scores the kernels of a model's conv layers by `strategy` (pss, taylor, gate-gradient, l1,
 * magnitude, magnitude-asc, closest-mean, random). `model` is a Module or its weights file; weight-only
 * strategies need no data, pss, taylor and gate-gradient need `data` (a BatchSource of the model's task, see
 * denoiserTrainingData for denoisers) and run the model (built from the architecture when a file is
 * given, and disposed again). Returns the scores with the strategy, its settings, the digest of
 * the weights scored and the architecture: what saveImportance writes and protectModel takes.
 */
export async function computeImportance(strategy: Strategy | string, model: Module | SafetensorsFile, data?: BatchSource, options: ComputeImportanceOptions = {}): Promise<ComputedImportance> {
  const s = assertStrategy(strategy);
  const device = parseDevice(options.device ?? 'cpu');
  const seed = options.seed ?? 0;
  const tensors: Map<string, TensorEntry> = isModule(model) ? noGrad(() => entriesFromTensors(model.stateDict())) : model.tensors;
  const architecture = options.architecture ?? (isModule(model) ? undefined : model.metadata.architecture);
  const modules = options.modules ?? (isModule(model) ? moduleTypesOf(model) : architectureModuleTypes(architecture));
  let discovery = discoverLayers(tensors, modules);
  let layers = resolveLayers(tensors, options.layers, modules);
  const source = Buffer.from(weightsDigest(tensors)).toString('hex');
  const extra = options.settings ?? {};
  if (isWeightOnly(s)) {
    return { strategy: s, scores: weightImportance(s, tensors, layers, seed), settings: { seed, ...extra }, source, architecture, discovery };
  }
  if (!data) throw new Error(`strategy ${s} needs training data (a BatchSource of the model's task)`);
  let module: Module;
  let owned = false;
  let task = options.task;
  if (isModule(model)) module = model;
  else {
    if (!architecture) throw new Error(`strategy ${s} runs the model, and the file does not say its architecture: give it (e.g. resnet20, vgg16-bn, dncnn-17)`);
    const spec = modelSpec(architecture);
    task ??= spec.task;
    module = spec.create();
    owned = true;
    try {
      loadWeightsSync(module, model, { source: `the ${architecture} weights` });
      if (!modules) {
        // The architecture is built now: its layers by module type.
        discovery = discoverLayers(tensors, moduleTypesOf(module));
        layers = resolveLayers(tensors, options.layers, moduleTypesOf(module));
      }
    } catch (e) {
      module.dispose();
      throw e;
    }
    module.eval();
  }
  if (!task && architecture) task = modelSpec(architecture).task;
  try {
    module.to(device);
    const loss = taskLoss(task ?? 'classification');
    const names = layers.map((l) => l.name);
    let scores: ImportanceMap;
    let settings: Record<string, unknown>;
    if (s === 'pss') {
      const pss = resolvePssSettings({ ...options.pss, seed });
      scores = await pssImportance(module, data, { ...pss, loss, layers: names, onStep: options.onStep, onEpoch: options.onEpoch, diagnostics: options.diagnostics, group: options.group });
      settings = { ...pss, ...extra };
    } else if (s === 'gate-gradient') {
      const batches = options.batches ?? GATE_GRADIENT_DEFAULTS.batches;
      const initLogAlpha = options.initLogAlpha ?? GATE_GRADIENT_DEFAULTS.initLogAlpha;
      scores = await gateGradientImportance(module, data, { loss, layers: names, batches, initLogAlpha });
      settings = { batches, initLogAlpha, ...extra };
    } else {
      const batches = options.batches ?? 8;
      scores = await taylorImportance(module, data, { loss, layers: names, batches });
      settings = { batches, seed, ...extra };
    }
    return { strategy: s, scores, settings, source, architecture, discovery };
  } finally {
    if (owned) module.dispose();
  }
}
