// A user's own PyTorch model as nnlock runs it: a TorchScript file (torch.jit.script(model).save
// or torch.jit.trace(...).save), loaded and run by libtorch without Python. TorchScriptModel is a
// Module: its parameters and buffers are the scripted module's own tensors (shared, not copied),
// named as PyTorch names them, so loadStateDict, saveWeights, evaluation, PSS, Taylor and tier
// calibration work on it as on nnlock's architectures. Its submodules are mirrored as Module
// nodes carrying the scripted type name ('__torch__.torch.nn.modules.conv.Conv2d'), which is how
// protection finds the conv layers of a model it does not know.
//
// PSS gates a conv weight through Conv2d-like `weightTransform`: at each forward the gated weight
// w·z (a non-leaf tensor) is put in the scripted module's parameter slot and the original put
// back afterwards, so gradients reach the gates and the stored weight is never changed.
//
// A TorchScript file is a program: it runs only the ops it was compiled to, but load only files
// you would run in PyTorch.
import { basename } from 'node:path';
import { native, type NativeModuleHandle } from '../native/index.ts';
import { Tensor } from '../tensor/index.ts';
import { Module } from '../nn/index.ts';
import { readRegularFile } from '../io/regular-file.ts';
import { checkTorchScriptArchive } from './torchscript-archive.ts';
import type { TaskKind } from '../data/batch-source.ts';
import type { ModelSpec } from './registry.ts';

/** The largest TorchScript file read (a CNN's weights are far below; the check stops /dev/zero-like inputs). */
export const MAX_TORCHSCRIPT_BYTES = 2 ** 31 - 1;

/** The short class name of a scripted type: '__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv2d' → 'Conv2d'. */
export function shortTypeName(qualified: string): string {
  return qualified.slice(qualified.lastIndexOf('.') + 1);
}

/** A submodule of a TorchScript model: its own tensors and children, the scripted type it has. It runs only as part of the whole model. */
export class ScriptedModule extends Module {
  constructor(
    readonly path: string,
    /** The scripted type's qualified name. */
    readonly typeName: string,
  ) {
    super();
  }

  /** Its class name as PyTorch knows it ('Conv2d', 'Linear', 'MyBlock'). */
  get className(): string {
    return shortTypeName(this.typeName);
  }

  addParameter(name: string, t: Tensor): void {
    this.registerParameter(name, t);
  }

  addBuffer(name: string, t: Tensor): void {
    this.registerBuffer(name, t);
  }

  addChild(name: string, m: ScriptedModule): void {
    this.registerModule(name, m);
  }

  forward(_x: Tensor): Tensor {
    throw new Error(`${this.path || 'this module'} (${this.className}) is part of a TorchScript model: run the whole model`);
  }
}

/** A scripted torch.nn.Conv2d: its weight can be transformed at each forward, as nnlock's Conv2d's. */
export class ScriptedConv2d extends ScriptedModule {
  /** See Conv2d.weightTransform: applied to the weight at each forward of the whole model. */
  weightTransform: ((weight: Tensor) => Tensor) | null = null;

  get weight(): Tensor {
    const w = this.namedParameters().find(([n]) => n === 'weight')?.[1];
    if (!w) throw new Error(`the Conv2d ${this.path} has no weight`);
    return w;
  }
}

function node(path: string, typeName: string): ScriptedModule {
  return shortTypeName(typeName) === 'Conv2d' ? new ScriptedConv2d(path, typeName) : new ScriptedModule(path, typeName);
}

function splitName(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? ['', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

export class TorchScriptModel extends Module {
  private handle: NativeModuleHandle | null;
  private readonly nodes = new Map<string, ScriptedModule>();
  /** The training flag each module has in the scripted module (synced before each forward). */
  private readonly scriptedTraining = new Map<string, boolean>();

  /**
   * The model in a TorchScript file's bytes. `source` names it in errors. A file that is not
   * TorchScript, or is damaged, is refused with libtorch's reason.
   */
  constructor(
    bytes: Uint8Array,
    readonly source = 'the TorchScript file',
  ) {
    super();
    checkTorchScriptArchive(bytes, source); // a damaged file is refused here, before libtorch reads it
    let handle: NativeModuleHandle;
    try {
      handle = native.jitLoad(bytes);
    } catch (e) {
      throw new Error(`${source} is not a TorchScript model nnlock can run (save one with torch.jit.script(model).save(path)): ${(e as Error).message}`, { cause: e });
    }
    this.handle = handle;
    try {
      this.mirror(handle);
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.eval();
  }

  /** Reads and loads a TorchScript file (a regular file, at most MAX_TORCHSCRIPT_BYTES). */
  static async load(path: string): Promise<TorchScriptModel> {
    const bytes = await readRegularFile(path, { what: 'TorchScript file', maxBytes: MAX_TORCHSCRIPT_BYTES });
    return new TorchScriptModel(bytes, path);
  }

  private mirror(handle: NativeModuleHandle): void {
    const modules = native.jitNamedModules(handle);
    const rootType = modules.find(([p]) => p === '')?.[1] ?? '';
    this.typeName = rootType;
    for (const [path, typeName] of modules) {
      if (path === '') continue;
      const m = node(path, typeName);
      this.nodes.set(path, m);
      const [parent, name] = splitName(path);
      if (parent === '') this.registerModule(name, m);
      else this.nodes.get(parent)?.addChild(name, m);
    }
    const owner = (path: string): [ScriptedModule | null, string] => {
      const [parent, leaf] = splitName(path);
      return [parent === '' ? null : (this.nodes.get(parent) ?? null), leaf];
    };
    // Handles made here belong to this model: kept by registerParameter/registerBuffer.
    for (const [name, h] of native.jitNamedParameters(handle)) {
      const [m, leaf] = owner(name);
      const t = new Tensor(h);
      if (m) m.addParameter(leaf, t);
      else this.registerParameter(leaf, t);
    }
    for (const [name, h] of native.jitNamedBuffers(handle)) {
      const [m, leaf] = owner(name);
      const t = new Tensor(h);
      if (m) m.addBuffer(leaf, t);
      else this.registerBuffer(leaf, t);
    }
  }

  /** The scripted type's qualified name of the whole model ('__torch__.Net'). */
  typeName = '';

  /** Every submodule's dotted path and scripted type name, in module order ('' is the model). */
  moduleTypes(): Map<string, string> {
    const out = new Map<string, string>([['', this.typeName]]);
    for (const [path, m] of this.nodes) out.set(path, m.typeName);
    return out;
  }

  /** The scripted Conv2d modules by weight name ('features.0.weight'), in module order. */
  convModules(): Map<string, ScriptedConv2d> {
    const out = new Map<string, ScriptedConv2d>();
    for (const [path, m] of this.nodes) if (m instanceof ScriptedConv2d) out.set(`${path}.weight`, m);
    return out;
  }

  private live(): NativeModuleHandle {
    if (!this.handle) throw new Error(`${this.source}: the TorchScript model was disposed`);
    return this.handle;
  }

  /** Puts each module's training flag (set by train()/eval() or directly) into the scripted module. */
  private syncTraining(handle: NativeModuleHandle): void {
    for (const [path, m] of [['', this] as [string, Module], ...this.nodes]) {
      if (this.scriptedTraining.get(path) === m.training) continue;
      native.jitSetTraining(handle, path, m.training);
      this.scriptedTraining.set(path, m.training);
    }
  }

  forward(x: Tensor): Tensor {
    const handle = this.live();
    this.syncTraining(handle);
    const swapped: [string, ScriptedConv2d, Tensor][] = [];
    try {
      for (const [name, conv] of this.convModules()) {
        if (!conv.weightTransform) continue;
        const w = conv.weightTransform(conv.weight);
        swapped.push([name, conv, w]);
        native.jitSetParameter(handle, name, w.handle);
      }
      return new Tensor(native.jitForward(handle, x.handle));
    } finally {
      for (const [name, conv, w] of swapped) {
        native.jitSetParameter(handle, name, conv.weight.handle);
        if (w !== conv.weight) w.dispose();
      }
    }
  }

  override dispose(): void {
    super.dispose();
    if (this.handle) native.jitDispose(this.handle);
    this.handle = null;
  }
}

/** Whether a model is a TorchScript model (a user's own, run through libtorch's TorchScript). */
export function isTorchScriptModel(m: Module): m is TorchScriptModel {
  return m instanceof TorchScriptModel;
}

/**
 * What nnlock needs to know of a TorchScript model besides the model: its name for reports
 * ('torchscript:net.pt'), its task (given by the command: a scripted module does not say) and its
 * input channels (those of its first Conv2d, else 3).
 */
export function torchScriptSpec(model: TorchScriptModel, task: TaskKind): ModelSpec {
  const first = model.convModules().values().next().value as ScriptedConv2d | undefined;
  const inputChannels = first ? first.weight.shape[1] : 3;
  return {
    name: `torchscript:${basename(model.source)}`,
    task,
    inputChannels,
    create: () => {
      throw new Error(`a TorchScript model (${model.source}) is loaded from its file, not created: use TorchScriptModel.load`);
    },
  };
}
