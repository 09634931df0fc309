// Dropout: identity unless training; draws from the global generator (manualSeed).
import type { Tensor } from '../tensor/index.ts';
import { callTensor, op } from './dispatch.ts';

const dropoutOp = op('aten::dropout');

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return callTensor(dropoutOp, [x, p, training]);
}
