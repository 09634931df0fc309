// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_).
import { type Tensor, noGrad, scope } from '../../tensor/index.ts';
import { norm } from '../../ops/reduction.ts';
import { mulInPlace } from '../../ops/inplace.ts';

/** Scales all gradients so their joint L2 norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return noGrad(() =>
    scope(() => {
      const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
      let sq = 0;
      for (const g of grads) sq += norm(g).item() ** 2;
      const total = Math.sqrt(sq);
      const coef = maxNorm / (total + 1e-6);
      if (coef < 1) for (const g of grads) mulInPlace(g, coef);
      return total;
    }),
  );
}
