// The optimizer base: parameter groups with their own learning rate, zeroGrad, and the state
// every optimizer keeps per parameter (saved in checkpoints so training resumes exactly).
import { type Tensor, keep, noGrad } from '../../tensor/index.ts';
import { toDevice } from '../../ops/convert.ts';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
}

export abstract class Optimizer {
  readonly groups: ParamGroup[];

  constructor(params: Tensor[] | ParamGroup[], lr: number, weightDecay: number) {
    const first = params[0];
    if (first !== undefined && 'params' in first) this.groups = params as ParamGroup[];
    else this.groups = [{ params: params as Tensor[], lr, weightDecay }];
    this.ratios = this.groups.map((g) => (this.groups[0].lr > 0 ? g.lr / this.groups[0].lr : 1));
  }

  /** Each group's rate relative to the first group's, fixed at construction. */
  private readonly ratios: number[];

  /** Sets the first group's rate and every other group's at its original ratio (what schedules do). */
  set lr(value: number) {
    this.groups.forEach((g, i) => (g.lr = value * this.ratios[i]));
  }

  get lr(): number {
    return this.groups[0]?.lr ?? 0;
  }

  /** Drops gradients (PyTorch's zero_grad(set_to_none=True), its default since 2.0). */
  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.setGrad(null);
  }

  abstract step(): void;

  /** Per-parameter state tensors by name, for checkpoints: `${index}.${slot}`. */
  abstract stateTensors(): Map<string, Tensor>;

  /** Scalars of the optimizer's state (step counts), for checkpoints. */
  abstract stateScalars(): Record<string, number>;

  abstract loadState(tensors: Map<string, Tensor>, scalars: Record<string, number>): void;

  /** Frees the optimizer's own state tensors (never the parameters). */
  abstract dispose(): void;

  /**
   * A kept copy of saved state for the parameter at `index`, on that parameter's device:
   * checkpoints are read onto the CPU, and a model moved to a GPU needs its state there.
   */
  protected restoredState(index: number, saved: Tensor): Tensor {
    const device = this.allParams()[index]?.device ?? saved.device;
    return keep(noGrad(() => toDevice(saved, device, true)));
  }

  protected allParams(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }
}
