// The distributed benchmark, on this machine, in one run:
//   1. ResNet-20 training throughput (images/s, global batch 128, random CIFAR-size batches):
//      1 process × 2 threads against 2 data-parallel processes × 1 thread (c10d Gloo, DataParallel),
//      with 1 process × 1 thread as the control (what one core does alone).
//   2. All-reduce (sum, float32) bandwidth between 2 processes: nnlock's c10d binding against
//      PyTorch's own torch.distributed with Gloo (Debian's python3-torch, bench/distributed_torch.py),
//      both started by the same launcher (src/distributed/launch.ts) with the same variables.
// Rounds alternate who goes first, so the noise of a shared machine falls on both sides alike.
// Ratios are medians of all timed iterations: PyTorch's time / nnlock's (≥ 1: nnlock as fast).
// Results: bench/results/distributed.json and distributed.md.
//
//   node --import tsx bench/distributed.ts [--rounds R] [--steps S] [--iters I] [--quick]
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launch } from '../src/distributed/index.ts';
import { RESULTS_DIR, fmt, machineInfo, markdownTable, median } from './lib/report.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, steps: { type: 'string', default: '6' }, iters: { type: 'string', default: '20' }, quick: { type: 'boolean', default: false } },
});
const rounds = values.quick ? 1 : Number(values.rounds);
const steps = values.quick ? 2 : Number(values.steps);
const iters = values.quick ? 5 : Number(values.iters);
const GLOBAL_BATCH = 128;
const SIZES = [1 << 20, 16 << 20, 64 << 20];
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const node = [process.execPath, '--import', 'tsx'];

/** Runs a command in nproc ranks; returns rank 0's JSON line. */
async function ranks(nproc: number, threads: number, command: string[]): Promise<Record<string, unknown>> {
  let out = '';
  let err = '';
  const env = { ...process.env, NNLOCK_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  const r = await launch({
    command: command[0],
    args: command.slice(1),
    nproc,
    threadsPerRank: threads,
    env,
    onOutput: (rank, stream, chunk) => (stream === 'stdout' && rank === 0 ? (out += chunk) : (err += chunk)),
  });
  if (r.failedRank !== null) throw new Error(`${command.join(' ')}: rank ${r.failedRank} failed: ${err}`);
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

async function single(threads: number, command: string[]): Promise<Record<string, unknown>> {
  const { spawnSync } = await import('node:child_process');
  const env: Record<string, string | undefined> = { ...process.env, NNLOCK_THREADS: String(threads), WORLD_SIZE: undefined };
  const r = spawnSync(command[0], command.slice(1), { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const loadAtStart = machineInfo().loadAverage;
const train: Record<'one' | 'two' | 'control', number[]> = { one: [], two: [], control: [] };
const reduce: Record<'nnlock' | 'torch', Record<string, number[]>> = { nnlock: {}, torch: {} };
for (let round = 0; round < rounds; round++) {
  const trainRuns = [
    async () => train.one.push(...((await single(2, [...node, here('./distributed-rank.ts'), 'train', String(GLOBAL_BATCH), String(steps), '2'])).times as number[])),
    async () => train.control.push(...((await single(1, [...node, here('./distributed-rank.ts'), 'train', String(GLOBAL_BATCH), String(steps), '2'])).times as number[])),
    async () => train.two.push(...((await ranks(2, 1, [...node, here('./distributed-rank.ts'), 'train', String(GLOBAL_BATCH), String(steps), '2'])).times as number[])),
  ];
  const sizes = SIZES.join(',');
  const reduceRuns = [
    async () => merge(reduce.nnlock, (await ranks(2, 1, [...node, here('./distributed-rank.ts'), 'allreduce', sizes, String(iters), '3'])).bySize as Record<string, number[]>),
    async () => merge(reduce.torch, (await ranks(2, 1, ['/usr/bin/python3', here('./distributed_torch.py'), sizes, String(iters), '3'])).bySize as Record<string, number[]>),
  ];
  for (const runs of [trainRuns, reduceRuns]) {
    if (round % 2 === 1) runs.reverse();
    for (const run of runs) await run();
  }
  process.stderr.write(`round ${round + 1}/${rounds} done\n`);
}

function merge(into: Record<string, number[]>, from: Record<string, number[]>): void {
  for (const [k, v] of Object.entries(from)) (into[k] ??= []).push(...v);
}

const imagesPerSecond = (times: number[]) => GLOBAL_BATCH / median(times);
const trainRows = [
  ['1 process × 2 threads', fmt(median(train.one) * 1000, 0), fmt(imagesPerSecond(train.one), 1), String(train.one.length)],
  ['2 processes × 1 thread (DataParallel, Gloo)', fmt(median(train.two) * 1000, 0), fmt(imagesPerSecond(train.two), 1), String(train.two.length)],
  ['control: 1 process × 1 thread', fmt(median(train.control) * 1000, 0), fmt(imagesPerSecond(train.control), 1), String(train.control.length)],
];
const reduceRows = SIZES.map((bytes) => {
  const [ours, peer] = [median(reduce.nnlock[bytes]), median(reduce.torch[bytes])];
  const ratio = peer / ours;
  return [`${bytes / 2 ** 20} MiB`, fmt(ours * 1000, 2), fmt(peer * 1000, 2), fmt(bytes / ours / 1e9, 3), fmt(bytes / peer / 1e9, 3), fmt(ratio, 3), ratio >= 0.95 ? 'yes (≥ 0.95)' : 'no'];
});
const report = {
  name: 'distributed',
  date: new Date().toISOString(),
  machine: { ...machineInfo(), loadAverageAtStart: loadAtStart },
  settings: { rounds, steps, iters, globalBatch: GLOBAL_BATCH, sizes: SIZES, warmup: { train: 2, allreduce: 3 } },
  train: {
    oneProcessTwoThreads: train.one,
    twoProcessesOneThread: train.two,
    oneProcessOneThread: train.control,
    imagesPerSecond: { one: imagesPerSecond(train.one), two: imagesPerSecond(train.two), control: imagesPerSecond(train.control) },
  },
  allreduce: reduce,
};
const md = [
  '# Distributed benchmark: c10d data-parallel training and all-reduce (same machine, same run)',
  '',
  `- date: ${report.date}`,
  `- machine: ${report.machine.cpuModel}, ${report.machine.logicalCores} logical cores, load average at start ${loadAtStart.join(' ')}, at end ${machineInfo().loadAverage.join(' ')}`,
  `- settings: ${rounds} rounds, ${steps} timed steps (2 warm-up) per training run, ${iters} timed all-reduces (3 warm-up) per size per run`,
  '- command: `node --import tsx bench/distributed.ts' + (values.quick ? ' --quick' : ` --rounds ${rounds} --steps ${steps} --iters ${iters}`) + '`',
  '',
  '## ResNet-20 training, global batch 128 (random 3×32×32 images)',
  '',
  markdownTable(['configuration', 'median step (ms)', 'images/s', 'timed steps'], trainRows, [false, true, true, true]),
  '',
  '## All-reduce (sum, float32) between 2 processes, 1 thread each',
  '',
  markdownTable(['size', 'nnlock median (ms)', 'PyTorch median (ms)', 'nnlock GB/s', 'PyTorch GB/s', 'ratio (PyTorch time / nnlock time)', 'target met'], reduceRows, [
    false,
    true,
    true,
    true,
    true,
    true,
    false,
  ]),
  '',
  "Every run is a fresh set of processes (`launch` for the ranks), so the machine's other work falls on each configuration alike over the rounds; on a machine whose load average is far above its cores, two OpenMP threads in one process lose most of their time to preemption at their barriers, which single-threaded ranks do not have: compare the load averages above before reading the 1 × 2 row.",
  '',
  'GB/s is the tensor size over the time of one all-reduce (algorithm bandwidth). Both sides use Gloo from the same libtorch 1.13 (Debian); both bind their Gloo device to the loopback (nnlock from MASTER_ADDR, PyTorch from the hostname, which resolves to this machine).',
  '',
].join('\n');
await writeFile(join(RESULTS_DIR, 'distributed.json'), `${JSON.stringify(report, null, 2)}\n`);
await writeFile(join(RESULTS_DIR, 'distributed.md'), md);
process.stdout.write(md);
