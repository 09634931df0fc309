// `nnlock info`: what the engine found (libtorch, threads, CUDA) and a small training step with
// its speed, so a new installation can be checked in seconds.
import type { Command } from 'commander';
import { cuda, getNumThreads, libtorchVersion, liveTensors, manualSeed, randn, randint, scope } from '../../index.ts';
import { resnetCifar } from '../../models/index.ts';
import { SGD } from '../../nn/index.ts';
import { crossEntropy } from '../../ops/loss.ts';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the engine (libtorch, threads, CUDA) and time a few ResNet-20 training steps')
    .option('--steps <n>', 'training steps to time', '5')
    .option('--batch <n>', 'batch size', '64')
    .action(async (opts: { steps: string; batch: string }) => {
      const steps = Number(opts.steps);
      const batch = Number(opts.batch);
      console.log(`libtorch ${libtorchVersion()}, ${getNumThreads()} threads, CUDA ${cuda.isAvailable() ? `yes (${cuda.deviceCount()} devices)` : 'no'}`);
      manualSeed(0);
      const model = resnetCifar(20);
      const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
      const x = randn([batch, 3, 32, 32]);
      const y = randint(0, 10, [batch]);
      const times: number[] = [];
      for (let i = 0; i <= steps; i++) {
        const t0 = performance.now();
        const loss = scope(() => {
          opt.zeroGrad();
          const l = crossEntropy(model.forward(x), y);
          l.backward();
          opt.step();
          return l.item();
        });
        if (i > 0) times.push(performance.now() - t0);
        console.log(`step ${i}${i === 0 ? ' (warm-up)' : ''}: loss ${loss.toFixed(4)}, ${(performance.now() - t0).toFixed(0)} ms`);
      }
      const median = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
      console.log(`ResNet-20 training: ${(batch / (median / 1000)).toFixed(0)} images/s (median of ${steps} steps, batch ${batch})`);
      x.dispose();
      y.dispose();
      opt.dispose();
      model.dispose();
      console.log(`live tensors after cleanup: ${liveTensors()}`);
    });
}
