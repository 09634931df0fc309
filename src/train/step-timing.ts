// How fast this installation trains: a few ResNet-20 training steps on random data, timed. What
// `nnlock info` and `nnlock demo` report, so a new installation can be checked in seconds.
import { manualSeed, scope } from '../tensor/index.ts';
import { randn, randint } from '../ops/creation.ts';
import { crossEntropy } from '../ops/loss.ts';
import { resnetCifar } from '../models/index.ts';
import { SGD } from '../nn/index.ts';

export interface TrainingStepTiming {
  /** Step 0 is the warm-up (not counted in the rate). */
  step: number;
  loss: number;
  ms: number;
}

/**
 * Times `steps` ResNet-20 training steps (batch `batch`, after one warm-up) on random CIFAR-sized
 * data; returns images per second (from the median step). onStep sees every step as it finishes.
 */
export function timeTrainingSteps(steps: number, batch: number, onStep: (t: TrainingStepTiming) => void = () => {}): number {
  manualSeed(0);
  const model = resnetCifar(20);
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const x = randn([batch, 3, 32, 32]);
  const y = randint(0, 10, [batch]);
  const times: number[] = [];
  try {
    for (let i = 0; i <= steps; i++) {
      const t0 = performance.now();
      const loss = scope(() => {
        opt.zeroGrad();
        const l = crossEntropy(model.forward(x), y);
        l.backward();
        opt.step();
        return l.item();
      });
      const ms = performance.now() - t0;
      if (i > 0) times.push(ms);
      onStep({ step: i, loss, ms });
    }
  } finally {
    x.dispose();
    y.dispose();
    opt.dispose();
    model.dispose();
  }
  const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  return batch / (median / 1000);
}
