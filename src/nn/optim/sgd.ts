// SGD with momentum, dampening, Nesterov and weight decay: PyTorch's update, step for step.
import { type Tensor, keep, noGrad, scope } from '../../tensor/index.ts';
import { add } from '../../ops/arithmetic.ts';
import { clone } from '../../ops/convert.ts';
import { addInPlace, mulInPlace } from '../../ops/inplace.ts';
import { Optimizer, type ParamGroup } from './optimizer.ts';

export interface SGDConfig {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  private buffers = new Map<number, Tensor>();

  constructor(params: Tensor[] | ParamGroup[], c: SGDConfig) {
    super(params, c.lr, c.weightDecay ?? 0);
    this.momentum = c.momentum ?? 0;
    this.dampening = c.dampening ?? 0;
    this.nesterov = c.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new RangeError('SGD: Nesterov needs momentum > 0 and no dampening');
  }

  step(): void {
    noGrad(() =>
      scope(() => {
        let index = 0;
        for (const group of this.groups) {
          for (const p of group.params) {
            const i = index++;
            const grad = p.grad;
            if (!grad) continue;
            let d = group.weightDecay ? add(grad, p, group.weightDecay) : grad;
            if (this.momentum) {
              let buf = this.buffers.get(i);
              if (buf === undefined) {
                buf = keep(clone(d));
                this.buffers.set(i, buf);
              } else {
                mulInPlace(buf, this.momentum);
                addInPlace(buf, d, 1 - this.dampening);
              }
              d = this.nesterov ? add(d, buf, this.momentum) : buf;
            }
            addInPlace(p, d, -group.lr);
          }
        }
      }),
    );
  }

  stateTensors(): Map<string, Tensor> {
    return new Map([...this.buffers].map(([i, t]) => [`${i}.momentum_buffer`, t]));
  }

  stateScalars(): Record<string, number> {
    return {};
  }

  loadState(tensors: Map<string, Tensor>): void {
    this.dispose();
    for (const [name, t] of tensors) {
      const m = /^(\d+)\.momentum_buffer$/.exec(name);
      if (!m) throw new Error(`SGD.loadState: unexpected state entry '${name}'`);
      this.buffers.set(Number(m[1]), this.restoredState(Number(m[1]), t));
    }
  }

  dispose(): void {
    for (const t of this.buffers.values()) t.dispose();
    this.buffers.clear();
  }
}
