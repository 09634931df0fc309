// The CUDA benchmark: ResNet-20 training and evaluation images per second on one GPU, nnlock
// against PyTorch (bench/cuda_torch.py) on the same GPU, in the same run, with the addon built
// against that same PyTorch (LIBTORCH_USE_PYTORCH=1; bench/cuda.sh does the build):
//
//   train  batch 128 of random 3×32×32, forward, cross-entropy, backward, SGD (lr 0.1,
//          momentum 0.9, weight decay 5e-4), the same batch every step
//   eval   batch 500 of random 3×32×32, eval mode, no grad
//
// Each side runs `warmup` steps, synchronises the GPU, times `steps` steps and synchronises
// again; rounds alternate which side goes first. The ratio is nnlock's median images/s over
// PyTorch's (target ≥ 0.95). Without a CUDA device it prints one line saying so and exits 0
// having written nothing (so `bash scripts/bench.sh` goes on; bench/cuda.sh exits 3 there).
// Results: bench/results/cuda.json and cuda.md (or --out DIR).
//
//   node --import tsx bench/cuda.ts [--device cuda:0] [--rounds 3] [--steps 30] [--warmup 5]
//        [--python python3] [--out DIR] [--quick]      (--threads is accepted and unused)
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Tensor, cuda, keep, libtorchVersion, manualSeed, noGrad, parseDevice, scope } from '../src/tensor/index.ts';
import { toDevice } from '../src/ops/convert.ts';
import { randint, randn } from '../src/ops/creation.ts';
import { crossEntropy } from '../src/ops/loss.ts';
import { SGD } from '../src/nn/index.ts';
import { resnetCifar } from '../src/models/index.ts';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cuda:0' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '5' },
    python: { type: 'string', default: process.env.PYTHON ?? 'python3' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    threads: { type: 'string' },
  },
});
const rounds = values.quick ? 1 : Number(values.rounds);
const steps = values.quick ? 10 : Number(values.steps);
const warmup = Number(values.warmup);
const TARGET = 0.95;
// bench/ itself: NNLOCK_BENCH_DIR when this file runs bundled elsewhere (bench/cuda.sh pack).
const benchDir = process.env.NNLOCK_BENCH_DIR ?? dirname(fileURLToPath(import.meta.url));

if (cuda.deviceCount() === 0) {
  process.stdout.write(`bench/cuda: no CUDA device: this libtorch (${libtorchVersion()}) sees 0 GPUs; nothing measured, nothing written\n`);
  process.exit(0);
}
const device = parseDevice(values.device!);

interface Side {
  step(): void;
  check(): number;
  images: number;
}

/** nnlock's side of a case, on `device`: the model and the inputs made once, reused every round. */
function nnlockCase(name: 'train' | 'eval'): Side {
  manualSeed(0);
  const model = resnetCifar(20).to(device);
  const batch = name === 'train' ? 128 : 500;
  // Drawn on the CPU and copied, as bench/cuda_torch.py does.
  const x = keep(scope(() => toDevice(randn([batch, 3, 32, 32]), device)));
  const labels = keep(scope(() => toDevice(randint(0, 10, [batch]), device)));
  let last: Tensor | null = null;
  if (name === 'train') {
    model.train();
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    return {
      images: batch,
      step() {
        opt.zeroGrad();
        const loss = scope(() => {
          const l = crossEntropy(model.forward(x), labels);
          l.backward();
          return l;
        });
        opt.step();
        last?.dispose();
        last = loss;
      },
      check: () => last?.item() ?? Number.NaN,
    };
  }
  model.eval();
  return {
    images: batch,
    step() {
      const y = noGrad(() => scope(() => model.forward(x)));
      last?.dispose();
      last = y;
    },
    check: () => (last ? scope(() => noGrad(() => last!.toArray().reduce((s, v) => s + Math.abs(v), 0) / last!.numel)) : Number.NaN),
  };
}

function timeNnlock(side: Side): { imagesPerSecond: number; check: number } {
  for (let i = 0; i < warmup; i++) side.step();
  cuda.synchronize();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) side.step();
  cuda.synchronize();
  const seconds = (performance.now() - t0) / 1000;
  return { imagesPerSecond: (side.images * steps) / seconds, check: side.check() };
}

function timeTorch(name: string): { imagesPerSecond: number; check: number; torch: string; gpu: string } {
  const r = spawnSync(values.python!, [join(benchDir, 'cuda_torch.py'), '--case', name, '--steps', String(steps), '--warmup', String(warmup), '--device', device], { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0) throw new Error(`bench/cuda_torch.py --case ${name} failed (exit ${r.status}): ${line} ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  return JSON.parse(line);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const results: Record<string, { nnlock: number[]; torch: number[]; checks: { nnlock: number; torch: number } }> = {};
let torchVersion = '';
let gpu = '';
for (const name of ['train', 'eval'] as const) {
  const side = nnlockCase(name);
  const r = { nnlock: [] as number[], torch: [] as number[], checks: { nnlock: Number.NaN, torch: Number.NaN } };
  for (let round = 0; round < rounds; round++) {
    const runs = [
      () => {
        const n = timeNnlock(side);
        r.nnlock.push(n.imagesPerSecond);
        r.checks.nnlock = n.check;
      },
      () => {
        const t = timeTorch(name);
        r.torch.push(t.imagesPerSecond);
        r.checks.torch = t.check;
        torchVersion = t.torch;
        gpu = t.gpu;
      },
    ];
    for (const run of round % 2 === 0 ? runs : runs.reverse()) run();
    process.stdout.write(`bench/cuda: ${name} round ${round + 1}/${rounds}: nnlock ${r.nnlock.at(-1)!.toFixed(0)} img/s, PyTorch ${r.torch.at(-1)!.toFixed(0)} img/s\n`);
  }
  results[name] = r;
}

const rows = Object.entries(results).map(([name, r]) => {
  const ours = median(r.nnlock);
  const theirs = median(r.torch);
  return { case: name, nnlock: ours, torch: theirs, ratio: ours / theirs, meets: ours / theirs >= TARGET, checks: r.checks, rounds: { nnlock: r.nnlock, torch: r.torch } };
});
const report = { name: 'cuda', date: new Date().toISOString(), device, gpu, libtorch: libtorchVersion(), torch: torchVersion, rounds, steps, warmup, target: TARGET, cases: rows };
const outDir = values.out ?? join(benchDir, 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'cuda.json'), `${JSON.stringify(report, null, 2)}\n`);
const md = [
  '# CUDA: ResNet-20 on one GPU, nnlock against PyTorch',
  '',
  `${report.date}, ${gpu} (${device}), nnlock's addon on libtorch ${report.libtorch}, PyTorch ${torchVersion}; ${rounds} rounds of ${steps} timed steps after ${warmup} warm-up steps, sides alternating.`,
  'Images per second are medians over the rounds; ratio = nnlock / PyTorch (target ≥ 0.95).',
  '',
  '| case | nnlock img/s | PyTorch img/s | ratio | ≥ 0.95 |',
  '| --- | ---: | ---: | ---: | --- |',
  ...rows.map((r) => `| ${r.case} | ${r.nnlock.toFixed(0)} | ${r.torch.toFixed(0)} | ${r.ratio.toFixed(3)} | ${r.meets ? 'yes' : 'no'} |`),
  '',
  'train: batch 128, forward, cross-entropy, backward, SGD (momentum 0.9, weight decay 5e-4); eval: batch 500, no grad. Fresh seeded initialisations on both sides.',
  '',
].join('\n');
writeFileSync(join(outDir, 'cuda.md'), md);
process.stdout.write(`${md}\nbench/cuda: wrote ${join(outDir, 'cuda.md')} and cuda.json\n`);
