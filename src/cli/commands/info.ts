// `nnlock info`: what the engine found (libtorch, threads, CUDA, the malloc policy) and a few ResNet-20 training
// steps with their speed, so a new installation can be checked in seconds.
import type { Command } from 'commander';
import type { CliIO } from '../io.ts';
import { cuda, getNumThreads, libtorchVersion, liveTensors, manualSeed, scope } from '../../tensor/index.ts';
import { randn, randint } from '../../ops/creation.ts';
import { crossEntropy } from '../../ops/loss.ts';
import { resnetCifar } from '../../models/index.ts';
import { SGD } from '../../nn/index.ts';
import { engineState } from '../../tensor/init.ts';

/** Times `steps` ResNet-20 training steps (after one warm-up) on random data; images per second. */
export function timeTrainingSteps(steps: number, batch: number, onStep: (i: number, loss: number, ms: number) => void): number {
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
      onStep(i, loss, ms);
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

export function registerInfo(program: Command, _io: CliIO): void {
  program
    .command('info')
    .description('show the engine (libtorch, threads, CUDA) and time a few ResNet-20 training steps')
    .option('--steps <n>', 'training steps to time', '5')
    .option('--batch <n>', 'batch size', '64')
    .action((opts: { steps: string; batch: string }) => {
      const steps = Number(opts.steps);
      const batch = Number(opts.batch);
      console.log(`libtorch ${libtorchVersion()}, ${getNumThreads()} threads, CUDA ${cuda.isAvailable() ? `yes (${cuda.deviceCount()} devices)` : 'no'}`);
      const allocatorState = engineState().allocator;
      console.log(`malloc: ${!allocatorState ? 'not set (init() was not called)' : allocatorState.apply
        ? `nnlock's policy (mmap threshold ${allocatorState.mmapThreshold / 2 ** 20} MiB, trim threshold ${allocatorState.trimThreshold / 2 ** 20} MiB)${allocatorState.applied ? '' : ', not applied: the C library is not glibc'}`
        : `left alone (${allocatorState.reason})`}`);
      const speed = timeTrainingSteps(steps, batch, (i, loss, ms) =>
        console.log(`step ${i}${i === 0 ? ' (warm-up)' : ''}: loss ${loss.toFixed(4)}, ${ms.toFixed(0)} ms`));
      console.log(`ResNet-20 training: ${speed.toFixed(0)} images/s (median of ${steps} steps, batch ${batch})`);
      console.log(`live tensors after cleanup: ${liveTensors()}`);
    });
}
