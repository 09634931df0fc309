// Integer division and remainder without libtorch's crash bugs. In libtorch 1.13 (and PyTorch
// 1.13) the CPU kernels compute `a / b` and `a % b` with the machine's integer division, which
// traps (SIGFPE, the whole process dies) for the most negative value divided by −1: int64 −2⁶³
// with rounding 'trunc' or 'floor', `remainder(t, -1)`, `remainder_(t, -1)`. Division by zero
// is checked by libtorch for tensors but is refused here too, with a clear message, before any
// kernel runs. Divisors of −1 are computed without dividing: x / −1 is −x (wrapping at the type's
// minimum, as the CUDA kernels and two's complement do) and x mod −1 is 0.
import { type Tensor, isFloating } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

const eqScalarOp = op('aten::eq', 'Scalar');
const anyOp = op('aten::any');
const whereScalarSelfOp = op('aten::where', 'ScalarSelf');
const whereOp = op('aten::where', 'self');
const negOp = op('aten::neg');
const zerosLikeOp = op('aten::zeros_like');
const expandAsOp = op('aten::expand_as');

/** Whether a tensor holds integers (bool aside: it has no division to trap). */
function integral(t: Tensor): boolean {
  const dtype = t.dtype;
  return !isFloating(dtype) && dtype !== 'bool';
}

/** Whether `a op b` computes in an integer dtype, where libtorch's kernels can trap. */
export function integerDivision(a: Tensor, b: Tensor | number): boolean {
  if (!integral(a)) return false;
  return typeof b === 'number' ? Number.isInteger(b) : integral(b);
}

/** Refuses a zero divisor (a number, or any zero element of a tensor) with a RangeError. */
function refuseZero(who: string, b: Tensor | number): void {
  if (typeof b === 'number') {
    if (b === 0) throw new RangeError(`${who}: integer division by zero`);
    return;
  }
  const zero = callTensor(eqScalarOp, [b, 0]);
  try {
    if (anyTrue(zero)) throw new RangeError(`${who}: integer division by zero (the divisor has a zero element)`);
  } finally {
    zero.dispose();
  }
}

function anyTrue(mask: Tensor): boolean {
  const any = callTensor(anyOp, [mask]);
  try {
    return any.item() !== 0;
  } finally {
    any.dispose();
  }
}

/**
 * Computes `compute(a, b)` for an integer a and b (the caller checked integerDivision) without
 * reaching the trapping kernels: `atMinusOne(a)` is the result where the divisor is −1.
 */
function safely(who: string, a: Tensor, b: Tensor | number, compute: (a: Tensor, b: Tensor | number) => Tensor, atMinusOne: (a: Tensor) => Tensor): Tensor {
  refuseZero(who, b);
  if (typeof b === 'number') return b === -1 ? atMinusOne(a) : compute(a, b);
  const minusOne = callTensor(eqScalarOp, [b, -1]);
  const owned: Tensor[] = [minusOne];
  try {
    if (!anyTrue(minusOne)) return compute(a, b);
    // Divide by 1 where the divisor is −1, then put the −1 results in their place.
    const divisor = callTensor(whereScalarSelfOp, [minusOne, 1, b]);
    owned.push(divisor);
    const quotient = compute(a, divisor);
    owned.push(quotient);
    const expanded = callTensor(expandAsOp, [a, quotient]);
    owned.push(expanded);
    const special = atMinusOne(expanded);
    owned.push(special);
    return callTensor(whereOp, [minusOne, special, quotient]);
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** div(a, b, mode) for integer operands: a / −1 is −a, a zero divisor is a RangeError. */
export function safeIntegerDiv(who: string, a: Tensor, b: Tensor | number, compute: (a: Tensor, b: Tensor | number) => Tensor): Tensor {
  return safely(who, a, b, compute, (x) => callTensor(negOp, [x]));
}

/** remainder(a, b) for integer operands: a mod −1 is 0, a zero divisor is a RangeError. */
export function safeIntegerRemainder(who: string, a: Tensor, b: Tensor | number, compute: (a: Tensor, b: Tensor | number) => Tensor): Tensor {
  return safely(who, a, b, compute, (x) => callTensor(zerosLikeOp, [x]));
}

/** Refuses what remainderInPlace(self, divisor) cannot compute; true when the result is all zeros. */
export function integerRemainderIsZero(who: string, self: Tensor, divisor: number): boolean {
  if (!integerDivision(self, divisor)) return false;
  refuseZero(who, divisor);
  return divisor === -1;
}
