// Experiment: ResNet-20 trained from scratch on the shared CIFAR-10 learns, and a run killed
// after its first epoch and started again resumes to exactly the weights of an uninterrupted run.
//
//   node --import tsx experiments/train-resnet20.ts [--epochs 3] [--limit 30000] [--resume-limit 10000]
//
// Writes experiments/results/train-resnet20.{json,md} and a learning-curve SVG. Both runs go
// through the real command line (`nnlock model train`), and the interruption is a real SIGKILL.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors } from '../src/io/safetensors.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { lineChartSvg } from '../src/io/svg-chart.ts';

const { values } = parseArgs({ options: { epochs: { type: 'string' }, limit: { type: 'string' }, 'resume-limit': { type: 'string' }, data: { type: 'string' } } });
const data = values.data ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'cifar10');
if (!existsSync(data)) {
  console.error(`CIFAR-10 not found at ${data}: this experiment needs ../shared/data (see its README)`);
  process.exit(2);
}
const epochs = values.epochs ?? '3';
const limit = values.limit ?? '30000';
const resumeLimit = values['resume-limit'] ?? '10000';
const out = join(import.meta.dirname, 'results');
const work = join(import.meta.dirname, 'out', 'train-resnet20');
mkdirSync(out, { recursive: true });
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const cli = join(import.meta.dirname, '..', 'bin', 'nnlock.js');

function nnlock(args: string[], killWhen?: () => boolean): Promise<{ code: number | null; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    let killed = false;
    const timer =
      killWhen &&
      setInterval(() => {
        if (!killed && killWhen()) {
          killed = true;
          child.kill('SIGKILL');
        }
      }, 200);
    child.on('exit', (code) => {
      if (timer) clearInterval(timer);
      resolve({ code, killed });
    });
  });
}

const common = (limitN: string) => ['model', 'train', '-a', 'resnet20', '-d', data, '--limit', limitN, '--batch', '128', '--seed', '1'];

// 1. The learning run: accuracy per epoch.
const learnLog = join(work, 'learn.json');
const r1 = await nnlock([...common(limit), '--epochs', epochs, '-o', join(work, 'learn.safetensors'), '--log', learnLog]);
if (r1.code !== 0) throw new Error('training run failed');
const history = JSON.parse(readFileSync(learnLog, 'utf8')).history as Record<string, number>[];

// 2. Resume: uninterrupted vs killed after epoch 1 and restarted, same seed and data.
const shortEpochs = '2';
const whole = join(work, 'whole.safetensors');
await nnlock([...common(resumeLimit), '--epochs', shortEpochs, '-o', whole, '--checkpoint', join(work, 'whole.ckpt')]);
const ckpt = join(work, 'split.ckpt');
const split = join(work, 'split.safetensors');
const killedRun = await nnlock([...common(resumeLimit), '--epochs', shortEpochs, '-o', split, '--checkpoint', ckpt], () => existsSync(ckpt) && statSync(ckpt).size > 0);
const resumed = await nnlock([...common(resumeLimit), '--epochs', shortEpochs, '-o', split, '--checkpoint', ckpt]);
const a = await readSafetensors(whole);
const b = await readSafetensors(split);
let identical = a.tensors.size === b.tensors.size;
let differing = 0;
for (const [name, e] of a.tensors) {
  const f = b.tensors.get(name);
  if (!f || Buffer.compare(Buffer.from(e.data), Buffer.from(f.data)) !== 0) {
    identical = false;
    differing++;
  }
}

const result = {
  data,
  epochs: Number(epochs),
  trainImages: Number(limit),
  history,
  resume: {
    images: Number(resumeLimit),
    epochs: Number(shortEpochs),
    killedAfterFirstCheckpoint: killedRun.killed,
    resumedExit: resumed.code,
    bitIdentical: identical,
    differingTensors: differing,
    tensors: a.tensors.size,
  },
};
await writeFileAtomic(join(out, 'train-resnet20.json'), JSON.stringify(result, null, 2));
const rows = history.map((h) => `| ${h.epoch} | ${h.lr.toFixed(4)} | ${h.trainLoss.toFixed(4)} | ${h.trainAccuracy.toFixed(4)} | ${h.testAccuracy.toFixed(4)} | ${h.imagesPerSecond.toFixed(0)} |`);
await writeFileAtomic(
  join(out, 'train-resnet20.md'),
  [
    '# ResNet-20 from scratch on the shared CIFAR-10',
    '',
    `Command: \`node --import tsx experiments/train-resnet20.ts --epochs ${epochs} --limit ${limit}\` (nnlock model train, batch 128, SGD momentum 0.9, cosine schedule from 0.1, weight decay 5e-4, crop+flip, seed 1; test on test_batch.bin, 5,000 images).`,
    '',
    '| epoch | lr | train loss | train acc | test acc | train img/s |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Resume check (${resumeLimit} images, ${shortEpochs} epochs): a run killed with SIGKILL after its first checkpoint and started again ${identical ? 'ends with weights bit-identical to' : 'DIFFERS from'} an uninterrupted run (${a.tensors.size} tensors compared, ${differing} differ).`,
    '',
    '![learning curve](train-resnet20.svg)',
    '',
  ].join('\n'),
);
await writeFileAtomic(
  join(out, 'train-resnet20.svg'),
  lineChartSvg({
    title: 'ResNet-20 on CIFAR-10 (shared fixtures)',
    xLabel: 'epoch',
    yLabel: 'accuracy',
    series: [
      { name: 'train', points: history.map((h) => [h.epoch, h.trainAccuracy]) },
      { name: 'test', points: history.map((h) => [h.epoch, h.testAccuracy]) },
    ],
  }),
);
console.log(
  JSON.stringify(result.resume),
  history.map((h) => h.testAccuracy),
);
