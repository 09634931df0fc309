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
// Both sides run the same algorithm (src/cipher/hill.ts): by default one grouped conv2d with stride
// k and pixel_shuffle (shuffle: index_select over block positions; hill256: remainder 256 and back
// to uint8); the -bmm cases reshape/permute into blocks, bmm over channels, permute back. The keys
// are the same matrices (sent to the peer) and the images the same seeded draws, so the
// ciphertext sums agree. PyTorch runs in a
// child process that stays up for the whole run; in each round one side runs a few iterations while
// the other waits, and the side that goes first alternates, so the noise of a shared machine falls
// on both alike. Results: bench/results/cipher.json and cipher.md.
//
// A second pass repeats every case with glibc's malloc set to keep large blocks on the heap in both
// processes (MALLOC_ENV below; --no-malloc-pass skips it): on this machine whether a 12 MB tensor
// lands in fresh, page-faulting memory is worth more than the binding itself.
//
//   node --import tsx bench/cipher.ts [--threads N] [--rounds R] [--cases orth32,hill224] [--quick] [--no-malloc-pass]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import * as os from 'node:os';
import { availableParallelism } from 'node:os';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { type Tensor, scope, keep, manualSeed, setNumThreads, getNumThreads, libtorchVersion, liveTensors } from '../src/tensor/index.ts';
import { native } from '../src/native/index.ts';
import { rand, randint } from '../src/ops/creation.ts';
import { toDtype } from '../src/ops/convert.ts';
import { sum } from '../src/ops/reduction.ts';
import { type CipherKind, blockPermutation, deriveKey } from '../src/cipher/key.ts';
import { BlockCipher, type CipherAlgorithm } from '../src/cipher/hill.ts';
import { type BenchReport, compareCase, fmt, machineInfo, markdownTable, toMarkdown, writeReport, PythonPeer, timeIters, tick } from './lib/report.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

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


/**
 * glibc's malloc serves blocks above a (dynamic) threshold with fresh mmap regions, so a process can
 * pay a page fault per 4 KiB on every large tensor it allocates; whether it does depends on its
 * allocation history, which differs between the two processes. Measured here: one 12 MB conv2d
 * output costs 23–26 ms fresh against 5–6 ms reused. These settings keep large blocks on the heap.
 */
const MALLOC_ENV: Record<string, string> = { MALLOC_MMAP_THRESHOLD_: '1073741824', MALLOC_TRIM_THRESHOLD_: '4294967296' };
const secret = new Uint8Array(32).map((_, i) => i * 7 + 1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string' },
      rounds: { type: 'string' },
      cases: { type: 'string' },
      seed: { type: 'string' },
      python: { type: 'string' },
      quick: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      'no-malloc-pass': { type: 'boolean' },
      emit: { type: 'string' },
    },
  });
  const threads = Number(values.threads ?? process.env.NNLOCK_BENCH_THREADS ?? availableParallelism());
  const quick = values.quick ?? false;
  const rounds = Number(values.rounds ?? (quick ? 2 : 12));
  const seed = Number(values.seed ?? 0);
  const python = values.python ?? process.env.NNLOCK_BENCH_PYTHON ?? '/usr/bin/python3';
  const wanted = values.cases ? values.cases.split(',') : CASES.map((c) => c.name);
  const cases = wanted.map((n) => {
    const c = CASES.find((k) => k.name === n);
    if (!c) throw new Error(`unknown case '${n}' (have ${CASES.map((k) => k.name).join(', ')})`);
    return quick ? { ...c, warmup: 1, iters: 1 } : c;
  });
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`bad thread count ${threads}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bad round count ${rounds}`);

  setNumThreads(threads);
  const loadAtStart = machineInfo().loadAverage;
  const peer = new PythonPeer(python, path.join(here, 'cipher_torch.py'));
  const results = [];
  const checks: string[] = [];
  const throughput: { case: string; images: number; nnlockImagesPerSecond: number; pytorchImagesPerSecond: number; ratio: number }[] = [];
  let torchInfo: { torch: string; python: string; threads: number; parallel_info: string; torch_file: string };
  try {
    torchInfo = await peer.request({ cmd: 'init', threads });
    if (getNumThreads() !== threads || torchInfo.threads !== threads) {
      throw new Error(`thread counts differ: nnlock ${getNumThreads()}, PyTorch ${torchInfo.threads}, asked ${threads}`);
    }
    console.log(`cipher bench: ${threads} thread(s) on both sides; nnlock libtorch ${libtorchVersion()}, PyTorch ${torchInfo.torch}; ${rounds} rounds`);

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
      await peer.request({
        cmd: 'setup', case: c.name, seed, kind: c.kind, k: c.k, shape: c.shape, algorithm: c.algorithm,
        matrices: key.matrices.map((m) => Array.from(m)), perm: perm ? Array.from(perm) : null,
      });
      timeIters(step, c.warmup);
      await peer.request({ cmd: 'run', case: c.name, iters: c.warmup });
      const oursRounds: number[][] = [];
      const peerRounds: number[][] = [];
      let peerCheck = Number.NaN;
      for (let r = 0; r < rounds; r++) {
        const runOurs = async (): Promise<void> => {
          oursRounds.push(timeIters(step, c.iters));
          await tick();
        };
        const runPeer = async (): Promise<void> => {
          const reply = await peer.request<{ times_ms: number[]; check: number }>({ cmd: 'run', case: c.name, iters: c.iters });
          peerRounds.push(reply.times_ms);
          peerCheck = reply.check;
        };
        if (r % 2 === 0) { await runOurs(); await runPeer(); } else { await runPeer(); await runOurs(); }
      }
      const oursCheck = scope(() => sum(toDtype(last!, 'float64')).item());
      (last as Tensor | null)?.dispose();
      x.dispose();
      cipher.dispose();
      if (liveTensors() !== live) console.warn(`  warning: ${c.name} left ${liveTensors() - live} tensor(s) alive`);
      const rel = Math.abs(oursCheck - peerCheck) / Math.max(1e-12, Math.abs(peerCheck));
      checks.push(`${c.name}: ciphertext sum nnlock ${oursCheck.toPrecision(10)}, PyTorch ${peerCheck.toPrecision(10)} (relative difference ${rel.toExponential(1)})`);
      const result = compareCase(c.name, c.description, oursRounds, peerRounds, { check: { ours: oursCheck, peer: peerCheck } });
      results.push(result);
      const n = c.shape[0];
      const t = { case: c.name, images: n, nnlockImagesPerSecond: n / (result.ours.median / 1000), pytorchImagesPerSecond: n / (result.peer.median / 1000), ratio: result.ratio };
      throughput.push(t);
      console.log(`  ${c.name}: nnlock ${fmt(result.ours.median)} ms (${t.nnlockImagesPerSecond.toFixed(0)} images/s), PyTorch ${fmt(result.peer.median)} ms (${t.pytorchImagesPerSecond.toFixed(0)} images/s), ratio ${fmt(result.ratio, 3)} (paired ${fmt(result.pairedRatio, 3)}, best-run ${fmt(result.bestRatio, 3)})`);
    }
  } finally {
    await peer.close();
  }

  const table = markdownTable(
    ['case', 'images per call', 'nnlock images/s', 'PyTorch images/s', 'ratio (nnlock / PyTorch)'],
    throughput.map((t) => [t.case, String(t.images), t.nnlockImagesPerSecond.toFixed(0), t.pytorchImagesPerSecond.toFixed(0), fmt(t.ratio, 3)]),
  );
  const sections = [`## Throughput (images per second, from the median call time)\n\n${table}\n`];
  const report: BenchReport & { throughput: typeof throughput; mallocTuned?: { env: Record<string, string>; cases: BenchReport['cases']; throughput: typeof throughput } } = {
    name: 'cipher',
    title: 'Cipher benchmark: block-wise Hill-cipher encryption, nnlock vs PyTorch (same machine, same run, same threads)',
    date: new Date().toISOString(),
    ours: 'nnlock',
    peer: 'PyTorch',
    machine: machineInfo(),
    settings: {
      threads, rounds, seed, quick,
      iters: Object.fromEntries(cases.map((c) => [c.name, c.iters])),
      warmup: Object.fromEntries(cases.map((c) => [c.name, c.warmup])),
      order: 'rounds alternate: nnlock first in odd rounds, PyTorch first in even rounds',
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: machineInfo().loadAverage,
      malloc: process.env.MALLOC_MMAP_THRESHOLD_ ? `MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_} MALLOC_TRIM_THRESHOLD_=${process.env.MALLOC_TRIM_THRESHOLD_ ?? ''}` : 'glibc defaults',
    },
    versions: {
      'nnlock libtorch': libtorchVersion(),
      PyTorch: `${torchInfo.torch} (${path.dirname(torchInfo.torch_file)})`,
      python: torchInfo.python,
      node: process.version,
    },
    cases: results,
    throughput,
    notes: [
      'Throughput in images per second (median call time) is tabled in the section "Throughput" below (the JSON field `throughput`).',
      'ratio = PyTorch median time / nnlock median time: nnlock speed relative to PyTorch (≥ 1: nnlock as fast or faster). In each case both sides run the same algorithm, so the ratio measures the binding, not the method. Across cases, conv vs bmm compares the two formulations (nnlock uses conv on the CPU).',
      'The time per call includes allocating the output and freeing the previous one on both sides; the keys are prepared once (nnlock caches the key matrices as tensors in BlockCipher).',
      ...checks,
      `nnlock: ${native.parallelInfo().split('\n').filter((l) => /get_num_threads|backend/.test(l)).map((l) => l.trim()).join('; ')}`,
      `PyTorch: ${torchInfo.parallel_info.split('\n').filter((l) => /get_num_threads|backend/.test(l)).map((l) => l.trim()).join('; ')}`,
    ],
  };
  if (values.emit) {
    await writeFile(values.emit, JSON.stringify(report));
    return;
  }
  // Second pass, both sides with glibc's malloc told to keep large blocks on the heap (see the
  // file comment): the same cases, in a child process so that the setting applies from the start.
  if (!values['no-malloc-pass'] && !process.env.MALLOC_MMAP_THRESHOLD_) {
    const tmp = path.join(os.tmpdir(), `nnlock-cipher-bench-${process.pid}.json`);
    console.log(`second pass with ${Object.entries(MALLOC_ENV).map(([k, v]) => `${k}=${v}`).join(' ')} (both sides)`);
    const args = ['--import', 'tsx', fileURLToPath(import.meta.url), '--threads', String(threads), '--rounds', String(rounds), '--seed', String(seed),
      '--cases', cases.map((c) => c.name).join(','), '--python', python, '--emit', tmp, ...(quick ? ['--quick'] : [])];
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...MALLOC_ENV } });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`malloc pass exited with code ${code}`))));
    });
    const tuned = JSON.parse(await readFile(tmp, 'utf8')) as typeof report;
    await rm(tmp, { force: true });
    report.mallocTuned = { env: MALLOC_ENV, cases: tuned.cases, throughput: tuned.throughput };
    const t2 = markdownTable(
      ['case', 'nnlock images/s', 'PyTorch images/s', 'ratio (nnlock / PyTorch)', 'paired ratio'],
      tuned.throughput.map((t, i) => [t.case, t.nnlockImagesPerSecond.toFixed(0), t.pytorchImagesPerSecond.toFixed(0), fmt(t.ratio, 3), fmt(tuned.cases[i].pairedRatio, 3)]),
    );
    sections.push(`## Second pass: glibc malloc keeping large blocks on the heap\n\nBoth processes with ${Object.entries(MALLOC_ENV).map(([k, v]) => `\`${k}=${v}\``).join(', ')}: large tensors reuse heap memory instead of fresh, page-faulting mmap regions (JSON field \`mallocTuned\`).\n\n${t2}\n`);
  }
  if (values['no-write']) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const written = await writeReport(report);
  // The shared writer's Markdown, plus the throughput tables as sections of their own.
  await writeFileAtomic(written.md, `${toMarkdown(report)}\n${sections.join('\n')}`);
  console.log(`wrote ${path.relative(process.cwd(), written.json)} and ${path.relative(process.cwd(), written.md)}`);
}

await main();
