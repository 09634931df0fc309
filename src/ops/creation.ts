// Tensor factories (torch.zeros, arange, rand, ... and the *_like family), with PyTorch's defaults.
import type { DType, Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

export interface CreateOptions {
  /** float32 unless said otherwise (integer factories: int64), as in PyTorch. */
  dtype?: DType;
  /** 'cpu' (default), 'cuda', 'cuda:0', ... */
  device?: string;
  /** Make the new tensor a leaf that records gradients. */
  requiresGrad?: boolean;
}

/** *_like factories: dtype and device default to those of the model tensor. */
export type LikeOptions = CreateOptions;

const emptyOp = op('aten::empty', 'memory_format');
const zerosOp = op('aten::zeros');
const onesOp = op('aten::ones');
const fullOp = op('aten::full');
const arangeOp = op('aten::arange', 'start_step');
const linspaceOp = op('aten::linspace');
const randOp = op('aten::rand');
const randnOp = op('aten::randn');
const randintOp = op('aten::randint', 'low');
const randpermOp = op('aten::randperm');
const eyeOp = op('aten::eye', 'm');
const zerosLikeOp = op('aten::zeros_like');
const onesLikeOp = op('aten::ones_like');
const fullLikeOp = op('aten::full_like');
const randLikeOp = op('aten::rand_like');
const randnLikeOp = op('aten::randn_like');
const emptyLikeOp = op('aten::empty_like');

// Factories take (dtype, layout, device, pin_memory) as their trailing keyword arguments.
function tail(o: CreateOptions, dtype: DType | undefined): unknown[] {
  return [dtype, undefined, o.device, undefined];
}

function finish(t: Tensor, o: CreateOptions): Tensor {
  if (o.requiresGrad) {
    try {
      t.requiresGrad = true;
    } catch (e) {
      t.dispose(); // e.g. an integer dtype, which cannot require grad: do not leak the tensor
      throw e;
    }
  }
  return t;
}

/** Uninitialised memory: for outputs that an op fills completely (e.g. copyInPlace into a view). */
export function empty(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(callTensor(emptyOp, [shape, ...tail(o, o.dtype ?? 'float32')]), o);
}

export function zeros(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(callTensor(zerosOp, [shape, ...tail(o, o.dtype ?? 'float32')]), o);
}

export function ones(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(callTensor(onesOp, [shape, ...tail(o, o.dtype ?? 'float32')]), o);
}

/**
 * float32 by default: JavaScript cannot tell 1 from 1.0, so unlike torch.full an integral fill
 * value does not make an int64 tensor; ask for dtype 'int64' explicitly.
 */
export function full(shape: readonly number[], value: number | boolean, o: CreateOptions = {}): Tensor {
  return finish(callTensor(fullOp, [shape, value, ...tail(o, o.dtype ?? 'float32')]), o);
}

/**
 * arange(end) or arange(start, end, step). As in PyTorch, when no dtype is given the result is
 * int64 if every argument is an integer, else float32.
 */
export function arange(end: number, o?: CreateOptions): Tensor;
export function arange(start: number, end: number, step?: number, o?: CreateOptions): Tensor;
export function arange(a: number, b?: number | CreateOptions, c?: number, d?: CreateOptions): Tensor {
  let start = 0,
    end: number,
    step = 1,
    o: CreateOptions;
  if (typeof b === 'number') {
    start = a;
    end = b;
    step = c ?? 1;
    o = d ?? {};
  } else {
    end = a;
    o = b ?? {};
  }
  if (step === 0) throw new RangeError('arange: step must be non-zero');
  // The integral Scalars the converter makes from whole numbers give ATen's int64 inference.
  return finish(callTensor(arangeOp, [start, end, step, ...tail(o, o.dtype)]), o);
}

/** `steps` points evenly from start to end inclusive (float32 unless a dtype is given). */
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(callTensor(linspaceOp, [start, end, steps, ...tail(o, o.dtype ?? 'float32')]), o);
}

/** Uniform on [0, 1), from the global generator (manualSeed). */
export function rand(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(callTensor(randOp, [shape, ...tail(o, o.dtype ?? 'float32')]), o);
}

/** Standard normal, from the global generator (manualSeed). */
export function randn(shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(callTensor(randnOp, [shape, ...tail(o, o.dtype ?? 'float32')]), o);
}

/** Integers in [low, high), int64 unless a dtype is given. */
export function randint(low: number, high: number, shape: readonly number[], o: CreateOptions = {}): Tensor {
  return finish(callTensor(randintOp, [low, high, shape, ...tail(o, o.dtype ?? 'int64')]), o);
}

/** A random permutation of 0..n-1, int64 unless a dtype is given. */
export function randperm(n: number, o: CreateOptions = {}): Tensor {
  return finish(callTensor(randpermOp, [n, ...tail(o, o.dtype ?? 'int64')]), o);
}

/** The n×m identity (m defaults to n). */
export function eye(n: number, m: number = n, o: CreateOptions = {}): Tensor {
  return finish(callTensor(eyeOp, [n, m, ...tail(o, o.dtype ?? 'float32')]), o);
}

// *_like: (self, [fill,] dtype, layout, device, pin_memory, memory_format); None keeps self's.
export function zerosLike(x: Tensor, o: LikeOptions = {}): Tensor {
  return finish(callTensor(zerosLikeOp, [x, ...tail(o, o.dtype)]), o);
}

export function onesLike(x: Tensor, o: LikeOptions = {}): Tensor {
  return finish(callTensor(onesLikeOp, [x, ...tail(o, o.dtype)]), o);
}

export function fullLike(x: Tensor, value: number | boolean, o: LikeOptions = {}): Tensor {
  return finish(callTensor(fullLikeOp, [x, value, ...tail(o, o.dtype)]), o);
}

export function randLike(x: Tensor, o: LikeOptions = {}): Tensor {
  return finish(callTensor(randLikeOp, [x, ...tail(o, o.dtype)]), o);
}

export function randnLike(x: Tensor, o: LikeOptions = {}): Tensor {
  return finish(callTensor(randnLikeOp, [x, ...tail(o, o.dtype)]), o);
}

/** Uninitialised memory of x's shape: only for tensors that are fully overwritten next. */
export function emptyLike(x: Tensor, o: LikeOptions = {}): Tensor {
  return finish(callTensor(emptyLikeOp, [x, ...tail(o, o.dtype)]), o);
}
