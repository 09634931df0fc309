// The cipher benchmark: block-wise Hill-cipher encryption throughput (images/s), nnlock's
// BlockCipher against the same algorithm vectorised in PyTorch (bench/cipher_torch.py, Debian's
// python3-torch), on the same machine, in the same run, with the same thread count.
//
//   orth32       orthogonal key, k = 4, float32 [1024, 3, 32, 32]   (CIFAR-size)
//   orth224      orthogonal key, k = 8, float32 [32, 3, 224, 224]   (ImageNet-size)
//   hill32       hill256 key, k = 4, uint8 [1024, 3, 32, 32]        (y = x·K mod 256 on bytes)
//   hill224      hill256 key, k = 8, uint8 [32, 3, 224, 224]
//   shuf32       uniform key with block shuffling, k = 4, float32 [1024, 3, 32, 32]
//   orth32-bmm, orth224-bmm   the same as orth32/orth224 in the reshape/permute + bmm formulation
//
// The algorithm (src/cipher/hill.ts), a cache-sized chunk of images at a time: one grouped conv2d
// with stride k (shuffle: index_select over block positions; hill256: remainder 256, in place),
// then the blocks go back into place with one strided copy_ into the chunk's slice of the output
// (for hill256 the copy also casts back to uint8). The reference
// PyTorch implementation is the natural vectorised one: the same conv2d, then pixel_shuffle (and
// for hill256 remainder and .to(uint8) as separate steps); the -bmm cases reshape/permute into
// blocks, bmm over channels and permute back, on both sides. As a control, PyTorch also runs
// nnlock's exact op sequence ("same"): that ratio measures the binding alone. The keys are the
// same matrices (sent to the peer) and the images the same seeded draws, so the ciphertext sums
// agree. In one process pair PyTorch runs in a child process that stays up for the whole pass;
// in each round each side runs a few iterations while the others wait, and who goes first
// rotates, so the noise of a shared machine falls on all alike.
//
// Process pairs, and three malloc settings. On these machines the speed of the very same kernel
// differs between processes by up to 4×, and it follows glibc's malloc: whether a process's 12 MB
// tensors land on fresh, page-faulting memory depends on its allocation history (see
// src/native/allocator.ts). So every setting runs in several fresh process pairs (--processes),
// and their rounds are pooled:
//   shipped   nnlock as it ships (its malloc policy on) against PyTorch as users run it
//   defaults  both with glibc's defaults (NNLOCK_MALLOC=system): the bindings alone
//   tuned     both with nnlock's thresholds (MALLOC_*_ variables, which nnlock then leaves alone)
// Results: bench/results/cipher.json and cipher.md.
//
//   node --import tsx bench/cipher.ts [--threads N] [--rounds R] [--processes P] [--cases orth32,hill224] [--quick]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as os from 'node:os';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { type Tensor, scope, keep, manualSeed, setNumThreads, getNumThreads, libtorchVersion, liveTensors } from '../src/tensor/index.ts';
import { native } from '../src/native/index.ts';
import { init } from '../src/tensor/init.ts';

const { allocator: allocatorState } = init();
import { MMAP_THRESHOLD, TRIM_THRESHOLD } from '../src/native/allocator.ts';
import { rand, randint } from '../src/ops/creation.ts';
import { toDtype } from '../src/ops/convert.ts';
import { sum } from '../src/ops/reduction.ts';
import { type CipherKind, blockPermutation, deriveKey } from '../src/cipher/key.ts';
import { BlockCipher, type CipherAlgorithm, cipherChunkImages } from '../src/cipher/hill.ts';
import {
  type BenchReport,
  type CaseResult,
  compareCase,
  fmt,
  machineInfo,
  markdownTable,
  median,
  toMarkdown,
  withThroughput,
  writeReport,
  PAIRED_BENCH_OPTIONS,
  PythonPeer,
  assertCount,
  pairedBenchSettings,
  selectCases,
  timesMarkdown,
  timeIters,
  tick,
  threadFacts,
} from './lib/report.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';

interface Case {
  name: string;
  description: string;
  kind: CipherKind;
  k: number;
  shape: [number, number, number, number];
  shuffle: boolean;
  algorithm: CipherAlgorithm;
  warmup: number;
  iters: number;
}

const C32: [number, number, number, number] = [1024, 3, 32, 32];
const C224: [number, number, number, number] = [32, 3, 224, 224];
const CASES: Case[] = [
  { name: 'orth32', description: 'encrypt 1024×3×32×32 float32, orthogonal key, k=4 (conv)', kind: 'orthogonal', k: 4, shape: C32, shuffle: false, algorithm: 'conv', warmup: 3, iters: 3 },
  { name: 'orth224', description: 'encrypt 32×3×224×224 float32, orthogonal key, k=8 (conv)', kind: 'orthogonal', k: 8, shape: C224, shuffle: false, algorithm: 'conv', warmup: 3, iters: 3 },
  { name: 'hill32', description: 'encrypt 1024×3×32×32 uint8, hill256 key (mod 256), k=4 (conv)', kind: 'hill256', k: 4, shape: C32, shuffle: false, algorithm: 'conv', warmup: 3, iters: 3 },
  { name: 'hill224', description: 'encrypt 32×3×224×224 uint8, hill256 key (mod 256), k=8 (conv)', kind: 'hill256', k: 8, shape: C224, shuffle: false, algorithm: 'conv', warmup: 3, iters: 3 },
  { name: 'shuf32', description: 'encrypt 1024×3×32×32 float32, uniform key + block shuffle, k=4 (conv)', kind: 'uniform', k: 4, shape: C32, shuffle: true, algorithm: 'conv', warmup: 3, iters: 3 },
  { name: 'orth32-bmm', description: 'as orth32, reshape/permute + bmm formulation', kind: 'orthogonal', k: 4, shape: C32, shuffle: false, algorithm: 'bmm', warmup: 3, iters: 3 },
  { name: 'orth224-bmm', description: 'as orth224, reshape/permute + bmm formulation', kind: 'orthogonal', k: 8, shape: C224, shuffle: false, algorithm: 'bmm', warmup: 3, iters: 3 },
];

type Setting = 'shipped' | 'defaults' | 'tuned';
const SETTINGS: Setting[] = ['shipped', 'defaults', 'tuned'];
const SETTING_TEXT: Record<Setting, string> = {
  shipped: 'nnlock as shipped (its malloc policy) vs PyTorch with glibc defaults',
  defaults: 'both with glibc defaults (NNLOCK_MALLOC=system)',
  tuned: `both with MALLOC_MMAP_THRESHOLD_=${MMAP_THRESHOLD} MALLOC_TRIM_THRESHOLD_=${TRIM_THRESHOLD} (nnlock's thresholds)`,
};

/** The environment of one process pair (the PyTorch peer inherits it). */
function settingEnv(setting: Setting): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^MALLOC_[A-Z_]+_$/.test(k) || k === 'NNLOCK_MALLOC') delete env[k];
  if (setting === 'defaults') env.NNLOCK_MALLOC = 'system';
  if (setting === 'tuned') Object.assign(env, { MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD), MALLOC_TRIM_THRESHOLD_: String(TRIM_THRESHOLD) });
  return env;
}

const secret = new Uint8Array(32).map((_, i) => i * 7 + 1);
const WARMUP_MS = 500;

/** What one process pair measured: raw per-iteration times by round, for both sides. */
interface PassResult {
  setting: Setting;
  allocator: string;
  torch: { torch: string; python: string; threads: number; parallel_info: string; torch_file: string };
  nnlockParallel: string;
  loadAverage: { start: number[]; end: number[] };
  /** `same`: PyTorch running nnlock's own op sequence (conv cases), null where it is the reference. */
  cases: { name: string; ours: number[][]; peer: number[][]; same: number[][] | null; oursCheck: number; peerCheck: number }[];
}

/** One process pair: this process against a fresh PyTorch peer, every case, `rounds` rounds. */
async function runPass(setting: Setting, cases: Case[], threads: number, rounds: number, seed: number, python: string): Promise<PassResult> {
  setNumThreads(threads);
  const start = machineInfo().loadAverage;
  const peer = new PythonPeer(python, path.join(path.dirname(fileURLToPath(import.meta.url)), 'cipher_torch.py'));
  const out: PassResult['cases'] = [];
  try {
    const torch = await peer.request<PassResult['torch']>({ cmd: 'init', threads });
    if (getNumThreads() !== threads || torch.threads !== threads) {
      throw new Error(`thread counts differ: nnlock ${getNumThreads()}, PyTorch ${torch.threads}, asked ${threads}`);
    }
    for (const c of cases) {
      const live = liveTensors();
      const key = deriveKey(secret, { kind: c.kind, k: c.k, channels: c.shape[1], shuffle: c.shuffle });
      const cipher = new BlockCipher(key, { algorithm: c.algorithm });
      manualSeed(seed);
      const x = keep(scope(() => (c.kind === 'hill256' ? toDtype(randint(0, 256, c.shape), 'uint8') : rand(c.shape))));
      let last: Tensor | null = null;
      const step = (): void => {
        const y = cipher.encrypt(x);
        last?.dispose();
        last = y;
      };
      const perm = blockPermutation(key, c.shape[2] / c.k, c.shape[3] / c.k);
      // The reference (PyTorch's conv + pixel_shuffle, or bmm) and, for conv cases, the control:
      // PyTorch running nnlock's own op sequence.
      const sameName = `${c.name}/same`;
      const withSame = c.algorithm === 'conv';
      const setup = {
        cmd: 'setup',
        seed,
        kind: c.kind,
        k: c.k,
        shape: c.shape,
        matrices: key.matrices.map((m) => Array.from(m)),
        perm: perm ? Array.from(perm) : null,
        chunk: cipherChunkImages(c.shape[1], c.shape[2], c.shape[3]),
      };
      await peer.request({ ...setup, case: c.name, algorithm: c.algorithm });
      if (withSame) await peer.request({ ...setup, case: sameName, algorithm: 'conv-copy' });
      // Warm-up of at least WARMUP_MS a side: a fresh node process compiles its JavaScript on
      // background threads for a while, which on two cores takes time from libtorch's threads.
      const warm = timeIters(step, c.warmup);
      const perIter = Math.max(0.1, Math.min(...warm));
      const warmIters = Math.max(c.warmup, Math.ceil(WARMUP_MS / perIter));
      timeIters(step, Math.max(0, warmIters - c.warmup));
      await peer.request({ cmd: 'run', case: c.name, iters: warmIters });
      if (withSame) await peer.request({ cmd: 'run', case: sameName, iters: warmIters });
      const ours: number[][] = [];
      const theirs: number[][] = [];
      const same: number[][] = [];
      let peerCheck = Number.NaN;
      let sameCheck = Number.NaN;
      // Each turn runs one untimed call first: the first call after another process ran finds
      // the caches full of that process's data and its own threads asleep, and which side follows
      // which is not symmetric (PyTorch's two variants share one process and one input).
      const runOurs = async (): Promise<void> => {
        ours.push(timeIters(step, c.iters + 1).slice(1));
        await tick();
      };
      const runPeer = async (): Promise<void> => {
        const reply = await peer.request<{ times_ms: number[]; check: number }>({ cmd: 'run', case: c.name, iters: c.iters + 1 });
        theirs.push(reply.times_ms.slice(1));
        peerCheck = reply.check;
      };
      const runSame = async (): Promise<void> => {
        const reply = await peer.request<{ times_ms: number[]; check: number }>({ cmd: 'run', case: sameName, iters: c.iters + 1 });
        same.push(reply.times_ms.slice(1));
        sameCheck = reply.check;
      };
      const sides = withSame ? [runOurs, runPeer, runSame] : [runOurs, runPeer];
      for (let r = 0; r < rounds; r++) {
        // Who goes first rotates from round to round.
        for (let i = 0; i < sides.length; i++) await sides[(i + r) % sides.length]();
      }
      const oursCheck = scope(() => sum(toDtype(last!, 'float64')).item());
      (last as Tensor | null)?.dispose();
      x.dispose();
      cipher.dispose();
      if (liveTensors() !== live) console.warn(`  warning: ${c.name} left ${liveTensors() - live} tensor(s) alive`);
      if (withSame && sameCheck !== peerCheck && Math.abs(sameCheck - peerCheck) > 1e-6 * Math.abs(peerCheck)) {
        throw new Error(`${c.name}: PyTorch's two formulations disagree (${peerCheck} vs ${sameCheck})`);
      }
      out.push({ name: c.name, ours, peer: theirs, same: withSame ? same : null, oursCheck, peerCheck });
      console.log(
        `  [${setting}] ${c.name}: nnlock ${fmt(median(ours.flat()))} ms, PyTorch ${fmt(median(theirs.flat()))} ms` +
          (withSame ? `, PyTorch with nnlock's op sequence ${fmt(median(same.flat()))} ms` : ''),
      );
    }
    const allocator = allocatorState!.apply
      ? `nnlock policy: mmap threshold ${allocatorState!.mmapThreshold}, trim threshold ${allocatorState!.trimThreshold}, applied ${allocatorState!.applied}`
      : `nnlock policy off (${(allocatorState as { reason: string }).reason})`;
    return {
      setting,
      allocator,
      torch,
      nnlockParallel: native.parallelInfo(),
      loadAverage: { start, end: machineInfo().loadAverage },
      cases: out,
    };
  } finally {
    await peer.close();
  }
}

/** Runs one process pair as a child process (fresh heap) with the setting's environment. */
async function runChild(setting: Setting, args: string[]): Promise<PassResult> {
  const tmp = path.join(os.tmpdir(), `nnlock-cipher-bench-${process.pid}-${setting}.json`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args, '--setting', setting, '--emit', tmp], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: settingEnv(setting),
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the ${setting} process pair exited with code ${code}`))));
  });
  try {
    return JSON.parse(await readFile(tmp, 'utf8')) as PassResult;
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Pools the rounds of every process pair of one setting into one CaseResult per case. */
function pool(passes: PassResult[], cases: Case[]): { results: CaseResult[]; same: (CaseResult | null)[]; perProcess: Record<string, number[]> } {
  const perProcess: Record<string, number[]> = {};
  const same: (CaseResult | null)[] = [];
  const results = cases.map((c) => {
    const runs = passes.map((p) => p.cases.find((x) => x.name === c.name)!);
    perProcess[c.name] = runs.map((r) => median(r.peer.flat()) / median(r.ours.flat()));
    const last = runs[runs.length - 1];
    const check = { ours: last.oursCheck, peer: last.peerCheck };
    const ours = runs.flatMap((r) => r.ours);
    same.push(
      last.same
        ? withThroughput(
            compareCase(
              `${c.name}/same`,
              `${c.description}; PyTorch runs nnlock's op sequence`,
              ours,
              runs.flatMap((r) => r.same ?? []),
              { check },
            ),
            c.shape[0],
            'images',
          )
        : null,
    );
    return withThroughput(
      compareCase(
        c.name,
        c.description,
        ours,
        runs.flatMap((r) => r.peer),
        { check },
      ),
      c.shape[0],
      'images',
    );
  });
  return { results, same, perProcess };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...PAIRED_BENCH_OPTIONS,
      processes: { type: 'string' },
      setting: { type: 'string' },
      emit: { type: 'string' },
    },
  });
  const { threads, rounds, seed, python, quick } = pairedBenchSettings(values, { full: 8, quick: 2 });
  const processes = Number(values.processes ?? (quick ? 1 : 6));
  assertCount(processes, 'process');
  const cases = selectCases(CASES, values.cases, quick);

  if (values.emit) {
    const setting = values.setting as Setting;
    if (!SETTINGS.includes(setting)) throw new Error(`bad setting ${values.setting} (have ${SETTINGS.join(', ')})`);
    await writeFile(values.emit, JSON.stringify(await runPass(setting, cases, threads, rounds, seed, python)));
    return;
  }

  console.log(`cipher bench: ${threads} thread(s) on both sides; ${processes} process pair(s) per setting, ${rounds} rounds each`);
  const childArgs = [
    '--threads',
    String(threads),
    '--rounds',
    String(rounds),
    '--seed',
    String(seed),
    '--cases',
    cases.map((c) => c.name).join(','),
    '--python',
    python,
    ...(quick ? ['--quick'] : []),
  ];
  const loadAtStart = machineInfo().loadAverage;
  const passes: Record<Setting, PassResult[]> = { shipped: [], defaults: [], tuned: [] };
  for (let p = 0; p < processes; p++) {
    // The settings take turns, in a rotating order, so slow drift falls on all of them.
    const order = SETTINGS.map((_, i) => SETTINGS[(i + p) % SETTINGS.length]);
    for (const setting of order) {
      console.log(`process pair ${p + 1}/${processes}: ${setting}`);
      passes[setting].push(await runChild(setting, childArgs));
    }
  }
  const pooled = Object.fromEntries(SETTINGS.map((s) => [s, pool(passes[s], cases)])) as Record<Setting, ReturnType<typeof pool>>;
  const first = passes.shipped[0];

  const checks = pooled.shipped.results.map((r) => {
    const rel = Math.abs(r.check!.ours - r.check!.peer) / Math.max(1e-12, Math.abs(r.check!.peer));
    return `${r.name}: ciphertext sum nnlock ${r.check!.ours.toPrecision(10)}, PyTorch ${r.check!.peer.toPrecision(10)} (relative difference ${rel.toExponential(1)})`;
  });
  const summary = markdownTable(
    ['case', 'malloc setting', 'nnlock images/s', 'PyTorch (reference) images/s', 'ratio', "PyTorch (nnlock's op sequence) images/s", 'ratio'],
    cases.flatMap((c, i) =>
      SETTINGS.map((s) => {
        const r = pooled[s].results[i];
        const same = pooled[s].same[i];
        return [
          c.name,
          s,
          r.throughput!.ours.toFixed(0),
          r.throughput!.peer.toFixed(0),
          fmt(r.ratio, 3),
          same ? same.throughput!.peer.toFixed(0) : '(same as reference)',
          same ? fmt(same.ratio, 3) : '',
        ];
      }),
    ),
  );
  const spread = markdownTable(
    ['case', ...SETTINGS.map((s) => `${s}: ratio per process pair`)],
    cases.map((c) => [c.name, ...SETTINGS.map((s) => pooled[s].perProcess[c.name].map((v) => fmt(v, 2)).join(', '))]),
  );
  const sections = [
    `## Throughput by malloc setting (images per second from the pooled median call time; ratio = nnlock speed / PyTorch speed)\n\n` +
      `${SETTINGS.map((s) => `- ${s}: ${SETTING_TEXT[s]}`).join('\n')}\n` +
      `- reference: PyTorch's conv2d + pixel_shuffle (the -bmm cases: reshape/permute + bmm); nnlock's op sequence: the same conv2d, ` +
      `remainder in place, and one strided copy_ instead of pixel_shuffle, a cache-sized chunk of images at a time (src/cipher/hill.ts)\n\n${summary}\n`,
    `## Ratio in each process pair\n\nThe same kernels, in fresh processes: how far one process pair can stray from another.\n\n${spread}\n`,
    ...(['defaults', 'tuned'] as Setting[]).map((s) => `## Times, ${s}\n\n${SETTING_TEXT[s]}.\n\n${timesMarkdown(pooled[s].results, 'nnlock', 'PyTorch')}\n`),
  ];

  type Compared = { what: string; cases: CaseResult[]; ratioPerProcessPair: Record<string, number[]>; allocator: string[] };
  const report: BenchReport & { settingsCompared: Record<Setting, Compared> } = {
    name: 'cipher',
    title: 'Cipher benchmark: block-wise Hill-cipher encryption, nnlock vs PyTorch (same machine, same run, same threads)',
    date: new Date().toISOString(),
    ours: 'nnlock',
    peer: 'PyTorch',
    machine: machineInfo(),
    settings: {
      threads,
      rounds,
      processes,
      seed,
      quick,
      iters: Object.fromEntries(cases.map((c) => [c.name, c.iters])),
      warmup: Object.fromEntries(cases.map((c) => [c.name, c.warmup])),
      order: 'per setting, fresh process pairs; within a pair, who goes first rotates from round to round',
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: machineInfo().loadAverage,
      mainTable: SETTING_TEXT.shipped,
    },
    versions: {
      'nnlock libtorch': libtorchVersion(),
      PyTorch: `${first.torch.torch} (${path.dirname(first.torch.torch_file)})`,
      python: first.torch.python,
      node: process.version,
    },
    cases: pooled.shipped.results,
    settingsCompared: Object.fromEntries(
      SETTINGS.map((s) => [
        s,
        {
          what: SETTING_TEXT[s],
          cases: pooled[s].results,
          ratioPerProcessPair: pooled[s].perProcess,
          allocator: passes[s].map((p) => p.allocator),
        },
      ]),
    ) as Record<Setting, Compared>,
    notes: [
      `The main tables are the setting "shipped": ${SETTING_TEXT.shipped}. The other settings follow below.`,
      'ratio = PyTorch median time / nnlock median time: nnlock speed relative to PyTorch (≥ 1: nnlock as fast or faster). Against the reference it measures nnlock\'s formulation (strided copy_ instead of pixel_shuffle; fused hill256 steps) and, in "shipped", its malloc policy (src/native/allocator.ts); against PyTorch running nnlock\'s op sequence with equal malloc settings it measures the binding alone.',
      'The time per call includes allocating the output and freeing the previous one on both sides; the keys are prepared once (nnlock caches the key matrices as tensors in BlockCipher).',
      ...checks,
      `nnlock malloc, per setting: ${SETTINGS.map((s) => `${s}: ${passes[s][0].allocator}`).join('; ')}`,
      `nnlock: ${threadFacts(first.nnlockParallel)}`,
      `PyTorch: ${threadFacts(first.torch.parallel_info)}`,
    ],
  };
  if (values['no-write']) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const written = await writeReport(report);
  // The shared writer's Markdown (the "shipped" setting), plus the comparison of settings.
  await writeFileAtomic(written.md, `${toMarkdown(report)}\n${sections.join('\n')}`);
  console.log(summary);
  console.log(`wrote ${path.relative(process.cwd(), written.json)} and ${path.relative(process.cwd(), written.md)}`);
}

await main();
