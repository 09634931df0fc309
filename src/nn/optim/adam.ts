// Adam and AdamW (decoupled weight decay), PyTorch's single-tensor update.
import { type Tensor, keep, noGrad, scope } from '../../tensor/index.ts';
import { add, div, sqrt } from '../../ops/arithmetic.ts';
import { zerosLike } from '../../ops/creation.ts';
import { addInPlace, addcdivInPlace, addcmulInPlace, mulInPlace } from '../../ops/inplace.ts';
import { Optimizer, type ParamGroup } from './optimizer.ts';

export interface AdamConfig {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** AdamW: decay the weights directly instead of adding the decay to the gradient. */
  decoupledWeightDecay?: boolean;
}

export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly decoupled: boolean;
  private steps = 0;
  private moments = new Map<number, { m: Tensor; v: Tensor }>();

  constructor(params: Tensor[] | ParamGroup[], c: AdamConfig = {}) {
    super(params, c.lr ?? 1e-3, c.weightDecay ?? (c.decoupledWeightDecay ? 1e-2 : 0));
    this.betas = c.betas ?? [0.9, 0.999];
    this.eps = c.eps ?? 1e-8;
    this.decoupled = c.decoupledWeightDecay ?? false;
  }

  step(): void {
    this.steps++;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** this.steps;
    const bc2 = 1 - b2 ** this.steps;
    noGrad(() =>
      scope(() => {
        let index = 0;
        for (const group of this.groups) {
          for (const p of group.params) {
            const i = index++;
            let g = p.grad;
            if (!g) continue;
            if (group.weightDecay) {
              if (this.decoupled) mulInPlace(p, 1 - group.lr * group.weightDecay);
              else g = add(g, p, group.weightDecay);
            }
            let s = this.moments.get(i);
            if (!s) {
              s = { m: keep(zerosLike(p)), v: keep(zerosLike(p)) };
              this.moments.set(i, s);
            }
            mulInPlace(s.m, b1);
            addInPlace(s.m, g, 1 - b1);
            mulInPlace(s.v, b2);
            addcmulInPlace(s.v, g, g, 1 - b2);
            const denom = addInPlace(div(sqrt(s.v), Math.sqrt(bc2)), this.eps);
            addcdivInPlace(p, s.m, denom, -group.lr / bc1);
          }
        }
      }),
    );
  }

  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [i, s] of this.moments) {
      out.set(`${i}.exp_avg`, s.m);
      out.set(`${i}.exp_avg_sq`, s.v);
    }
    return out;
  }

  stateScalars(): Record<string, number> {
    return { step: this.steps };
  }

  loadState(tensors: Map<string, Tensor>, scalars: Record<string, number>): void {
    this.dispose();
    this.steps = scalars.step ?? 0;
    const byIndex = new Map<number, { m?: Tensor; v?: Tensor }>();
    for (const [name, t] of tensors) {
      const m = /^(\d+)\.(exp_avg|exp_avg_sq)$/.exec(name);
      if (!m) throw new Error(`Adam.loadState: unexpected state entry '${name}'`);
      const e = byIndex.get(Number(m[1])) ?? {};
      const copy = this.restoredState(Number(m[1]), t);
      if (m[2] === 'exp_avg') e.m = copy;
      else e.v = copy;
      byIndex.set(Number(m[1]), e);
    }
    for (const [i, e] of byIndex) {
      if (!e.m || !e.v) throw new Error(`Adam.loadState: parameter ${i} lacks exp_avg or exp_avg_sq`);
      this.moments.set(i, { m: e.m, v: e.v });
    }
  }

  dispose(): void {
    for (const s of this.moments.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.moments.clear();
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as in PyTorch). */
export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroup[], c: Omit<AdamConfig, 'decoupledWeightDecay'> = {}) {
    super(params, { ...c, decoupledWeightDecay: true });
  }
}
