// A model from a weights file: the architecture it names (or the caller's), the number of classes
// its class names give, and its weights loaded strictly. Weights files written by nnlock record in
// their metadata what a user of the model needs:
//   architecture   the registry name (resnet20, vgg16-bn, dncnn-17, ...)
//   class_names    a JSON array: label i is class_names[i]
//   input_mean, input_std   the input normalisation (src/data/normalisation.ts)
import { existsSync } from 'node:fs';
import { type Module, describeReport } from '../nn/index.ts';
import { type SafetensorsFile, readSafetensors } from '../io/safetensors.ts';
import { type ModelSpec, modelSpec } from './registry.ts';
import { WeightsMismatchError, loadWeightsSync } from './weights.ts';
import { TorchScriptModel, torchScriptSpec } from './torchscript.ts';
import type { TaskKind } from '../data/batch-source.ts';

/** Reads a safetensors file, with "no such file" for a missing one. */
export async function readModelFile(path: string): Promise<SafetensorsFile> {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return readSafetensors(path);
}

/** The architecture named by `arch` or, without it, the file's metadata; undefined when neither says. */
export function architectureOf(arch: string | undefined, metadata: Record<string, string>): ModelSpec | undefined {
  const name = arch ?? metadata.architecture;
  return name ? modelSpec(name) : undefined;
}

/** `spec`, or an error that says the file does not name its architecture and how to give it. */
export function requireArchitecture(spec: ModelSpec | undefined, source: string, why: string): ModelSpec {
  if (!spec)
    throw new Error(
      `${source} does not say its architecture, which ${why} needs: pass --arch (e.g. resnet20, vgg16-bn, dncnn-17), or --module model.pt for your own model saved with torch.jit.script`,
    );
  return spec;
}

/** The class names a weights file records (label i names entry i), or undefined. */
export function classNamesOf(metadata: Record<string, string>): string[] | undefined {
  const text = metadata.class_names;
  if (text === undefined) return undefined;
  let names: unknown;
  try {
    names = JSON.parse(text);
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    throw new Error(`class_names in the weights file must be a JSON array of strings, got '${text}'`);
  }
  return names;
}

/** The metadata entry that records class names in a weights file. */
export function classNamesMetadata(names: readonly string[]): Record<string, string> {
  return { class_names: JSON.stringify(names) };
}

/**
 * Builds `spec` (with as many outputs as the file has class names) and loads the file into it
 * strictly, in eval mode: a wrong architecture fails here, with the keys that do not fit.
 */
export function modelFromFile(spec: ModelSpec, file: SafetensorsFile, source: string): Module {
  const model = spec.create(classNamesOf(file.metadata)?.length);
  try {
    loadWeightsSync(model, file, { source });
  } catch (e) {
    model.dispose();
    if (e instanceof WeightsMismatchError) {
      const said = file.metadata.architecture ? ` (the file says its architecture is '${file.metadata.architecture}')` : '';
      throw new Error(`${source} is not a ${spec.name} model${said}: ${describeReport(e.report.report)}`, { cause: e });
    }
    throw e;
  }
  model.eval();
  return model;
}

/**
 * A user's own model: the TorchScript file `modulePath` (torch.jit.script(model).save) with the
 * weights of `file` loaded strictly (every name and shape must fit, as load_state_dict(strict=True)).
 * `task` says what the model does: a scripted module does not say. The caller disposes the model.
 */
export async function openTorchScriptModel(modulePath: string, file: SafetensorsFile, o: { task: TaskKind; source?: string }): Promise<{ model: TorchScriptModel; spec: ModelSpec }> {
  const model = await TorchScriptModel.load(modulePath);
  try {
    loadWeightsSync(model, file, { source: o.source ?? 'the weights' });
  } catch (e) {
    model.dispose();
    if (e instanceof WeightsMismatchError) throw new Error(`${o.source ?? 'the weights'} do not fit the TorchScript model ${modulePath}: ${describeReport(e.report.report)}`, { cause: e });
    throw e;
  }
  model.eval();
  return { model, spec: torchScriptSpec(model, o.task) };
}

export interface OpenedModel {
  model: Module;
  spec: ModelSpec;
  metadata: Record<string, string>;
}

export interface OpenModelOptions {
  /** Architecture name, when the file does not say (or to override it). */
  arch?: string;
  /** A TorchScript file of the user's own model to load the weights into, instead of an architecture. */
  module?: string;
  /** With `module`: the model's task (default classification). */
  task?: TaskKind;
  /** What to call the weights in errors. */
  source?: string;
}

/**
 * A model ready to run from a weights file (a path, or a file already in memory: an unlocked
 * protected model): the TorchScript model `module` with the weights loaded, or the architecture
 * from `arch` or the file. The caller disposes the model.
 */
export async function openModel(weights: string | SafetensorsFile, o: OpenModelOptions = {}): Promise<OpenedModel> {
  const file = typeof weights === 'string' ? await readModelFile(weights) : weights;
  const source = o.source ?? (typeof weights === 'string' ? weights : 'the weights');
  if (o.module !== undefined) {
    if (o.arch !== undefined) throw new Error('give an architecture (--arch) or a TorchScript module (--module), not both');
    const { model, spec } = await openTorchScriptModel(o.module, file, { task: o.task ?? 'classification', source });
    return { model, spec, metadata: file.metadata };
  }
  const spec = requireArchitecture(architectureOf(o.arch, file.metadata), source, 'loading it');
  return { model: modelFromFile(spec, file, source), spec, metadata: file.metadata };
}
