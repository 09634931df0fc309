// Module: the base of every layer and model. Parameters, buffers and children are named exactly
// as PyTorch names them (field names joined by '.', Sequential children by position), so state
// dicts move between nnlock and PyTorch unchanged.
import { type Device, type Tensor, keep, noGrad, parseDevice, sameDevice } from '../tensor/index.ts';
import { copyInPlace } from '../ops/inplace.ts';
import { setData, toDevice } from '../ops/convert.ts';

/** What loadStateDict found: names it lacked, names it did not know, and entries that did not fit. */
export interface LoadReport {
  missing: string[];
  unexpected: string[];
  mismatched: { name: string; expected: string; got: string }[];
}

/** A source tensor for loading: any Tensor-like with shape and dtype. */
export type StateDict = Map<string, Tensor>;

/** Buffers PyTorch may leave out of a checkpoint (older versions, stripped files). */
const OPTIONAL_BUFFERS = new Set(['num_batches_tracked']);

export class LoadStateDictError extends Error {
  constructor(readonly report: LoadReport) {
    super(`loadStateDict: ${describeReport(report)}`);
  }
}

/** A readable summary; long lists are cut after `limit` names ("and 90 more"). */
export function describeReport(r: LoadReport, limit = 6): string {
  const list = (names: string[]) => names.slice(0, limit).join(', ') + (names.length > limit ? ` and ${names.length - limit} more` : '');
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing keys: ${list(r.missing)}`);
  if (r.unexpected.length) parts.push(`unexpected keys: ${list(r.unexpected)}`);
  if (r.mismatched.length) parts.push(list(r.mismatched.map((m) => `${m.name}: expected ${m.expected}, got ${m.got}`)));
  return parts.length ? parts.join('; ') : 'ok';
}

/** t's data moved to `device` in place (set_data), its gradient with it. */
function moveInPlace(t: Tensor, device: Device): void {
  if (sameDevice(t.device, device)) return;
  const grad = t.grad;
  const movedGrad = grad && toDevice(grad, device);
  grad?.dispose();
  if (movedGrad) t.setGrad(null);
  const moved = toDevice(t, device);
  setData(t, moved);
  moved.dispose();
  if (movedGrad) {
    t.setGrad(movedGrad);
    movedGrad.dispose();
  }
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, Tensor | null>();
  private readonly children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable tensor: it requires grad and outlives every scope. null = absent (bias=False). */
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    if (t) {
      keep(t);
      t.requiresGrad = true;
    }
    this.params.set(name, t);
    return t;
  }

  /** Registers a non-trainable tensor saved in the state dict (running statistics). */
  protected registerBuffer(name: string, t: Tensor | null): Tensor | null {
    if (t) keep(t);
    this.buffers.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Direct children in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children.entries()];
  }

  /** This module and every descendant, with its dotted name ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.params) if (t) out.push([prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.buffers) if (t) out.push([prefix + n, t]);
    for (const [n, c] of this.children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * Parameters and buffers by name, in PyTorch's order (each module's own parameters, then its
   * buffers, then its children). The tensors are the module's own, not copies.
   */
  stateDict(prefix = ''): StateDict {
    const out: StateDict = new Map();
    for (const [n, t] of this.params) if (t) out.set(prefix + n, t);
    for (const [n, t] of this.buffers) if (t) out.set(prefix + n, t);
    for (const [n, c] of this.children) for (const [k, v] of c.stateDict(`${prefix}${n}.`)) out.set(k, v);
    return out;
  }

  /**
   * Copies values into the module's tensors (in place, so optimizers keep their references).
   * strict (the default) throws LoadStateDictError on missing or unexpected keys; shape or dtype
   * mismatches always throw, and nothing is copied unless everything fits.
   */
  loadStateDict(source: StateDict, options: { strict?: boolean } = {}): LoadReport {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    for (const [name, t] of own) {
      const s = source.get(name);
      if (!s) {
        const leaf = name.slice(name.lastIndexOf('.') + 1);
        if (!OPTIONAL_BUFFERS.has(leaf)) report.missing.push(name);
        continue;
      }
      const want = `${t.dtype}[${t.shape.join(', ')}]`;
      const got = `${s.dtype}[${s.shape.join(', ')}]`;
      if (want !== got) report.mismatched.push({ name, expected: want, got });
    }
    for (const name of source.keys()) if (!own.has(name)) report.unexpected.push(name);
    if (report.mismatched.length || (strict && (report.missing.length || report.unexpected.length))) {
      throw new LoadStateDictError(report);
    }
    noGrad(() => {
      for (const [name, t] of own) {
        const s = source.get(name);
        if (s) copyInPlace(t, s);
      }
    });
    return report;
  }

  /**
   * Moves every parameter and buffer of this module and its children to `device` ('cpu', 'cuda',
   * 'cuda:i'; checked by parseDevice, so a missing GPU is a DeviceError before anything moves), in
   * place, as libtorch's Module::to does: each tensor gets the moved data through set_data and
   * stays the same Tensor object, so an optimizer built before or after the move updates the
   * moved tensors. A gradient moves with its parameter (as PyTorch's Python Module.to does;
   * libtorch's C++ one leaves it behind). Optimizer state is not the module's: move the model
   * before the first optimizer step, as PyTorch asks too. Tensors already there are untouched.
   */
  to(device: string): this {
    const target = parseDevice(device);
    noGrad(() => {
      for (const [, m] of this.namedModules()) {
        for (const t of m.params.values()) if (t) moveInPlace(t, target);
        for (const t of m.buffers.values()) if (t) moveInPlace(t, target);
      }
    });
    return this;
  }

  /** Where the parameters (else the buffers) are: 'cpu' for a module that holds no tensor. */
  get device(): string {
    const [first] = this.parameters();
    return first?.device ?? this.namedBuffers()[0]?.[1].device ?? 'cpu';
  }

  /** Training mode (batch statistics, dropout) for this module and all below it. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.numel, 0);
  }

  /** Frees every parameter and buffer of this module and its children. */
  dispose(): void {
    for (const t of this.params.values()) t?.dispose();
    for (const t of this.buffers.values()) t?.dispose();
    for (const c of this.children.values()) c.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
