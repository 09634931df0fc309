// Elementwise arithmetic with broadcasting. Where PyTorch takes a Python number the second operand
// may be a JavaScript number (the Scalar overloads): a whole number acts like a Python int, so
// mul(intTensor, 2) stays integral while mul(intTensor, 0.5) promotes to float.
import { type Tensor, isFloating } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';
import { full } from './creation.ts';
import { integerDivision, safeIntegerDiv } from './integer-division.ts';

const addOp = op('aten::add', 'Tensor');
const addScalarOp = op('aten::add', 'Scalar');
const subOp = op('aten::sub', 'Tensor');
const subScalarOp = op('aten::sub', 'Scalar');
const rsubScalarOp = op('aten::rsub', 'Scalar');
const mulOp = op('aten::mul', 'Tensor');
const mulScalarOp = op('aten::mul', 'Scalar');
const divOp = op('aten::div', 'Tensor');
const divScalarOp = op('aten::div', 'Scalar');
const divModeOp = op('aten::div', 'Tensor_mode');
const divScalarModeOp = op('aten::div', 'Scalar_mode');
const negOp = op('aten::neg');
const powOp = op('aten::pow', 'Tensor_Tensor');
const powScalarOp = op('aten::pow', 'Tensor_Scalar');
const powBaseOp = op('aten::pow', 'Scalar');
const sqrtOp = op('aten::sqrt');
const rsqrtOp = op('aten::rsqrt');
const expOp = op('aten::exp');
const logOp = op('aten::log');
const absOp = op('aten::abs');
const signOp = op('aten::sign');
const squareOp = op('aten::square');
const clampOp = op('aten::clamp');
const clampTensorOp = op('aten::clamp', 'Tensor');
const maximumOp = op('aten::maximum');
const minimumOp = op('aten::minimum');
const whereOp = op('aten::where', 'self');
const whereScalarOtherOp = op('aten::where', 'ScalarOther');
const whereScalarSelfOp = op('aten::where', 'ScalarSelf');
const whereScalarOp = op('aten::where', 'Scalar');
const lerpOp = op('aten::lerp', 'Scalar');
const lerpTensorOp = op('aten::lerp', 'Tensor');
const addcmulOp = op('aten::addcmul');
const addcdivOp = op('aten::addcdiv');
const roundOp = op('aten::round');
const roundDecimalsOp = op('aten::round', 'decimals');
const floorOp = op('aten::floor');

/** a + alpha·b. */
export function add(a: Tensor, b: Tensor | number, alpha = 1): Tensor {
  return typeof b === 'number' ? callTensor(addScalarOp, [a, b, alpha]) : callTensor(addOp, [a, b, alpha]);
}

/** a − alpha·b; a number first gives b's complement (torch.rsub). */
export function sub(a: Tensor | number, b: Tensor | number, alpha = 1): Tensor {
  if (typeof a === 'number') {
    if (typeof b === 'number') throw new TypeError('sub: at least one operand must be a tensor');
    return callTensor(rsubScalarOp, [b, a, alpha]);
  }
  return typeof b === 'number' ? callTensor(subScalarOp, [a, b, alpha]) : callTensor(subOp, [a, b, alpha]);
}

export function mul(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? callTensor(mulScalarOp, [a, b]) : callTensor(mulOp, [a, b]);
}

export type RoundingMode = 'trunc' | 'floor';

/**
 * True division (integers promote to float) unless a rounding mode is given. A number as
 * dividend divides it by every element of b. With a rounding mode on integers, a zero divisor is
 * a RangeError and a divisor of −1 negates (wrapping at the type's minimum).
 */
export function div(a: Tensor | number, b: Tensor | number, roundingMode?: RoundingMode): Tensor {
  if (typeof a === 'number') {
    if (typeof b === 'number') throw new TypeError('div: at least one operand must be a tensor');
    if (roundingMode !== undefined) throw new TypeError('div: a number dividend takes no rounding mode');
    // ATen has no Scalar-dividend overload: lift a to a 0-d tensor (floating, so that an integer
    // b promotes to float32 as in Python's 2 / t) and divide exactly.
    const numerator = full([], a, { dtype: isFloating(b.dtype) ? b.dtype : 'float32', device: b.device });
    try {
      return callTensor(divOp, [numerator, b]);
    } finally {
      numerator.dispose();
    }
  }
  if (roundingMode !== undefined) {
    const rounded = (x: Tensor, y: Tensor | number) => (typeof y === 'number' ? callTensor(divScalarModeOp, [x, y, roundingMode]) : callTensor(divModeOp, [x, y, roundingMode]));
    // libtorch's integer kernels trap (SIGFPE) on −2⁶³ / −1: see integer-division.ts.
    return integerDivision(a, b) ? safeIntegerDiv('div', a, b, rounded) : rounded(a, b);
  }
  return typeof b === 'number' ? callTensor(divScalarOp, [a, b]) : callTensor(divOp, [a, b]);
}

export function neg(x: Tensor): Tensor {
  return callTensor(negOp, [x]);
}

/** base^exponent, either of which may be a number. */
export function pow(base: Tensor | number, exponent: Tensor | number): Tensor {
  if (typeof base === 'number') {
    if (typeof exponent === 'number') throw new TypeError('pow: at least one operand must be a tensor');
    return callTensor(powBaseOp, [base, exponent]);
  }
  return typeof exponent === 'number' ? callTensor(powScalarOp, [base, exponent]) : callTensor(powOp, [base, exponent]);
}

export function sqrt(x: Tensor): Tensor {
  return callTensor(sqrtOp, [x]);
}

export function rsqrt(x: Tensor): Tensor {
  return callTensor(rsqrtOp, [x]);
}

export function exp(x: Tensor): Tensor {
  return callTensor(expOp, [x]);
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return callTensor(logOp, [x]);
}

export function abs(x: Tensor): Tensor {
  return callTensor(absOp, [x]);
}

export function sign(x: Tensor): Tensor {
  return callTensor(signOp, [x]);
}

export function square(x: Tensor): Tensor {
  return callTensor(squareOp, [x]);
}

/** Limits x to [min, max]; either bound may be omitted (undefined or null), a number or a tensor. */
export function clamp(x: Tensor, min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
  if (min == null && max == null) throw new TypeError('clamp: give at least one of min and max');
  if ((min == null || typeof min === 'number') && (max == null || typeof max === 'number')) {
    return callTensor(clampOp, [x, min ?? null, max ?? null]);
  }
  // A tensor bound: ATen's Tensor overload wants both bounds as tensors, so lift a number to 0-d.
  const lift = (v: Tensor | number | null | undefined): Tensor | null => (typeof v === 'number' ? full([], v, { dtype: x.dtype, device: x.device }) : (v ?? null));
  const lo = lift(min);
  const hi = lift(max);
  try {
    return callTensor(clampTensorOp, [x, lo, hi]);
  } finally {
    if (typeof min === 'number') lo?.dispose();
    if (typeof max === 'number') hi?.dispose();
  }
}

/** Elementwise maximum of two tensors (NaN propagates). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return callTensor(maximumOp, [a, b]);
}

export function minimum(a: Tensor, b: Tensor): Tensor {
  return callTensor(minimumOp, [a, b]);
}

/** a where cond is true, else b; either branch may be a number. */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number') {
    return typeof b === 'number' ? callTensor(whereScalarOp, [cond, a, b]) : callTensor(whereScalarSelfOp, [cond, a, b]);
  }
  return typeof b === 'number' ? callTensor(whereScalarOtherOp, [cond, a, b]) : callTensor(whereOp, [cond, a, b]);
}

/** start + weight·(end − start). */
export function lerp(start: Tensor, end: Tensor, weight: Tensor | number): Tensor {
  return typeof weight === 'number' ? callTensor(lerpOp, [start, end, weight]) : callTensor(lerpTensorOp, [start, end, weight]);
}

/** x + value·t1·t2. */
export function addcmul(x: Tensor, t1: Tensor, t2: Tensor, value = 1): Tensor {
  return callTensor(addcmulOp, [x, t1, t2, value]);
}

/** x + value·t1/t2. */
export function addcdiv(x: Tensor, t1: Tensor, t2: Tensor, value = 1): Tensor {
  return callTensor(addcdivOp, [x, t1, t2, value]);
}

/** Rounds half to even, as PyTorch; with decimals, to that many decimal places. */
export function round(x: Tensor, decimals?: number): Tensor {
  return decimals === undefined || decimals === 0 ? callTensor(roundOp, [x]) : callTensor(roundDecimalsOp, [x, decimals]);
}

export function floor(x: Tensor): Tensor {
  return callTensor(floorOp, [x]);
}
