// The engine benchmark: nnlock against PyTorch (Debian's python3-torch) on the same machine, in
// the same run, with the same thread count.
//
//   conv  conv2d forward + backward, input [32, 64, 32, 32], 64 -> 64, 3x3, padding 1, float32
//   cnn   one training step of a small CNN: batch 64 of 3x32x32, (conv-relu-maxpool) x2, linear,
//         cross-entropy, backward, SGD with momentum 0.9 by in-place ops
//   smallop 1,000 adds of [4,4] tensors: the per-op overhead of each binding (no target)
//
// PyTorch runs in a child process (bench/engine_torch.py) that stays up for the whole run and is
// driven round by round: in each round one side runs one or two iterations while the other waits
// idle, and the side that goes first alternates (A B, B A, A B, ...). Rounds are short so that
// the noise of a shared machine with few cores falls on both sides alike; a request to the
// child costs well under a millisecond. Results: bench/results/engine.json and engine.md.
//
//   node --import tsx bench/engine.ts [--threads N] [--rounds R] [--cases conv,cnn,smallop] [--quick]
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { type Tensor, scope, keep, noGrad, manualSeed, setNumThreads, getNumThreads, libtorchVersion, liveTensors } from '../src/tensor/index.ts';
import { native } from '../src/native/index.ts';
import { conv2d } from '../src/ops/conv.ts';
import { relu } from '../src/ops/activation.ts';
import { maxPool2d } from '../src/ops/pool.ts';
import { linear } from '../src/ops/linear.ts';
import { flatten } from '../src/ops/shape.ts';
import { crossEntropy } from '../src/ops/loss.ts';
import { randn, randint, zeros } from '../src/ops/creation.ts';
import { add, mul } from '../src/ops/arithmetic.ts';
import { sum } from '../src/ops/reduction.ts';
import { clone } from '../src/ops/convert.ts';
import { addInPlace, mulScalarInPlace } from '../src/ops/inplace.ts';
import {
  type BenchReport,
  compareCase,
  inAlternatingOrder,
  machineInfo,
  writeReport,
  fmt,
  PAIRED_BENCH_OPTIONS,
  PythonPeer,
  pairedBenchSettings,
  selectCases,
  timeIters,
  tick,
  threadFacts,
} from './lib/report.ts';
import { init } from '../src/tensor/init.ts';

// A script, not a library: nnlock's process settings (every core, the malloc policy) apply.
init();

const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// The cases, nnlock side. Each mirrors the Python function of the same name in engine_torch.py op
// for op, with the same seeded initialisation, so both sides compute the same numbers.

interface Case {
  name: string;
  description: string;
  warmup: number;
  iters: number;
  setup(seed: number): { step(): void; check(): number; dispose(): void };
}

function leaf(t: Tensor): Tensor {
  t.requiresGrad = true;
  return t;
}

const conv: Case = {
  name: 'conv',
  description: 'conv2d fwd+bwd, [32,64,32,32], 64→64 3×3 pad 1',
  warmup: 3,
  iters: 1,
  setup(seed) {
    manualSeed(seed);
    const x = randn([32, 64, 32, 32], { requiresGrad: true });
    const w = leaf(scope(() => mul(randn([64, 64, 3, 3]), 0.05)));
    const b = zeros([64], { requiresGrad: true });
    const gradOut = randn([32, 64, 32, 32]);
    const params = [x, w, b];
    return {
      step() {
        for (const p of params) p.setGrad(null);
        scope(() => conv2d(x, w, b, { padding: 1 }).backward(gradOut));
      },
      check: () => scope(() => sum(w.grad!).item()),
      dispose() {
        for (const t of [...params, gradOut]) t.dispose();
      },
    };
  },
};

const cnn: Case = {
  name: 'cnn',
  description: 'CNN train step, batch 64 of 3×32×32, (conv-relu-pool)×2 + linear, CE, SGD momentum',
  warmup: 5,
  iters: 2,
  setup(seed) {
    manualSeed(seed);
    const x = randn([64, 3, 32, 32]);
    const labels = randint(0, 10, [64]);
    const params = scope(() =>
      keep([
        leaf(mul(randn([32, 3, 3, 3]), 0.1)),
        zeros([32], { requiresGrad: true }),
        leaf(mul(randn([64, 32, 3, 3]), 0.05)),
        zeros([64], { requiresGrad: true }),
        leaf(mul(randn([10, 64 * 8 * 8]), 0.01)),
        zeros([10], { requiresGrad: true }),
      ]),
    );
    const bufs: (Tensor | null)[] = params.map(() => null);
    const lr = 0.01;
    const momentum = 0.9;
    let last: Tensor | null = null;
    return {
      step() {
        const [w1, b1, w2, b2, w3, b3] = params;
        const loss = scope(() => {
          let h = maxPool2d(relu(conv2d(x, w1, b1, { padding: 1 })), 2);
          h = maxPool2d(relu(conv2d(h, w2, b2, { padding: 1 })), 2);
          const logits = linear(flatten(h, 1), w3, b3);
          const l = crossEntropy(logits, labels);
          l.backward();
          noGrad(() => {
            params.forEach((p, i) => {
              const g = p.grad!;
              const buf = bufs[i];
              if (buf === null) bufs[i] = keep(clone(g));
              else addInPlace(mulScalarInPlace(buf, momentum), g);
              addInPlace(p, bufs[i]!, -lr);
              p.setGrad(null);
            });
          });
          return l;
        });
        last?.dispose();
        last = loss;
      },
      check: () => last?.item() ?? Number.NaN,
      dispose() {
        for (const t of [x, labels, ...params]) t.dispose();
        for (const t of bufs) t?.dispose();
        last?.dispose();
      },
    };
  },
};

// Not one of the targets: what one small op costs through each binding (dispatch, argument
// conversion, result wrapping, freeing), where the arithmetic itself is nearly free.
const smallop: Case = {
  name: 'smallop',
  description: '1,000 × add of two [4,4] float32 tensors (per-op overhead)',
  warmup: 5,
  iters: 4,
  setup(seed) {
    manualSeed(seed);
    const a = randn([4, 4]);
    const b = randn([4, 4]);
    let last = Number.NaN;
    return {
      step() {
        scope(() => {
          let r: Tensor | null = null;
          for (let i = 0; i < 1000; i++) r = add(a, b);
          last = r!.numel;
        });
      },
      check: () => last,
      dispose() {
        a.dispose();
        b.dispose();
      },
    };
  },
};

const CASES: Case[] = [conv, cnn, smallop];
const TARGETS: Record<string, number> = { conv: 0.95, cnn: 0.95 };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: PAIRED_BENCH_OPTIONS,
  });
  const { threads, rounds, seed, python, quick } = pairedBenchSettings(values, { full: 24, quick: 2 });
  const cases = selectCases(CASES, values.cases, quick);

  setNumThreads(threads);
  const loadAtStart = machineInfo().loadAverage;
  const peer = new PythonPeer(python, path.join(here, 'engine_torch.py'));
  const results = [];
  const checks: string[] = [];
  let torchInfo: { torch: string; python: string; threads: number; parallel_info: string; torch_file: string };
  try {
    torchInfo = await peer.request({ cmd: 'init', threads });
    if (getNumThreads() !== threads || torchInfo.threads !== threads) {
      throw new Error(`thread counts differ: nnlock ${getNumThreads()}, PyTorch ${torchInfo.threads}, asked ${threads}`);
    }
    console.log(`engine bench: ${threads} thread(s) on both sides; nnlock libtorch ${libtorchVersion()}, PyTorch ${torchInfo.torch}; ${rounds} rounds`);

    for (const c of cases) {
      const live = liveTensors();
      const ours = c.setup(seed);
      await peer.request({ cmd: 'setup', case: c.name, seed });
      // The same warm-up on both sides.
      timeIters(ours.step, c.warmup);
      await peer.request({ cmd: 'run', case: c.name, iters: c.warmup });
      const oursRounds: number[][] = [];
      const peerRounds: number[][] = [];
      let peerCheck = Number.NaN;
      for (let r = 0; r < rounds; r++) {
        const runOurs = async (): Promise<void> => {
          oursRounds.push(timeIters(ours.step, c.iters));
          await tick();
        };
        const runPeer = async (): Promise<void> => {
          const reply = await peer.request<{ times_ms: number[]; check: number }>({ cmd: 'run', case: c.name, iters: c.iters });
          peerRounds.push(reply.times_ms);
          peerCheck = reply.check;
        };
        await inAlternatingOrder(r, runOurs, runPeer);
        const o = oursRounds[oursRounds.length - 1];
        const p = peerRounds[peerRounds.length - 1];
        console.log(`  ${c.name} round ${r + 1}/${rounds}: nnlock ${fmt(o.reduce((a, b) => a + b, 0) / o.length)} ms, PyTorch ${fmt(p.reduce((a, b) => a + b, 0) / p.length)} ms (means)`);
      }
      const oursCheck = ours.check();
      ours.dispose();
      if (liveTensors() !== live) console.warn(`  warning: ${c.name} left ${liveTensors() - live} tensor(s) alive`);
      const rel = Math.abs(oursCheck - peerCheck) / Math.max(1e-12, Math.abs(peerCheck));
      checks.push(
        `${c.name}: both sides ran ${c.warmup + rounds * c.iters} steps from the same seeded start; check value nnlock ${oursCheck.toPrecision(7)}, PyTorch ${peerCheck.toPrecision(7)} (relative difference ${rel.toExponential(1)})`,
      );
      const result = compareCase(c.name, c.description, oursRounds, peerRounds, { target: TARGETS[c.name], check: { ours: oursCheck, peer: peerCheck } });
      results.push(result);
      console.log(
        `  ${c.name}: nnlock median ${fmt(result.ours.median)} ms, PyTorch median ${fmt(result.peer.median)} ms, ratio ${fmt(result.ratio, 3)} (paired ${fmt(result.pairedRatio, 3)}, best-run ${fmt(result.bestRatio, 3)})`,
      );
    }
  } finally {
    await peer.close();
  }

  const report: BenchReport = {
    name: 'engine',
    title: 'Engine benchmark: nnlock vs PyTorch (same machine, same run, same threads)',
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
      order: 'rounds alternate: nnlock first in odd rounds, PyTorch first in even rounds',
      loadAverageAtStart: loadAtStart,
    },
    versions: {
      'nnlock libtorch': libtorchVersion(),
      PyTorch: `${torchInfo.torch} (${path.dirname(torchInfo.torch_file)})`,
      python: torchInfo.python,
      node: process.version,
    },
    cases: results,
    notes: [
      'ratio = PyTorch median time / nnlock median time over all timed iterations: nnlock speed relative to PyTorch (≥ 1: nnlock as fast or faster); target ≥ 0.95.',
      'paired ratio = median over rounds of (PyTorch round median / nnlock round median); best-run ratio = PyTorch fastest iteration / nnlock fastest iteration (the least disturbed runs, useful when other work shares the cores).',
      ...checks,
      ...(Math.max(loadAtStart[0], machineInfo().loadAverage[0]) > availableParallelism()
        ? [
            `the machine was busy with other work (load average ${loadAtStart[0]} at the start, ${machineInfo().loadAverage[0]} at the end, on ${availableParallelism()} cores): absolute times are inflated and noisy; the ratios come from interleaved rounds, so the noise falls on both sides`,
          ]
        : []),
      `nnlock: ${threadFacts(native.parallelInfo())}`,
      `PyTorch: ${threadFacts(torchInfo.parallel_info)}`,
    ],
  };
  if (values['no-write']) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const written = await writeReport(report);
  console.log(`wrote ${path.relative(process.cwd(), written.json)} and ${path.relative(process.cwd(), written.md)}`);
}

await main();
