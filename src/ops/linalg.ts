// Linear algebra (torch.linalg and friends): batched matrix products, solves, inverses,
// least squares, QR, singular values, and the integer remainder the modular ciphers need.
// Every function takes batches of matrices in the last two dims, as PyTorch does.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, callTensors, op } from './dispatch.ts';
import { integerDivision, safeIntegerRemainder } from './integer-division.ts';

const bmmOp = op('aten::bmm');
const solveOp = op('aten::linalg_solve');
const invOp = op('aten::linalg_inv');
const detOp = op('aten::linalg_det');
const qrOp = op('aten::linalg_qr');
const svdvalsOp = op('aten::linalg_svdvals');
const condOp = op('aten::linalg_cond');
const lstsqOp = op('aten::linalg_lstsq');
const pinvOp = op('aten::linalg_pinv');
const eighOp = op('aten::linalg_eigh');
const remainderScalarOp = op('aten::remainder', 'Scalar');
const remainderOp = op('aten::remainder', 'Tensor');
const diagonalOp = op('aten::diagonal');

/** [B, n, m] × [B, m, p] → [B, n, p] (torch.bmm; no broadcasting). */
export function bmm(a: Tensor, b: Tensor): Tensor {
  return callTensor(bmmOp, [a, b]);
}

/** X with A·X = B (left, the default) or X·A = B (left false). Throws on a singular A. */
export function linalgSolve(a: Tensor, b: Tensor, left = true): Tensor {
  return callTensor(solveOp, [a, b, left]);
}

/** A⁻¹; throws on a singular A. */
export function linalgInv(a: Tensor): Tensor {
  return callTensor(invOp, [a]);
}

export function linalgDet(a: Tensor): Tensor {
  return callTensor(detOp, [a]);
}

export interface QR {
  q: Tensor;
  r: Tensor;
}

/** QR decomposition; mode 'reduced' (default), 'complete' or 'r'. */
export function linalgQr(a: Tensor, mode: 'reduced' | 'complete' | 'r' = 'reduced'): QR {
  const [q, r] = callTensors(qrOp, [a, mode]);
  return { q, r };
}

export interface Eigh {
  /** Eigenvalues in ascending order. */
  values: Tensor;
  /** Eigenvectors as columns, in the same order. */
  vectors: Tensor;
}

/** Eigen-decomposition of a symmetric (Hermitian) matrix, from its lower triangle (torch.linalg.eigh). */
export function linalgEigh(a: Tensor): Eigh {
  const [values, vectors] = callTensors(eighOp, [a, 'L']);
  return { values, vectors };
}

/** Singular values, largest first. */
export function linalgSvdvals(a: Tensor): Tensor {
  return callTensor(svdvalsOp, [a]);
}

/** Condition number in the 2-norm (σmax/σmin) unless p is given. */
export function linalgCond(a: Tensor, p: number | null = null): Tensor {
  return callTensor(condOp, [a, p]);
}

export interface Lstsq {
  solution: Tensor;
  residuals: Tensor;
  rank: Tensor;
  singularValues: Tensor;
}

/**
 * Least squares: X minimising ‖A·X − B‖. On the CPU the default driver is 'gelsy' (rank
 * revealing); 'gelsd' also returns singular values. The caller owns all four tensors.
 */
export function linalgLstsq(a: Tensor, b: Tensor, o: { rcond?: number; driver?: 'gels' | 'gelsy' | 'gelsd' | 'gelss' } = {}): Lstsq {
  const [solution, residuals, rank, singularValues] = callTensors(lstsqOp, [a, b, o.rcond ?? null, o.driver ?? null]);
  return { solution, residuals, rank, singularValues };
}

/** Moore–Penrose pseudo-inverse (singular values below rcond·σmax count as zero). */
export function linalgPinv(a: Tensor, rcond = 1e-15): Tensor {
  return callTensor(pinvOp, [a, rcond, false]);
}

/**
 * Python's %: the result has the sign of the divisor (so x mod 256 is in 0..255 for any x). On
 * integers a zero divisor is a RangeError and x mod −1 is 0 (libtorch's kernel traps on
 * −2⁶³ mod −1: see integer-division.ts).
 */
export function remainder(x: Tensor, divisor: Tensor | number): Tensor {
  const compute = (a: Tensor, b: Tensor | number) => (typeof b === 'number' ? callTensor(remainderScalarOp, [a, b]) : callTensor(remainderOp, [a, b]));
  return integerDivision(x, divisor) ? safeIntegerRemainder('remainder', x, divisor, compute) : compute(x, divisor);
}

/** A view of a diagonal (offset > 0 above the main one) of the matrices in dims dim1, dim2. */
export function diagonal(x: Tensor, offset = 0, dim1 = -2, dim2 = -1): Tensor {
  return callTensor(diagonalOp, [x, offset, dim1, dim2]);
}
