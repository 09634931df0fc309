// One rank of bench/distributed.ts (started by it with the launcher's variables, or alone):
//   train <globalBatch> <steps> <warmup>   ResNet-20 training steps on random CIFAR-size batches
//   allreduce <bytes,bytes,...> <iters> <warmup>   all-reduce (sum) of a float32 tensor of each size
// Prints one JSON line from rank 0: the timed seconds of each step or iteration (by size).
import { ProcessGroup } from '../src/distributed/index.ts';
import { init, manualSeed, scope } from '../src/tensor/index.ts';
import { rand, randint, zeros } from '../src/ops/creation.ts';
import { crossEntropy } from '../src/ops/loss.ts';
import { SGD } from '../src/nn/index.ts';
import { modelSpec } from '../src/models/index.ts';
import { DataParallel, perRankBatch } from '../src/train/index.ts';

init();
const [mode, sizeText, itersText, warmupText] = process.argv.slice(2);
const iters = Number(itersText);
const warmup = Number(warmupText);
const group = ProcessGroup.fromProcessEnv();
const times: number[] = [];
const bySize: Record<string, number[]> = {};

if (mode === 'train') {
  const batch = perRankBatch(Number(sizeText), group ?? undefined);
  manualSeed(0);
  const model = modelSpec('resnet20').create(10);
  const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const parallel = group ? new DataParallel(model, group) : undefined;
  model.train();
  for (let i = 0; i < warmup + iters; i++) {
    group?.barrier();
    const t0 = performance.now();
    scope(() => {
      const x = rand([batch, 3, 32, 32]);
      const y = randint(0, 10, [batch]);
      optimizer.zeroGrad();
      parallel?.beforeForward();
      const loss = crossEntropy(model.forward(x), y);
      if (parallel) parallel.backward(loss);
      else loss.backward();
      optimizer.step();
      loss.item();
    });
    group?.barrier(); // a step ends when every rank has finished it
    if (i >= warmup) times.push((performance.now() - t0) / 1000);
  }
  parallel?.dispose();
  model.dispose();
  optimizer.dispose();
} else if (mode === 'allreduce') {
  if (!group) throw new Error('allreduce needs two or more ranks');
  for (const size of sizeText.split(',')) {
    const t = zeros([Number(size) / 4]);
    const own: number[] = (bySize[size] = []);
    for (let i = 0; i < warmup + iters; i++) {
      const t0 = performance.now();
      group.allReduce([t]).wait();
      if (i >= warmup) own.push((performance.now() - t0) / 1000);
    }
    t.dispose();
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
if (!group || group.isLeader) process.stdout.write(`${JSON.stringify(mode === 'train' ? { mode, times } : { mode, bySize })}\n`);
group?.destroy();
