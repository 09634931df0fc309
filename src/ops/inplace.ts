// In-place ops for optimizers and initialisers. Each mutates `self` and returns that same Tensor
// object (no new handle to dispose). Run them under noGrad() on parameters: autograd refuses
// in-place changes to leaves that require grad.
import type { Tensor } from '../tensor/index.ts';
import { callInPlace, op } from './dispatch.ts';
import { integerRemainderIsZero } from './integer-division.ts';

const addOp = op('aten::add_', 'Tensor');
const addScalarOp = op('aten::add_', 'Scalar');
const subOp = op('aten::sub_', 'Tensor');
const subScalarOp = op('aten::sub_', 'Scalar');
const mulOp = op('aten::mul_', 'Tensor');
const mulScalarOp = op('aten::mul_', 'Scalar');
const divOp = op('aten::div_', 'Tensor');
const divScalarOp = op('aten::div_', 'Scalar');
const addcmulOp = op('aten::addcmul_');
const addcdivOp = op('aten::addcdiv_');
const lerpOp = op('aten::lerp_', 'Scalar');
const lerpTensorOp = op('aten::lerp_', 'Tensor');
const sqrtOp = op('aten::sqrt_');
const clampOp = op('aten::clamp_');
const clampTensorOp = op('aten::clamp_', 'Tensor');
const zeroOp = op('aten::zero_');
const fillOp = op('aten::fill_', 'Scalar');
const fillTensorOp = op('aten::fill_', 'Tensor');
const copyOp = op('aten::copy_');
const remainderScalarOp = op('aten::remainder_', 'Scalar');
const normalOp = op('aten::normal_');
const uniformOp = op('aten::uniform_');

/** self += alpha·other. */
export function addInPlace(self: Tensor, other: Tensor | number, alpha = 1): Tensor {
  return typeof other === 'number' ? callInPlace(addScalarOp, self, [other, alpha]) : callInPlace(addOp, self, [other, alpha]);
}

/** self −= alpha·other. */
export function subInPlace(self: Tensor, other: Tensor | number, alpha = 1): Tensor {
  return typeof other === 'number' ? callInPlace(subScalarOp, self, [other, alpha]) : callInPlace(subOp, self, [other, alpha]);
}

export function mulInPlace(self: Tensor, other: Tensor | number): Tensor {
  return typeof other === 'number' ? callInPlace(mulScalarOp, self, [other]) : callInPlace(mulOp, self, [other]);
}

/** self *= s (the scalar case of mulInPlace, named for optimizers' weight decay and momentum). */
export function mulScalarInPlace(self: Tensor, s: number): Tensor {
  return callInPlace(mulScalarOp, self, [s]);
}

export function divInPlace(self: Tensor, other: Tensor | number): Tensor {
  return typeof other === 'number' ? callInPlace(divScalarOp, self, [other]) : callInPlace(divOp, self, [other]);
}

/** self += value·t1·t2. */
export function addcmulInPlace(self: Tensor, t1: Tensor, t2: Tensor, value = 1): Tensor {
  return callInPlace(addcmulOp, self, [t1, t2, value]);
}

/** self += value·t1/t2. */
export function addcdivInPlace(self: Tensor, t1: Tensor, t2: Tensor, value = 1): Tensor {
  return callInPlace(addcdivOp, self, [t1, t2, value]);
}

/** self += weight·(end − self). */
export function lerpInPlace(self: Tensor, end: Tensor, weight: Tensor | number): Tensor {
  return typeof weight === 'number' ? callInPlace(lerpOp, self, [end, weight]) : callInPlace(lerpTensorOp, self, [end, weight]);
}

export function sqrtInPlace(self: Tensor): Tensor {
  return callInPlace(sqrtOp, self, []);
}

/** Limits self to [min, max] in place; bounds are both numbers or both tensors (or omitted). */
export function clampInPlace(self: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
  if (min == null && max == null) throw new TypeError('clampInPlace: give at least one of min and max');
  const tensors = (min != null && typeof min === 'object') || (max != null && typeof max === 'object');
  if (!tensors) return callInPlace(clampOp, self, [min ?? null, max ?? null]);
  if (typeof min === 'number' || typeof max === 'number') throw new TypeError('clampInPlace: do not mix number and tensor bounds');
  return callInPlace(clampTensorOp, self, [min ?? null, max ?? null]);
}

export function zeroInPlace(self: Tensor): Tensor {
  return callInPlace(zeroOp, self, []);
}

/** Fills self with a number or the value of a 0-d tensor. */
export function fillInPlace(self: Tensor, value: number | boolean | Tensor): Tensor {
  return typeof value === 'object' ? callInPlace(fillTensorOp, self, [value]) : callInPlace(fillOp, self, [value]);
}

/** Copies src into self (broadcasting, converting dtype and device). */
/**
 * self = self mod divisor, with the sign of the divisor (Python's %, torch.remainder). On integers
 * a zero divisor is a RangeError and x mod −1 is 0 (libtorch's kernel traps on −2⁶³ mod −1).
 */
export function remainderInPlace(self: Tensor, divisor: number): Tensor {
  if (integerRemainderIsZero('remainderInPlace', self, divisor)) return callInPlace(zeroOp, self, []);
  return callInPlace(remainderScalarOp, self, [divisor]);
}

export function copyInPlace(self: Tensor, src: Tensor): Tensor {
  return callInPlace(copyOp, self, [src]);
}

/** Fills self from N(mean, std²), from the global generator (manualSeed). */
export function normalInPlace(self: Tensor, mean = 0, std = 1): Tensor {
  return callInPlace(normalOp, self, [mean, std]);
}

/** Fills self from U[from, to), from the global generator (manualSeed). */
export function uniformInPlace(self: Tensor, from = 0, to = 1): Tensor {
  return callInPlace(uniformOp, self, [from, to]);
}
