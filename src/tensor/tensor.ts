// Tensor: a typed JavaScript face on one native handle. Ops live in src/ops; this class only
// holds what every tensor needs: metadata, data in and out, autograd entry points, ownership.
import { native, type NativeHandle } from '../native/index.ts';
import { type DType, type TypedArray, nativeDType, viewBytes } from './dtype.ts';
import { type Scope, track } from './scope.ts';

export class Tensor {
  owner: Scope | null = null;
  private shapeCache: number[] | null = null;

  constructor(readonly handle: NativeHandle) {
    track(this);
  }

  /** Shape as a fresh array (tensors never change shape: nnlock wraps no resizing in-place op). */
  get shape(): number[] {
    if (this.shapeCache === null) this.shapeCache = native.shape(this.handle);
    return this.shapeCache.slice();
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** The element type; a TypeError for one nnlock does not support (complex, quantized). */
  get dtype(): DType {
    return nativeDType(native.dtype(this.handle));
  }

  get device(): string {
    return native.device(this.handle);
  }

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }

  set requiresGrad(on: boolean) {
    native.setRequiresGrad(this.handle, on);
  }

  /** The accumulated gradient as a new tensor sharing its storage, or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }

  /** Replaces the gradient; null drops it (what optimizers' zeroGrad does). */
  setGrad(grad: Tensor | null): void {
    native.setGrad(this.handle, grad === null ? null : grad.handle);
  }

  backward(grad?: Tensor, options: { retainGraph?: boolean } = {}): void {
    native.backward(this.handle, grad?.handle ?? null, options.retainGraph ?? false);
  }

  /** The value of a one-element tensor. */
  item(): number {
    const v = native.item(this.handle);
    return typeof v === 'boolean' ? Number(v) : v;
  }

  /** A copy of the elements, row-major, in the typed array of the dtype. */
  toTypedArray(): TypedArray {
    return viewBytes(native.toBytes(this.handle), this.dtype);
  }

  /** The elements as a flat array of numbers (int64 through Number: exact below 2^53). */
  toArray(): number[] {
    const a = this.toTypedArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }

  get isDisposed(): boolean {
    return native.isDisposed(this.handle);
  }

  /** Frees the native tensor now. Safe to call twice. */
  dispose(): void {
    this.owner?.release(this);
    native.dispose(this.handle);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor(shape=[${this.shape.join(', ')}], dtype=${native.dtype(this.handle)}, device=${this.device})`;
  }
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
