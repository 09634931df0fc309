// Learning-rate schedules as pure functions of the step (or epoch) index, so resuming from a
// checkpoint needs only the index. apply() sets the optimizer's rate.
import type { Optimizer } from './optimizer.ts';

export interface Schedule {
  /** Learning rate at step t (0-based). */
  at(t: number): number;
}

export function applySchedule(opt: Optimizer, schedule: Schedule, t: number): number {
  const lr = schedule.at(t);
  opt.lr = lr;
  return lr;
}

/** MultiStepLR: lr × gamma^(number of milestones ≤ t). */
export function multiStep(baseLr: number, milestones: number[], gamma = 0.1): Schedule {
  return { at: (t) => baseLr * gamma ** milestones.filter((m) => m <= t).length };
}

/** CosineAnnealingLR without restarts: from baseLr at 0 to etaMin at tMax. */
export function cosine(baseLr: number, tMax: number, etaMin = 0): Schedule {
  return { at: (t) => etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * Math.min(t, tMax)) / tMax))) / 2 };
}

/**
 * OneCycleLR (cosine annealing, PyTorch's defaults): warm up from maxLr/divFactor to maxLr over
 * pctStart of the steps, then anneal to maxLr/(divFactor·finalDivFactor).
 */
export function oneCycle(maxLr: number, totalSteps: number, o: { pctStart?: number; divFactor?: number; finalDivFactor?: number } = {}): Schedule {
  const initial = maxLr / (o.divFactor ?? 25);
  const final = initial / (o.finalDivFactor ?? 1e4);
  const up = Math.floor((o.pctStart ?? 0.3) * totalSteps) - 1;
  const down = totalSteps - 1;
  const anneal = (from: number, to: number, pct: number) => to + ((from - to) * (1 + Math.cos(Math.PI * pct))) / 2;
  return {
    at: (t) => (t <= up ? anneal(initial, maxLr, t / up) : anneal(maxLr, final, (t - up) / (down - up))),
  };
}
