// The model benchmark: whole networks in nnlock against PyTorch (Debian's python3-torch) on the
// same machine, in the same run, with the same thread count, in images per second.
//
//   train     ResNet-20 training step: batch 128 of random 3×32×32 inputs and random labels,
//             forward, cross-entropy, backward, SGD (lr 0.1, momentum 0.9, weight decay 5e-4)
//   eval      ResNet-20 evaluation: batch 500, eval mode, no grad
//   denoise   DnCNN-S-25 inference on one 1×1×256×256 image, eval mode, no grad
//   denoise4  DnCNN-S-25 inference on a batch of 4 1×1×180×180 images, eval mode, no grad
//
// Both sides load the same real weights (../shared/data/weights: resnet20-cifar10.safetensors,
// dncnn-s-25.safetensors) and draw their inputs from the same seed with the same libtorch
// generator, so they compute the same numbers; each case reports a check value from both sides
// (the training loss after the last step, the mean |output| of the last evaluation). Inputs are
// created once, outside the timed region.
//
// As in bench/engine.ts, PyTorch runs in a child process (bench/models_torch.py) that stays up
// for the whole run and is driven round by round: in each round one side runs its iterations
// while the other waits idle, and the side that goes first alternates (A B, B A, A B, ...), so
// the noise of a shared machine falls on both sides alike. Results: bench/results/models.json
// and models.md.
//
//   node --import tsx bench/models.ts [--threads N] [--rounds R] [--iters I] [--warmup W]
//        [--cases train,eval,denoise,denoise4] [--weights DIR] [--quick] [--no-write]
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { type Tensor, scope, noGrad, manualSeed, setNumThreads, getNumThreads, libtorchVersion, liveTensors } from '../src/tensor/index.ts';
import { native } from '../src/native/index.ts';
import { type Module, SGD } from '../src/nn/index.ts';
import { DnCNN, loadWeights, resnetCifar } from '../src/models/index.ts';
import { crossEntropy } from '../src/ops/loss.ts';
import { rand, randn, randint } from '../src/ops/creation.ts';
import { abs } from '../src/ops/arithmetic.ts';
import { mean } from '../src/ops/reduction.ts';
import {
  type BenchReport,
  type CaseResult,
  PAIRED_BENCH_OPTIONS,
  PythonPeer,
  pairedBenchSettings,
  compareCase,
  fmt,
  inAlternatingOrder,
  machineInfo,
  tick,
  timeIters,
  withThroughput,
  writeReport,
  threadFacts,
} from './lib/report.ts';
import { init } from '../src/tensor/init.ts';

// A script, not a library: nnlock's process settings (every core, the malloc policy) apply.
init();

const here = path.dirname(fileURLToPath(import.meta.url));

interface Weights {
  resnet20: string;
  dncnn: string;
}

// ---------------------------------------------------------------------------------------------
// The cases, nnlock side. Each mirrors the Python function of the same name in models_torch.py.

interface Running {
  step(): void;
  check(): number;
  /** train only: the loss of the very first step (before any update, so both sides agree closely). */
  first?(): number;
  dispose(): void;
}

interface Case {
  name: string;
  description: string;
  /** Images per iteration. */
  images: number;
  warmup: number;
  iters: number;
  setup(seed: number, weights: Weights): Promise<Running>;
}

/** mean(|t|) as a number. */
const meanAbs = (t: Tensor): number => scope(() => mean(abs(t)).item());

const train: Case = {
  name: 'train',
  description: 'ResNet-20 train step, batch 128 of 3×32×32: forward, cross-entropy, backward, SGD (lr 0.1, momentum 0.9, wd 5e-4)',
  images: 128,
  // Two: the first SGD step also creates the momentum buffers.
  warmup: 2,
  iters: 1,
  async setup(seed, weights) {
    const model = resnetCifar(20);
    await loadWeights(model, weights.resnet20);
    model.train();
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    manualSeed(seed);
    const x = randn([128, 3, 32, 32]);
    const labels = randint(0, 10, [128]);
    let last: Tensor | null = null;
    let first = Number.NaN;
    return {
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
        if (Number.isNaN(first)) first = loss.item();
      },
      check: () => last?.item() ?? Number.NaN,
      first: () => first,
      dispose() {
        opt.zeroGrad();
        opt.dispose();
        model.dispose();
        for (const t of [x, labels, last]) t?.dispose();
      },
    };
  },
};

/** Inference of a model on one fixed input: eval mode, no grad; the check is mean |output|. */
async function inference(model: Module & { forward(x: Tensor): Tensor }, file: string, seed: number, input: () => Tensor): Promise<Running> {
  await loadWeights(model, file);
  model.eval();
  manualSeed(seed);
  const x = input();
  let last: Tensor | null = null;
  return {
    step() {
      const y = noGrad(() => scope(() => model.forward(x)));
      last?.dispose();
      last = y;
    },
    check: () => (last ? meanAbs(last) : Number.NaN),
    dispose() {
      model.dispose();
      x.dispose();
      last?.dispose();
    },
  };
}

const evalCase: Case = {
  name: 'eval',
  description: 'ResNet-20 evaluation, batch 500 of 3×32×32, eval mode, no grad',
  images: 500,
  warmup: 1,
  iters: 1,
  setup: (seed, weights) => inference(resnetCifar(20), weights.resnet20, seed, () => randn([500, 3, 32, 32])),
};

const denoise: Case = {
  name: 'denoise',
  description: 'DnCNN-S-25 inference, one 1×1×256×256 image, eval mode, no grad',
  images: 1,
  warmup: 1,
  iters: 1,
  setup: (seed, weights) => inference(new DnCNN(), weights.dncnn, seed, () => rand([1, 1, 256, 256])),
};

const denoise4: Case = {
  name: 'denoise4',
  description: 'DnCNN-S-25 inference, batch 4 of 1×1×180×180, eval mode, no grad',
  images: 4,
  warmup: 1,
  iters: 1,
  setup: (seed, weights) => inference(new DnCNN(), weights.dncnn, seed, () => rand([4, 1, 180, 180])),
};

const CASES: Case[] = [train, evalCase, denoise, denoise4];
const TARGET = 0.95;

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...PAIRED_BENCH_OPTIONS,
      iters: { type: 'string' },
      warmup: { type: 'string' },
      weights: { type: 'string' },
    },
  });
  // The default is sized for at most ~5 minutes on a 2-core machine even when other work shares
  // it (a round of all four cases takes ~8 s idle, ~17 s at load average 5); --quick: ~1 minute.
  const { threads, rounds, seed, python, quick } = pairedBenchSettings(values, { full: 12, quick: 2 });
  const weightsDir = path.resolve(values.weights ?? process.env.NNLOCK_BENCH_WEIGHTS ?? path.join(here, '..', '..', 'shared', 'data', 'weights'));
  const weights: Weights = {
    resnet20: path.join(weightsDir, 'resnet20-cifar10.safetensors'),
    dncnn: path.join(weightsDir, 'dncnn-s-25.safetensors'),
  };
  for (const f of Object.values(weights)) {
    if (!existsSync(f)) throw new Error(`missing weights ${f} (the shared data folder; pass --weights DIR)`);
  }
  const wanted = values.cases ? values.cases.split(',') : CASES.map((c) => c.name);
  const cases = wanted.map((n) => {
    const c = CASES.find((k) => k.name === n);
    if (!c) throw new Error(`unknown case '${n}' (have ${CASES.map((k) => k.name).join(', ')})`);
    const warmup = values.warmup !== undefined ? Number(values.warmup) : quick ? Math.min(1, c.warmup) : c.warmup;
    const iters = values.iters !== undefined ? Number(values.iters) : c.iters;
    if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`bad warm-up count ${warmup}`);
    if (!Number.isInteger(iters) || iters < 1) throw new Error(`bad iteration count ${iters}`);
    return { ...c, warmup, iters };
  });

  setNumThreads(threads);
  const loadAtStart = machineInfo().loadAverage;
  const loads: number[] = [loadAtStart[0]];
  const started = performance.now();
  const peer = new PythonPeer(python, path.join(here, 'models_torch.py'));
  const results: CaseResult[] = [];
  const checks: string[] = [];
  let torchInfo: { torch: string; python: string; threads: number; parallel_info: string; torch_file: string };
  try {
    torchInfo = await peer.request({ cmd: 'init', threads });
    if (getNumThreads() !== threads || torchInfo.threads !== threads) {
      throw new Error(`thread counts differ: nnlock ${getNumThreads()}, PyTorch ${torchInfo.threads}, asked ${threads}`);
    }
    console.log(`models bench: ${threads} thread(s) on both sides; nnlock libtorch ${libtorchVersion()}, PyTorch ${torchInfo.torch}; ${rounds} rounds; load average ${loadAtStart.join(' ')}`);

    for (const c of cases) {
      const live = liveTensors();
      const ours = await c.setup(seed, weights);
      await peer.request({ cmd: 'setup', case: c.name, seed, weights });
      // The same warm-up on both sides.
      timeIters(ours.step, c.warmup);
      if (c.warmup > 0) await peer.request({ cmd: 'run', case: c.name, iters: c.warmup });
      const oursRounds: number[][] = [];
      const peerRounds: number[][] = [];
      let peerCheck = Number.NaN;
      let peerFirst = Number.NaN;
      for (let r = 0; r < rounds; r++) {
        const runOurs = async (): Promise<void> => {
          oursRounds.push(timeIters(ours.step, c.iters));
          await tick();
        };
        const runPeer = async (): Promise<void> => {
          const reply = await peer.request<{ times_ms: number[]; check: number; first?: number }>({ cmd: 'run', case: c.name, iters: c.iters });
          peerRounds.push(reply.times_ms);
          peerCheck = reply.check;
          peerFirst = reply.first ?? Number.NaN;
        };
        await inAlternatingOrder(r, runOurs, runPeer);
        loads.push(machineInfo().loadAverage[0]);
        const o = oursRounds[oursRounds.length - 1];
        const p = peerRounds[peerRounds.length - 1];
        const avg = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
        console.log(`  ${c.name} round ${r + 1}/${rounds}: nnlock ${fmt(avg(o))} ms, PyTorch ${fmt(avg(p))} ms (means)`);
      }
      const oursCheck = ours.check();
      const oursFirst = ours.first?.() ?? Number.NaN;
      ours.dispose();
      await peer.request({ cmd: 'teardown', case: c.name });
      if (liveTensors() !== live) console.warn(`  warning: ${c.name} left ${liveTensors() - live} tensor(s) alive`);
      const what = c.name === 'train' ? 'training loss of the last step' : 'mean |output| of the last run';
      const relDiff = (a: number, b: number): string => (Math.abs(a - b) / Math.max(1e-12, Math.abs(b))).toExponential(1);
      const firstNote = ours.first
        ? `; loss of the first step nnlock ${oursFirst.toPrecision(7)}, PyTorch ${peerFirst.toPrecision(7)} (relative difference ${relDiff(oursFirst, peerFirst)}): rounding differences between the two runs grow over steps of SGD at lr 0.1 on one memorised batch, so the last loss agrees less closely than the first`
        : '';
      checks.push(
        `${c.name}: both sides ran ${c.warmup + rounds * c.iters} iterations from the same weights and inputs; check (${what}) nnlock ${oursCheck.toPrecision(7)}, PyTorch ${peerCheck.toPrecision(7)} (relative difference ${relDiff(oursCheck, peerCheck)})${firstNote}`,
      );
      const result = withThroughput(compareCase(c.name, c.description, oursRounds, peerRounds, { target: TARGET, check: { ours: oursCheck, peer: peerCheck } }), c.images, 'img');
      results.push(result);
      const t = result.throughput!;
      console.log(
        `  ${c.name}: nnlock ${fmt(t.ours)} img/s (median ${fmt(result.ours.median)} ms), PyTorch ${fmt(t.peer)} img/s (median ${fmt(result.peer.median)} ms), ratio ${fmt(result.ratio, 3)} (paired ${fmt(result.pairedRatio, 3)}, best-run ${fmt(result.bestRatio, 3)}); check ${oursCheck.toPrecision(7)} / ${peerCheck.toPrecision(7)}`,
      );
    }
  } finally {
    await peer.close();
  }

  const loadAtEnd = machineInfo().loadAverage;
  const seconds = (performance.now() - started) / 1000;
  const loadMean = Math.round((loads.reduce((a, b) => a + b, 0) / loads.length) * 100) / 100;
  const busy = Math.max(...loads) > availableParallelism();
  const report: BenchReport = {
    name: 'models',
    title: 'Model benchmark: nnlock vs PyTorch, images per second (same machine, same run, same threads)',
    date: new Date().toISOString(),
    ours: 'nnlock',
    peer: 'PyTorch',
    machine: machineInfo(),
    settings: {
      threads,
      rounds,
      seed,
      quick,
      iters: Object.fromEntries(cases.map((c) => [c.name, c.iters])),
      warmup: Object.fromEntries(cases.map((c) => [c.name, c.warmup])),
      imagesPerIteration: Object.fromEntries(cases.map((c) => [c.name, c.images])),
      order: 'rounds alternate: nnlock first in odd rounds, PyTorch first in even rounds',
      weights: weightsDir,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAtEnd,
      loadAverage1mDuringRun: { mean: loadMean, min: Math.min(...loads), max: Math.max(...loads) },
      seconds: Math.round(seconds),
    },
    versions: {
      'nnlock libtorch': libtorchVersion(),
      PyTorch: `${torchInfo.torch} (${path.dirname(torchInfo.torch_file)})`,
      python: torchInfo.python,
      node: process.version,
    },
    cases: results,
    notes: [
      `ratio = nnlock images/s / PyTorch images/s from the median iteration times (= PyTorch median time / nnlock median time; ≥ 1: nnlock as fast or faster); target ≥ ${TARGET}.`,
      'paired ratio = median over rounds of (PyTorch round median / nnlock round median); best-run ratio = PyTorch fastest iteration / nnlock fastest iteration (the least disturbed runs, useful when other work shares the cores).',
      'PyTorch side: the reference modules of test/interop/torch_models.py, torch.optim.SGD with zero_grad(set_to_none=True), torch.no_grad() for inference; nnlock side: resnetCifar(20), DnCNN, SGD, crossEntropy, noGrad. Weights loaded strictly from the same files on both sides.',
      ...checks,
      ...(busy
        ? [
            `the machine was busy with other work (1-minute load average ${loadAtStart[0]} at the start, ${loadAtEnd[0]} at the end, mean ${loadMean} over the rounds, on ${availableParallelism()} cores): absolute figures are inflated and noisy; the ratios come from interleaved rounds, so the noise falls on both sides`,
          ]
        : []),
      `nnlock: ${threadFacts(native.parallelInfo())}`,
      `PyTorch: ${threadFacts(torchInfo.parallel_info)}`,
    ],
  };
  console.log(`done in ${fmt(seconds, 0)} s; 1-minute load average ${loadAtStart[0]} at the start, ${loadAtEnd[0]} at the end, mean ${loadMean} over the rounds`);
  if (values['no-write']) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const written = await writeReport(report);
  console.log(`wrote ${path.relative(process.cwd(), written.json)} and ${path.relative(process.cwd(), written.md)}`);
}

await main();
