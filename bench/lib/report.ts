// Shared code of the benchmarks: summary statistics, machine facts, and results written as
// bench/results/<name>.json and bench/results/<name>.md (a Markdown table), each atomically
// (temporary file, then rename), so a reader never sees half a result. Also the driver of a
// PyTorch peer process (PythonPeer) and the per-iteration timer the paired benchmarks share.
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { writeFileAtomic } from '../../src/io/atomic.ts';

export const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');

export interface Summary {
  n: number;
  median: number;
  mean: number;
  min: number;
  max: number;
  /** 25th and 75th percentiles (linear interpolation). */
  p25: number;
  p75: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
    p25: quantile(s, 0.25),
    p75: quantile(s, 0.75),
  };
}

export interface MachineInfo {
  cpuModel: string;
  logicalCores: number;
  availableParallelism: number;
  totalMemoryGiB: number;
  platform: string;
  kernel: string;
  arch: string;
  node: string;
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    logicalCores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    kernel: os.release(),
    arch: os.arch(),
    node: process.version,
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** One measured case: our side against a peer (PyTorch) on the same machine, in the same run. */
export interface CaseResult {
  name: string;
  description: string;
  unit: 'ms';
  ours: Summary;
  peer: Summary;
  /** Medians of each round, in round order (rounds alternate which side goes first). */
  oursRounds: number[];
  peerRounds: number[];
  /** Our speed / the peer's speed = peer median time / our median time (> 1: we are faster). */
  ratio: number;
  /** Median over rounds of (peer round median / our round median): robust to drifting noise. */
  pairedRatio: number;
  /** Peer's fastest iteration / our fastest: the least disturbed runs of each side. */
  bestRatio: number;
  /** The ratio we aim for; `meetsTarget` says whether `ratio` reaches it. */
  target?: number;
  meetsTarget?: boolean;
  /** Values both sides computed (e.g. the last loss), to show they did the same work. */
  check?: { ours: number; peer: number };
  /** Items (e.g. images) per second from the median times; set by withThroughput. */
  throughput?: Throughput;
}

/** Work rate of both sides: `perIter` items per timed iteration, rates from the median times. */
export interface Throughput {
  unit: string;
  perIter: number;
  ours: number;
  peer: number;
  /** Rates from the fastest iteration of each side. */
  oursBest: number;
  peerBest: number;
}

/** Adds items-per-second figures to a case (`perIter` items, e.g. the batch size, per iteration). */
export function withThroughput(c: CaseResult, perIter: number, unit: string): CaseResult {
  const rate = (ms: number): number => (perIter * 1000) / ms;
  c.throughput = { unit, perIter, ours: rate(c.ours.median), peer: rate(c.peer.median), oursBest: rate(c.ours.min), peerBest: rate(c.peer.min) };
  return c;
}

export interface BenchReport {
  /** File stem: results go to bench/results/<name>.json and .md. */
  name: string;
  title: string;
  date: string;
  ours: string;
  peer: string;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  versions: Record<string, string>;
  cases: CaseResult[];
  notes: string[];
}

/** A CaseResult from raw per-iteration times of both sides, grouped by round. */
export function compareCase(name: string, description: string, oursRounds: number[][], peerRounds: number[][], extra: { target?: number; check?: { ours: number; peer: number } } = {}): CaseResult {
  const ours = summarize(oursRounds.flat());
  const peer = summarize(peerRounds.flat());
  const oursMed = oursRounds.map(median);
  const peerMed = peerRounds.map(median);
  const ratio = peer.median / ours.median;
  const result: CaseResult = {
    name,
    description,
    unit: 'ms',
    ours,
    peer,
    oursRounds: oursMed,
    peerRounds: peerMed,
    ratio,
    pairedRatio: median(oursMed.map((o, i) => peerMed[i] / o)),
    bestRatio: peer.min / ours.min,
  };
  if (extra.target !== undefined) {
    result.target = extra.target;
    result.meetsTarget = ratio >= extra.target;
  }
  if (extra.check) result.check = extra.check;
  return result;
}

export function fmt(v: number, digits = 2): string {
  if (!Number.isFinite(v)) return String(v);
  return v.toFixed(digits);
}

/** A Markdown table; cells are escaped for pipes. `numeric[i]` right-aligns column i. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[], numeric: readonly boolean[] = []): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]): string => `| ${cells.map(esc).join(' | ')} |`;
  const align = headers.map((_, i) => (numeric[i] ? '---:' : '---'));
  return [line(headers), `|${align.map((a) => ` ${a} `).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The times table and the spread table of some cases, with the sides named `ours` and `peer`. */
export function timesMarkdown(cases: readonly CaseResult[], ours: string, peer: string): string {
  const table = markdownTable(
    ['case', 'what', `${ours} median (ms)`, `${peer} median (ms)`, `ratio (${ours} speed / ${peer} speed)`, 'paired ratio', 'best-run ratio', 'target met'],
    cases.map((c) => [
      c.name,
      c.description,
      fmt(c.ours.median),
      fmt(c.peer.median),
      fmt(c.ratio, 3),
      fmt(c.pairedRatio, 3),
      fmt(c.bestRatio, 3),
      c.target === undefined ? '' : `${c.meetsTarget ? 'yes' : 'no'} (≥ ${c.target})`,
    ]),
    [false, false, true, true, true, true, true, false],
  );
  const spread = markdownTable(
    ['case', `${ours} p25–p75 (ms)`, `${peer} p25–p75 (ms)`, `${ours} rounds`, `${peer} rounds`, 'check (ours / peer)'],
    cases.map((c) => [
      c.name,
      `${fmt(c.ours.p25)}–${fmt(c.ours.p75)}`,
      `${fmt(c.peer.p25)}–${fmt(c.peer.p75)}`,
      c.oursRounds.map((v) => fmt(v, 1)).join(', '),
      c.peerRounds.map((v) => fmt(v, 1)).join(', '),
      c.check ? `${c.check.ours.toPrecision(6)} / ${c.check.peer.toPrecision(6)}` : '',
    ]),
    [false, true, true, false, false, false],
  );
  return [table, '', '## Spread', '', spread].join('\n');
}

export function toMarkdown(r: BenchReport): string {
  // Only reports whose cases carry throughput figures get this table.
  const withRates = r.cases.filter((c) => c.throughput !== undefined);
  const rates =
    withRates.length === 0
      ? []
      : [
          '## Throughput',
          '',
          markdownTable(
            ['case', 'per iteration', `${r.ours} (median)`, `${r.peer} (median)`, 'ratio', `${r.ours} (best)`, `${r.peer} (best)`, 'target met'],
            withRates.map((c) => {
              const t = c.throughput!;
              return [
                c.name,
                `${t.perIter} ${t.unit}`,
                `${fmt(t.ours)} ${t.unit}/s`,
                `${fmt(t.peer)} ${t.unit}/s`,
                fmt(c.ratio, 3),
                `${fmt(t.oursBest)} ${t.unit}/s`,
                `${fmt(t.peerBest)} ${t.unit}/s`,
                c.target === undefined ? '' : `${c.meetsTarget ? 'yes' : 'no'} (≥ ${c.target})`,
              ];
            }),
            [false, true, true, true, true, true, true, false],
          ),
          '',
        ];
  const m = r.machine;
  const facts = [
    `- date: ${r.date}`,
    `- machine: ${m.cpuModel}, ${m.logicalCores} logical cores, ${m.totalMemoryGiB} GiB, ${m.platform} ${m.kernel} (${m.arch}), load average ${m.loadAverage.join(' ')}`,
    `- settings: ${Object.entries(r.settings)
      .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
      .join(', ')}`,
    `- versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  const notes = r.notes.length ? ['', '## Notes', '', ...r.notes.map((n) => `- ${n}`)] : [];
  return [`# ${r.title}`, '', ...facts, '', ...rates, ...(rates.length ? ['## Times', ''] : []), timesMarkdown(r.cases, r.ours, r.peer), ...notes, ''].join('\n');
}

/** Writes bench/results/<name>.json and <name>.md atomically; returns their paths. */
export async function writeReport(r: BenchReport, dir = RESULTS_DIR): Promise<{ json: string; md: string }> {
  mkdirSync(dir, { recursive: true });
  const json = path.join(dir, `${r.name}.json`);
  const md = path.join(dir, `${r.name}.md`);
  await writeFileAtomic(json, `${JSON.stringify(r, null, 2)}\n`);
  await writeFileAtomic(md, toMarkdown(r));
  return { json, md };
}

/** Reads a previous report back (e.g. to compare runs); null when there is none. */
export function readReport(name: string, dir = RESULTS_DIR): BenchReport | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as BenchReport;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Running a peer side by side: a long-lived child process speaking one JSON object per line
// (the PyTorch halves of the benchmarks, bench/*_torch.py), and the timer both sides use.

export class PythonPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];
  private readonly buffered: string[] = [];
  private exited: string | null = null;

  constructor(python: string, script: string) {
    this.child = spawn(python, ['-u', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(`[torch] ${d.toString()}`));
    this.child.on('error', (e) => this.fail(`could not start ${python}: ${e.message}`));
    this.child.on('exit', (code, signal) => this.fail(`${python} ${script} exited (code ${code}, signal ${signal})`));
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on('line', (line) => {
      const waiter = this.pending.shift();
      if (waiter) waiter(line);
      else this.buffered.push(line);
    });
  }

  private fail(why: string): void {
    this.exited = why;
    for (const w of this.pending.splice(0)) w(JSON.stringify({ error: why }));
  }

  /** Sends one message and waits for its reply; a reply with `error` throws. */
  async request<T>(msg: Record<string, unknown>): Promise<T> {
    if (this.exited) throw new Error(`PyTorch peer: ${this.exited}`);
    const line = await new Promise<string>((resolve) => {
      const early = this.buffered.shift();
      if (early !== undefined) resolve(early);
      else this.pending.push(resolve);
      this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    });
    const reply = JSON.parse(line) as T & { error?: string };
    if (reply.error) throw new Error(`PyTorch peer (${String(msg.cmd)} ${String(msg.case ?? '')}): ${reply.error}`);
    return reply;
  }

  /** Asks the child to quit and waits for it to exit. */
  async close(): Promise<void> {
    if (!this.exited) {
      const done = new Promise((resolve) => this.child.once('exit', resolve));
      await this.request({ cmd: 'quit' }).catch(() => undefined);
      await done;
    }
    this.lines.close();
  }
}

/**
 * The command-line options every paired benchmark takes (node:util parseArgs form): --threads,
 * --rounds, --cases, --seed, --python, --quick, --no-write. Benchmarks add their own.
 */
export const PAIRED_BENCH_OPTIONS = {
  threads: { type: 'string' },
  rounds: { type: 'string' },
  cases: { type: 'string' },
  seed: { type: 'string' },
  python: { type: 'string' },
  quick: { type: 'boolean' },
  'no-write': { type: 'boolean' },
} as const;

/** The cases named in --cases (all when absent), in that order; --quick cuts each to one warm-up and one timed iteration. */
export function selectCases<C extends { name: string; warmup: number; iters: number }>(all: readonly C[], list: string | undefined, quick: boolean): C[] {
  const wanted = list ? list.split(',') : all.map((c) => c.name);
  return wanted.map((n) => {
    const c = all.find((k) => k.name === n);
    if (!c) throw new Error(`unknown case '${n}' (have ${all.map((k) => k.name).join(', ')})`);
    return quick ? { ...c, warmup: 1, iters: 1 } : c;
  });
}

/** Throws unless `value` is an integer of at least 1 (a thread, round or process count). */
export function assertCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`bad ${what} count ${value}`);
}

/** The settings every paired benchmark reads from PAIRED_BENCH_OPTIONS (and its environment), checked. */
export function pairedBenchSettings(
  values: { threads?: string; rounds?: string; seed?: string; python?: string; quick?: boolean },
  defaultRounds: { full: number; quick: number },
): { threads: number; rounds: number; seed: number; python: string; quick: boolean } {
  const quick = values.quick ?? false;
  const threads = Number(values.threads ?? process.env.NNLOCK_BENCH_THREADS ?? os.availableParallelism());
  const rounds = Number(values.rounds ?? (quick ? defaultRounds.quick : defaultRounds.full));
  assertCount(threads, 'thread');
  assertCount(rounds, 'round');
  return { threads, rounds, seed: Number(values.seed ?? 0), python: values.python ?? process.env.NNLOCK_BENCH_PYTHON ?? '/usr/bin/python3', quick };
}

/**
 * Runs both sides of one round, ours first in even rounds and the peer first in odd ones, so that
 * neither side always gets the warmer caches or the quieter moment; `between` runs between them.
 */
export async function inAlternatingOrder(round: number, ours: () => unknown, peer: () => unknown, between?: () => unknown): Promise<void> {
  const [first, second] = round % 2 === 0 ? [ours, peer] : [peer, ours];
  await first();
  await between?.();
  await second();
}

/** Runs step `iters` times; the wall time of each run in milliseconds. */
export function timeIters(step: () => void, iters: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Lets pending N-API finalizers and timers run between rounds (see test/engine/memory.test.ts). */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The thread count and parallel backend out of libtorch's parallel_info() text, on one line. */
export function threadFacts(parallelInfo: string): string {
  return parallelInfo
    .split('\n')
    .filter((l) => /get_num_threads|backend/.test(l))
    .map((l) => l.trim())
    .join('; ');
}
