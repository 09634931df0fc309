// Calls ATen ops by schema name through the native dispatcher, turning Tensors into handles on
// the way in and handles into Tensors on the way out. Every typed op in src/ops is built on this.
import { native, type NativeHandle, type NativeValue } from '../native/index.ts';
import { Tensor } from '../tensor/index.ts';

/** One ATen op, e.g. new Op('aten::conv2d') or new Op('aten::add', 'Tensor'). Resolved on first use. */
export class Op {
  private id = -1;
  constructor(
    readonly name: string,
    readonly overload = '',
  ) {}

  get handle(): number {
    if (this.id < 0) this.id = native.opHandle(this.name, this.overload);
    return this.id;
  }

  get schema(): string {
    return native.opSchema(this.handle);
  }
}

const ops = new Map<string, Op>();

/** The shared Op for a name and overload. */
export function op(name: string, overload = ''): Op {
  const key = `${name}.${overload}`;
  let o = ops.get(key);
  if (!o) {
    o = new Op(name, overload);
    ops.set(key, o);
  }
  return o;
}

function toNativeArg(a: unknown): unknown {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(toNativeArg);
  return a;
}

function fromNative(v: NativeValue): unknown {
  if (Array.isArray(v)) return v.map(fromNative);
  if (typeof v === 'object' && v !== null) return new Tensor(v as NativeHandle);
  return v;
}

/**
 * Calls an op; `undefined` arguments take the schema's defaults.
 *
 * UNCHECKED: the generic call converts arguments by the op's schema and passes them straight to
 * libtorch, which has crash bugs no JavaScript error can catch (SIGFPE on integer −2⁶³ / −1,
 * `native_channel_shuffle(t, 0)`, `searchsorted` with a bad `sorter`, sparse `to_dense`, ...).
 * The typed wrappers in src/ops check what libtorch does not; this entry point (and callTensor,
 * callTensors, callInPlace, native.call) is for those wrappers and for tests, never for values
 * that come from files, command lines or requests.
 */
export function call(o: Op, args: readonly unknown[]): unknown {
  return fromNative(native.call(o.handle, args.map(toNativeArg)));
}

/** Calls an op that returns one tensor. */
export function callTensor(o: Op, args: readonly unknown[]): Tensor {
  const r = native.call(o.handle, args.map(toNativeArg));
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new TypeError(`${o.name}: expected a tensor result`);
  return new Tensor(r as NativeHandle);
}

/** Calls an op that returns several tensors (a tuple or a list). */
export function callTensors(o: Op, args: readonly unknown[]): Tensor[] {
  const r = fromNative(native.call(o.handle, args.map(toNativeArg)));
  if (!Array.isArray(r)) throw new TypeError(`${o.name}: expected several tensors`);
  return r as Tensor[];
}

/** Calls an in-place op on `self` (its first argument) and returns `self`. */
export function callInPlace(o: Op, self: Tensor, args: readonly unknown[]): Tensor {
  const r = native.call(o.handle, [self.handle, ...args.map(toNativeArg)]);
  if (typeof r === 'object' && r !== null && !Array.isArray(r)) native.dispose(r as NativeHandle);
  return self;
}
