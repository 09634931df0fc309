// The service under load (issue 12): `nnlock serve` in a child process on loopback, driven by
// autocannon from this process, every response checked against the offline result of the tier
// of its credentials. The shared ResNet-20 and DnCNN-S-25 (../shared/data) are protected here
// (L1 importance, ratio 8 %, 3 tiers: tiers 0..3).
//
//   1. offline      ResNet-20 forward + softmax on pre-normalised batches in this process: a sweep of
//                   short runs at every libtorch thread count up to the cores and every batch size
//                   of 16, 32, 64 and --max-batch picks the baseline's configuration. Also the
//                   expected answer of every check image at every tier.
//   2. full load    classify only, one PNG per request, tiers mixed, --connections clients for
//                   --full-seconds; again with 16 images per JSON request, and with 4× the clients.
//                   --rounds rounds of the three, the baseline's configuration timed for
//                   --offline-seconds before the first and after every round (bench/lib/
//                   offline-rate.ts): a round's ratio = its images/s served / the mean of the
//                   baseline runs around it; the median round's ratio is the figure (target ≥ 0.8).
//   3. mixed        ResNet-20 classify and DnCNN denoise (64×64 crops of Set12, ?sigma=25, 1 request in 32) over
//                   tier tokens, API keys and anonymous requests, for --mixed-seconds (≥ 60): req/s,
//                   p50/p99 latency, errors, cross-tier leaks (a classify answer whose top class
//                   or probability is not its tier's offline one, a denoise answer whose X-PSNR is
//                   not its tier's; target 0).
//   4. memory       the child's RSS and the worker's tensor bytes (/metrics) serving ResNet-20
//                   unprotected (one tier) and protected at 4 tiers.
//
//   node --import tsx bench/serve.ts [--threads 2] [--connections 64] [--mixed-seconds 60]
//        [--full-seconds 15] [--rounds 3] [--offline-seconds 8] [--max-batch 64] [--max-wait 5] [--pipeline 2]
//        [--generator wrk|autocannon] [--no-write]
// The full-load and floor phases are driven by wrk (bench/lib/wrk.ts: it leaves the server more of
// the shared cores than autocannon), or by autocannon with --generator autocannon; the mixed phase
// by autocannon (its denoise answers are checked by their headers).
import { spawn } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { init } from '../src/tensor/init.ts';
import { type Tensor, noGrad, scope, setNumThreads, tensor } from '../src/tensor/index.ts';
import { softmax } from '../src/ops/activation.ts';
import { clamp, sub } from '../src/ops/arithmetic.ts';
import { openModel } from '../src/models/load.ts';
import { readCifar10 } from '../src/io/cifar.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { normalisationFrom } from '../src/data/normalisation.ts';
import { addGaussianNoise } from '../src/data/denoise-patches.ts';
import { psnrOfMse } from '../src/train/metrics.ts';
import { protectModel, unlockModel } from '../src/protect/index.ts';
import { hashApiKey, newApiKey } from '../src/serve/api-keys.ts';
import { fmt, machineInfo, markdownTable, median, RESULTS_DIR } from './lib/report.ts';
import { type OfflineRate, timeOffline } from './lib/offline-rate.ts';
import { buildLibrary, libraryBuild } from './lib/library.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
import { type WrkRequest, haveWrk, runWrk } from './lib/wrk.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.join(here, '..', '..', 'shared', 'data');
const BIN = path.join(here, '..', 'bin', 'nnlock.js');
const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    connections: { type: 'string', default: '64' },
    'mixed-seconds': { type: 'string', default: '60' },
    'full-seconds': { type: 'string', default: '15' },
    rounds: { type: 'string', default: '3' },
    'offline-seconds': { type: 'string', default: '8' },
    'max-batch': { type: 'string', default: '64' },
    'max-wait': { type: 'string', default: '5' },
    pipeline: { type: 'string', default: '2' },
    workers: { type: 'string', default: 'auto' },
    'server-threads': { type: 'string' },
    phases: { type: 'string', default: 'memory,full,multi,wide,mixed,floor' },
    'server-node-args': { type: 'string', default: '' },
    'server-from': { type: 'string', default: 'dist' },
    generator: { type: 'string', default: 'wrk' },
    'no-write': { type: 'boolean', default: false },
  },
});
const THREADS = Number(args.threads);
const CONNECTIONS = Number(args.connections);
const WIDE_CONNECTIONS = 4 * CONNECTIONS;
const MAX_BATCH = Number(args['max-batch']);
const ROUNDS = Number(args.rounds);
const FULL_SECONDS = Number(args['full-seconds']);
const OFFLINE_SECONDS = Number(args['offline-seconds']);
if (!(ROUNDS >= 1) || !Number.isInteger(ROUNDS)) throw new Error(`--rounds must be a positive integer, got ${args.rounds}`);
const CHECK_IMAGES = 64;
const TIERS = [0, 1, 2, 3];
const PHASES = new Set(args.phases.split(','));
const SERVER_THREADS_ARG = args['server-threads'];
/** Workers × libtorch threads fill the cores: --threads 1 on 2 cores is two workers of one thread each. */
const WORKERS = args.workers === 'auto' ? Math.max(1, Math.floor(availableParallelism() / Number(SERVER_THREADS_ARG ?? args.threads))) : Number(args.workers);
const SERVER_THREADS = Number(SERVER_THREADS_ARG ?? THREADS);
/** The load generator of the full-load and floor phases (bench/lib/wrk.ts says why wrk); the mixed phase runs autocannon. */
const GENERATOR = args.generator;
if (GENERATOR !== 'wrk' && GENERATOR !== 'autocannon') throw new Error(`--generator must be wrk or autocannon, got ${GENERATOR}`);
if (GENERATOR === 'wrk' && !(await haveWrk())) throw new Error('wrk is not installed (apt-get install wrk; scripts/setup.sh installs it): install it or run with --generator autocannon');

init({ threads: THREADS });
const log = (s: string) => process.stderr.write(`bench serve: ${s}\n`);

// ---- models and data ----
const work = mkdtempSync(path.join(tmpdir(), 'nnlock-bench-serve-'));
if (!existsSync(path.join(SHARED, 'weights', 'resnet20-cifar10.safetensors'))) throw new Error(`the shared fixtures are missing (${SHARED})`);
log(`protecting ResNet-20 and DnCNN-S-25 in ${work}`);
const resnet = await protectModel(path.join(SHARED, 'weights', 'resnet20-cifar10.safetensors'), { tiers: 3, ratio: 0.08 });
const rw = await resnet.write(path.join(work, 'resnet20.protected.safetensors'), { keys: path.join(work, 'resnet20.keys') });
const dncnn = await protectModel(path.join(SHARED, 'weights', 'dncnn-s-25.safetensors'), { tiers: 3, ratio: 0.08 });
const dw = await dncnn.write(path.join(work, 'dncnn.protected.safetensors'), { keys: path.join(work, 'dncnn.keys') });

const cifar = await readCifar10([path.join(SHARED, 'cifar10', 'test_batch.bin')]);
const IMG = 3 * 32 * 32;
const chwOf = (i: number) => cifar.images.subarray(i * IMG, (i + 1) * IMG);
async function pngOf(chw: Uint8Array, w: number, h: number, c: 1 | 3): Promise<Buffer> {
  const plane = w * h;
  const hwc = new Uint8Array(c * plane);
  for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) hwc[p * c + k] = chw[k * plane + p];
  const img = sharp(hwc, { raw: { width: w, height: h, channels: c } });
  return (c === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}
const checkPngs = await Promise.all(Array.from({ length: CHECK_IMAGES }, (_, i) => pngOf(chwOf(i), 32, 32, 3)));
const crops: { png: Buffer; clean: Float32Array }[] = [];
for (const name of ['01.png', '02.png', '03.png', '04.png']) {
  const { data } = await sharp(path.join(SHARED, 'images', 'Set12', name))
    .extract({ left: 96, top: 96, width: 64, height: 64 })
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const chw = new Uint8Array(data.subarray(0, 64 * 64));
  crops.push({ png: await pngOf(chw, 64, 64, 1), clean: Float32Array.from(chw, (v) => v / 255) });
}

// ---- 1. offline ----
async function tierModel(file: string, token: string, tier: number) {
  const f = await readSafetensors(file);
  return openModel(tier === 0 ? f : (await unlockModel(f, token, { tier })).file);
}
const master = resnet.tokens[2];
const expected: Float32Array[][] = []; // [tier][image] probabilities
/** Offline batch sizes tried: the sweep's best over every one and every thread count picks the baseline's configuration. */
const OFFLINE_BATCHES = [...new Set([16, 32, 64, MAX_BATCH])].sort((a, b) => a - b);
/** The sweep, by (libtorch threads, batch size): the best images/s and the least CPU ms per image of its rounds. */
const offline: { threads: number; batch: number; rate: number; cpuPerImage: number }[] = [];
let offlineRate = 0;
let offlineThreads = 0;
let offlineBatch = 0;
const loadAtStart = loadavg();
// The master-key model stays loaded: the baseline is timed again around every round of served phases.
const baseline = await tierModel(rw.model, master, 3);
const runOffline = (() => {
  const n = normalisationFrom(baseline.metadata);
  const largest = OFFLINE_BATCHES[OFFLINE_BATCHES.length - 1];
  const x = new Float32Array(largest * IMG);
  for (let i = 0; i < largest; i++) {
    const chw = chwOf(i % CHECK_IMAGES);
    for (let j = 0; j < IMG; j++) x[i * IMG + j] = (chw[j] / 255 - n.mean[Math.floor(j / 1024)]) / n.std[Math.floor(j / 1024)];
  }
  return (b: number) => {
    const xb = x.subarray(0, b * IMG);
    noGrad(() => scope(() => (softmax(baseline.model.forward(tensor(xb, [b, 3, 32, 32])), 1) as Tensor).toTypedArray()));
  };
})();
{
  // The sweep: every thread count up to the cores and every batch size, twice each (short runs of
  // 2048 images; the better round counts). Its best configuration is the baseline's.
  for (let round = 0; round < 2; round++)
    for (let threads = 1; threads <= availableParallelism(); threads++)
      for (const b of OFFLINE_BATCHES) {
        const r = timeOffline(runOffline, threads, b, { images: 2048 });
        let e = offline.find((o) => o.threads === threads && o.batch === b);
        if (!e) offline.push((e = { threads, batch: b, rate: 0, cpuPerImage: Number.POSITIVE_INFINITY }));
        e.rate = Math.max(e.rate, r.rate);
        e.cpuPerImage = Math.min(e.cpuPerImage, r.cpuPerImage);
        if (r.rate > offlineRate) {
          offlineRate = r.rate;
          offlineThreads = threads;
          offlineBatch = b;
        }
      }
  setNumThreads(THREADS);
  log(
    `offline sweep: ${fmt(offlineRate, 0)} images/s at best (${offlineThreads} threads, batch ${offlineBatch}; ${offline
      .map((o) => `${o.threads} thr × ${o.batch}: ${fmt(o.rate, 0)}/s, ${fmt(o.cpuPerImage, 3)} ms CPU per image`)
      .join('; ')})`,
  );
}
for (const tier of TIERS) {
  const { model, metadata } = await tierModel(rw.model, master, tier);
  const n = normalisationFrom(metadata);
  expected[tier] = Array.from({ length: CHECK_IMAGES }, (_, i) => {
    const chw = chwOf(i);
    const x = Float32Array.from(chw, (v, j) => (v / 255 - n.mean[Math.floor(j / 1024)]) / n.std[Math.floor(j / 1024)]);
    return noGrad(() => scope(() => softmax(model.forward(tensor(x, [1, 3, 32, 32])), 1).toTypedArray() as Float32Array));
  });
  model.dispose();
}
const expectedPsnr: number[][] = []; // [tier][crop]
for (const tier of TIERS) {
  const { model } = await tierModel(dw.model, dncnn.tokens[2], tier);
  expectedPsnr[tier] = crops.map((c) => {
    const noisy = addGaussianNoise(c.clean, 25, 0);
    const out = noGrad(() => scope(() => clamp(sub(tensor(noisy, [1, 1, 64, 64]), model.forward(tensor(noisy, [1, 1, 64, 64]))), 0, 1).toTypedArray() as Float32Array));
    let se = 0;
    for (let i = 0; i < out.length; i++) se += (out[i] - c.clean[i]) ** 2;
    return psnrOfMse(se / out.length);
  });
  model.dispose();
}
const argmax = (a: Float32Array) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
// The check can only see a leak between tiers whose answers differ: count the pairs it tells apart.
let distinct = 0;
let pairs = 0;
for (const a of TIERS)
  for (const b of TIERS)
    if (a < b)
      for (let i = 0; i < CHECK_IMAGES; i++) {
        pairs++;
        if (Math.abs(expected[a][i][argmax(expected[a][i])] - expected[b][i][argmax(expected[a][i])]) > 1e-3) distinct++;
      }
log(`the leak check tells ${distinct} of ${pairs} (tier pair, image) answers apart`);

// ---- the server ----
const apiKeys = { t1: newApiKey(), t2: newApiKey() };
function writeConfig(name: string, models: unknown[]): string {
  const file = path.join(work, name);
  writeFileSync(
    file,
    JSON.stringify({
      models,
      apiKeys: [
        { name: 'bench-t1', sha256: hashApiKey(apiKeys.t1), tier: 1 },
        { name: 'bench-t2', sha256: hashApiKey(apiKeys.t2), tier: 2 },
      ],
      limits: { rateLimit: false, imagesPerRequest: 64, requestTimeoutMs: 60_000 },
      batching: { maxBatch: MAX_BATCH, maxWaitMs: Number(args['max-wait']), workers: WORKERS, threads: SERVER_THREADS, pipeline: Number(args.pipeline) },
      port: 0,
    }),
  );
  return file;
}

// The server runs what an installed package runs: the compiled dist/ (built here first, so it is
// the checkout's code); --server-from sources runs the TypeScript through tsx (bench/lib/library.ts).
const SERVER_FROM = libraryBuild(args['server-from'], '--server-from');
buildLibrary(SERVER_FROM, log);

/** `nnlock serve` with a config, or (argv given) another server that prints {"address"} when it listens. */
async function startServer(config: string, argv?: string[]) {
  const nodeArgs = args['server-node-args'].split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, argv ?? [...nodeArgs, BIN, 'serve', '--config', config, '--json', '--log', 'silent'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NNLOCK_THREADS: String(SERVER_THREADS), NNLOCK_DIST: SERVER_FROM === 'dist' ? '1' : '0' },
  });
  let out = '';
  const address = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      try {
        resolve(JSON.parse(out).address);
      } catch {}
    });
    child.on('exit', (code) => reject(new Error(`nnlock serve exited with ${code}`)));
  });
  const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
  const stop = () =>
    new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
  return { address, rss, stop, pid: child.pid! };
}

/** CPU seconds of each thread of a process so far, by thread id (Linux /proc; clock ticks at 100 Hz). */
function threadCpu(pid: number): Map<string, { name: string; seconds: number }> {
  const out = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { name: Number(tid) === pid ? 'main' : name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 });
    } catch {}
  }
  return out;
}

/** CPU seconds per thread name between two threadCpu() samples. */
function cpuByName(before: ReturnType<typeof threadCpu>, after: ReturnType<typeof threadCpu>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tid, a] of after) out[a.name] = (out[a.name] ?? 0) + a.seconds - (before.get(tid)?.seconds ?? 0);
  return out;
}

const credential = (tier: number, i: number): Record<string, string> => {
  if (tier === 0) return {};
  const byKey = i % 2 === 0 && tier < 3; // half of tiers 1 and 2 by API key, the rest by token
  return { authorization: `Bearer ${byKey ? (tier === 1 ? apiKeys.t1 : apiKeys.t2) : resnet.tokens[tier - 1]}` };
};

interface Check {
  checked: number;
  wrong: number;
  /** Wrong answers that are another tier's answer: cross-tier leaks. */
  otherTier: number;
}

function classifyCheck(tier: number, image: number, body: string, c: Check, perImage = false): boolean {
  c.checked++;
  let ok = false;
  let other = false;
  try {
    const r = JSON.parse(body);
    const tops = perImage ? r.results.map((x: { top: unknown }) => x.top) : [r.top];
    ok = r.tier === tier;
    tops.forEach((top: { index: number; probability: number }[], k: number) => {
      const e = expected[tier][(image + k) % CHECK_IMAGES];
      if (top[0].index !== argmax(e) || Math.abs(top[0].probability - e[top[0].index]) > 1e-4) {
        ok = false;
        for (const t of TIERS) if (t !== tier && Math.abs(top[0].probability - expected[t][(image + k) % CHECK_IMAGES][top[0].index]) < 1e-5) other = true;
      }
    });
  } catch {
    ok = false;
  }
  if (!ok) c.wrong++;
  if (other) c.otherTier++;
  return ok;
}

interface Phase {
  name: string;
  connections: number;
  seconds: number;
  requests: number;
  images: number;
  rps: number;
  imagesPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  check: Check;
  /** CPU seconds during the phase: the load generator (this process), the server by thread name; and the phase's wall time. */
  cpu: { wall: number; generator: number; server: Record<string, number> };
  /** ResNet-20 images per batch the workers ran, on average. */
  meanBatch: number;
}

/** ResNet-20's batches and their images so far (nnlock_batch_size in /metrics, every tier). */
async function batchTotals(address: string): Promise<{ batches: number; images: number }> {
  const text = await (await fetch(`${address}/metrics`)).text();
  let batches = 0;
  let images = 0;
  for (const m of text.matchAll(/^nnlock_batch_size_(sum|count)\{model="resnet"[^}]*\} (\S+)$/gm)) {
    if (m[1] === 'sum') images += Number(m[2]);
    else batches += Number(m[2]);
  }
  return { batches, images };
}

/** A request of a full-load or floor phase: for autocannon, and as wrk's Lua takes it (`spec`). */
type LoadRequest = autocannon.Request & { spec?: WrkRequest };

async function load(
  name: string,
  server: { address: string; pid: number },
  seconds: number,
  requests: LoadRequest[],
  imagesPerRequest: (i: number) => number,
  check: Check,
  after?: () => Promise<void>,
  connections = CONNECTIONS,
): Promise<Phase> {
  const specs = requests.every((r) => r.spec) ? requests.map((r) => r.spec!) : null;
  if (GENERATOR === 'wrk' && specs) return loadWrk(name, server, seconds, specs, check, after, connections);
  log(`${name}: ${connections} connections for ${seconds} s (autocannon)`);
  let images = 0;
  const counted = requests.map((r, i) => ({
    ...r,
    // Only answers that pass the check count as served images.
    onResponse: (status: number, body: string, ctx: object, headers: IncomingHttpHeaders | undefined) => {
      const ok = (r.onResponse as (s: number, b: string, c: object, h: IncomingHttpHeaders | undefined) => boolean)(status, body, ctx, headers);
      if (status === 200 && ok) images += imagesPerRequest(i);
    },
  }));
  // A check is shared by the rounds of a phase: the phase reports its own part of the counts.
  const checkBefore = { ...check };
  const batchesBefore = await batchTotals(server.address);
  const serverBefore = threadCpu(server.pid);
  const generatorBefore = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({ url: server.address, connections, duration: seconds, timeout: 60, requests: counted });
  const wall = (performance.now() - t0) / 1000;
  const generator = process.cpuUsage(generatorBefore);
  const serverCpu = cpuByName(serverBefore, threadCpu(server.pid));
  await after?.();
  await drained(server.address);
  const batchesAfter = await batchTotals(server.address);
  return {
    name,
    connections,
    seconds,
    requests: result.requests.total,
    images,
    // Over the phase's measured wall time (a little over --seconds: autocannon's start and stop).
    rps: result.requests.total / wall,
    imagesPerSecond: images / wall,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    check: { checked: check.checked - checkBefore.checked, wrong: check.wrong - checkBefore.wrong, otherTier: check.otherTier - checkBefore.otherTier },
    cpu: { wall, generator: (generator.user + generator.system) / 1e6, server: serverCpu },
    meanBatch: (batchesAfter.images - batchesBefore.images) / Math.max(1, batchesAfter.batches - batchesBefore.batches),
  };
}

/** load() with wrk as the generator: the same phase, figures and checks (bench/lib/wrk.ts). */
async function loadWrk(
  name: string,
  server: { address: string; pid: number },
  seconds: number,
  requests: WrkRequest[],
  check: Check,
  after: (() => Promise<void>) | undefined,
  connections: number,
): Promise<Phase> {
  log(`${name}: ${connections} connections for ${seconds} s (wrk)`);
  const batchesBefore = await batchTotals(server.address);
  const serverBefore = threadCpu(server.pid);
  const ownBefore = process.cpuUsage();
  const t0 = performance.now();
  const w = await runWrk({ url: server.address, connections, seconds, requests, expected, dir: work });
  const wall = (performance.now() - t0) / 1000;
  const own = process.cpuUsage(ownBefore);
  const serverCpu = cpuByName(serverBefore, threadCpu(server.pid));
  await after?.();
  await drained(server.address);
  const batchesAfter = await batchTotals(server.address);
  check.checked += w.checked;
  check.wrong += w.wrong;
  check.otherTier += w.otherTier;
  return {
    name,
    connections,
    seconds,
    requests: w.requests,
    images: w.images,
    rps: w.requests / wall,
    imagesPerSecond: w.images / wall,
    p50: w.p50,
    p99: w.p99,
    errors: w.errors,
    non2xx: w.non2xx,
    check: { checked: w.checked, wrong: w.wrong, otherTier: w.otherTier },
    // wrk's CPU, and this process's while it waited (next to nothing).
    cpu: { wall, generator: w.cpuSeconds + (own.user + own.system) / 1e6, server: serverCpu },
    meanBatch: (batchesAfter.images - batchesBefore.images) / Math.max(1, batchesAfter.batches - batchesBefore.batches),
  };
}

/** Waits until the server has no images queued (answers to clients that left are dropped, but a batch may still run). */
async function drained(address: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const text = await (await fetch(`${address}/metrics`)).text();
    if (/^nnlock_queued_images 0$/m.test(text)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 1000));
}

const phases: Phase[] = [];
/** The full-load phases (kind full, multi or wide), every round of each. */
const rounds: (Phase & { kind: string; round: number })[] = [];
/** The baseline's configuration timed before the first round and after each: round r lies between brackets[r] and brackets[r + 1]. */
const brackets: OfflineRate[] = [];
function timeBaseline(): void {
  const r = timeOffline(runOffline, offlineThreads, offlineBatch, { seconds: OFFLINE_SECONDS });
  setNumThreads(THREADS);
  brackets.push(r);
  log(`offline baseline (${offlineThreads} threads, batch ${offlineBatch}, ${fmt(r.seconds, 1)} s): ${fmt(r.rate, 0)} images/s`);
}
/** The HTTP floor phase (5.), apart from the served phases. */
let floor: Phase | undefined;
/** The server's event-loop delay during the mixed phase, ms. */
let eventLoop = { p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
const memory: { what: string; rss: number; modelBytes: number; tierBytes: number }[] = [];
async function tensorBytes(address: string, model: string) {
  const text = await (await fetch(`${address}/metrics`)).text();
  const get = (part: string) => Number(new RegExp(`nnlock_model_tensor_bytes\\{model="${model}",part="${part}"\\} (\\d+)`).exec(text)?.[1] ?? Number.NaN);
  return { modelBytes: get('model'), tierBytes: get('tiers') };
}

// ---- 4a. memory of one tier (the plain model) ----
if (PHASES.has('memory')) {
  const s = await startServer(writeConfig('plain.json', [{ name: 'resnet', weights: path.join(SHARED, 'weights', 'resnet20-cifar10.safetensors') }]));
  for (let i = 0; i < 20; i++) await fetch(`${s.address}/v1/models/resnet/classify`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: checkPngs[i] });
  memory.push({ what: 'ResNet-20, 1 tier (unprotected)', rss: s.rss(), ...(await tensorBytes(s.address, 'resnet')) });
  await s.stop();
}

// ---- 4b. memory of four tiers (the same model protected, tiers 0..3, nothing else served) ----
if (PHASES.has('memory')) {
  const s = await startServer(writeConfig('four.json', [{ name: 'resnet', weights: rw.model, keys: rw.keys }]));
  for (let i = 0; i < 20; i++) {
    await fetch(`${s.address}/v1/models/resnet/classify`, { method: 'POST', headers: { 'content-type': 'image/png', ...credential(TIERS[i % 4], 1) }, body: checkPngs[i] });
  }
  memory.push({ what: 'ResNet-20, 4 tiers (protected, 0..3)', rss: s.rss(), ...(await tensorBytes(s.address, 'resnet')) });
  await s.stop();
}

// ---- 2, 3. the protected models under load ----
{
  const s = await startServer(
    writeConfig('tiers.json', [
      { name: 'resnet', weights: rw.model, keys: rw.keys },
      { name: 'dncnn', weights: dw.model, keys: dw.keys },
    ]),
  );
  for (const tier of TIERS) await fetch(`${s.address}/v1/models/resnet/classify`, { method: 'POST', headers: { 'content-type': 'image/png', ...credential(tier, 1) }, body: checkPngs[0] });

  const single: LoadRequest[] = [];
  const fullCheck: Check = { checked: 0, wrong: 0, otherTier: 0 };
  for (let i = 0; i < 256; i++) {
    const tier = TIERS[i % 4];
    const image = (i * 7) % CHECK_IMAGES;
    const headers = { 'content-type': 'image/png', ...credential(tier, i >> 2) };
    single.push({
      method: 'POST',
      path: '/v1/models/resnet/classify',
      headers,
      body: checkPngs[image],
      onResponse: (_status, body) => classifyCheck(tier, image, body, fullCheck),
      spec: { path: '/v1/models/resnet/classify', headers, body: checkPngs[image], kind: 'classify', tier, images: [image] },
    });
  }

  const multi: LoadRequest[] = [];
  const multiCheck: Check = { checked: 0, wrong: 0, otherTier: 0 };
  for (let i = 0; i < 16; i++) {
    const tier = TIERS[i % 4];
    const image = (i * 16) % CHECK_IMAGES;
    const body = JSON.stringify({ images: Array.from({ length: 16 }, (_, k) => checkPngs[(image + k) % CHECK_IMAGES].toString('base64')) });
    const headers = { 'content-type': 'application/json', ...credential(tier, i >> 2) };
    multi.push({
      method: 'POST',
      path: '/v1/models/resnet/classify',
      headers,
      body,
      onResponse: (_status, b) => classifyCheck(tier, image, b, multiCheck, true),
      spec: { path: '/v1/models/resnet/classify', headers, body, kind: 'classify', tier, images: Array.from({ length: 16 }, (_, k) => (image + k) % CHECK_IMAGES) },
    });
  }

  // More clients than batch slots: with 64 connections over 4 tiers a tier's batch holds at most 16 images.
  const wideCheck: Check = { checked: 0, wrong: 0, otherTier: 0 };
  const wideRequests = single.map((r, i) => ({ ...r, onResponse: (_s: number, body: string) => classifyCheck(TIERS[i % 4], (i * 7) % CHECK_IMAGES, body, wideCheck) }));

  // The full-load phases in rounds, the baseline timed before the first and after every round
  // (bench/lib/offline-rate.ts): each served figure has the baseline of its own minutes.
  const kinds = [
    { kind: 'full', name: 'full load: classify, 1 PNG per request', requests: single, perRequest: 1, check: fullCheck, connections: CONNECTIONS },
    { kind: 'multi', name: 'full load: classify, 16 PNGs per JSON request', requests: multi, perRequest: 16, check: multiCheck, connections: CONNECTIONS },
    { kind: 'wide', name: `full load: classify, 1 PNG per request, ${WIDE_CONNECTIONS} connections`, requests: wideRequests, perRequest: 1, check: wideCheck, connections: WIDE_CONNECTIONS },
  ].filter((k) => PHASES.has(k.kind));
  if (kinds.length > 0) {
    timeBaseline();
    for (let round = 0; round < ROUNDS; round++) {
      for (const k of kinds) {
        const p = await load(k.name, s, FULL_SECONDS, k.requests, () => k.perRequest, k.check, undefined, k.connections);
        rounds.push({ ...p, kind: k.kind, round });
      }
      timeBaseline();
    }
  }

  const mixed: autocannon.Request[] = [];
  const mixedCheck: Check = { checked: 0, wrong: 0, otherTier: 0 };
  for (let i = 0; i < 320; i++) {
    const tier = TIERS[i % 4];
    if (i % 32 === 5) {
      const crop = (i >> 5) % crops.length;
      const auth = tier === 0 ? {} : { authorization: `Bearer ${dncnn.tokens[tier - 1]}` };
      mixed.push({
        method: 'POST',
        path: '/v1/models/dncnn/denoise?sigma=25',
        headers: { 'content-type': 'image/png', ...auth },
        body: crops[crop].png,
        onResponse: (st, _b, _c, h) => {
          mixedCheck.checked++;
          const psnr = Number(h?.['x-psnr']);
          const ok = st === 200 && h?.['x-tier'] === String(tier) && Math.abs(psnr - expectedPsnr[tier][crop]) < 0.01;
          if (!ok) {
            mixedCheck.wrong++;
            if (TIERS.some((t) => t !== tier && Math.abs(psnr - expectedPsnr[t][crop]) < 0.001)) mixedCheck.otherTier++;
          }
          return ok;
        },
      });
    } else {
      const image = (i * 5) % CHECK_IMAGES;
      mixed.push({
        method: 'POST',
        path: '/v1/models/resnet/classify',
        headers: { 'content-type': 'image/png', ...credential(tier, i >> 2) },
        body: checkPngs[image],
        onResponse: (_status, body) => classifyCheck(tier, image, body, mixedCheck),
      });
    }
  }
  await fetch(`${s.address}/metrics`); // prom-client restarts its event-loop delay histogram on each scrape
  const readLag = async () => {
    const metrics = await (await fetch(`${s.address}/metrics`)).text();
    const lag = (q: string) => Number(new RegExp(`^nnlock_process_nodejs_eventloop_lag_${q}_seconds (\\S+)$`, 'm').exec(metrics)?.[1]) * 1000;
    eventLoop = { p50: lag('p50'), p99: lag('p99'), max: lag('max') };
  };
  if (PHASES.has('mixed')) phases.push(await load('mixed: tiers 0..3, ResNet-20 classify + DnCNN denoise (1 in 32)', s, Number(args['mixed-seconds']), mixed, () => 1, mixedCheck, readLag));
  const code = await s.stop();
  log(`server stopped (exit ${code})`);

  // ---- 5. the HTTP floor: the full phase's requests to a bare fastify route (bench/lib/http-floor-server.ts) ----
  if (PHASES.has('floor')) {
    const f = await startServer('', ['--import', 'tsx', path.join(here, 'lib', 'http-floor-server.ts')]);
    const floorCheck: Check = { checked: 0, wrong: 0, otherTier: 0 };
    const bare = single.map((r) => ({
      ...r,
      spec: { ...r.spec!, kind: 'status' as const },
      onResponse: (status: number) => {
        floorCheck.checked++;
        if (status !== 200) floorCheck.wrong++;
        return status === 200;
      },
    }));
    floor = await load('HTTP floor: the same 1-PNG requests to a bare fastify route (no decoding, no model)', f, FULL_SECONDS, bare, () => 1, floorCheck);
    log(`floor server stopped (exit ${await f.stop()})`);
  }
}

// ---- report ----
/** Several rounds of one kind of phase as one: counts and CPU summed, latency the median round's p50 and the highest p99. */
function combine(ps: Phase[]): Phase {
  const sum = (f: (p: Phase) => number) => ps.reduce((n, p) => n + f(p), 0);
  const server: Record<string, number> = {};
  for (const p of ps) for (const [k, v] of Object.entries(p.cpu.server)) server[k] = (server[k] ?? 0) + v;
  const wall = sum((p) => p.cpu.wall);
  const batches = sum((p) => p.images / Math.max(1e-9, p.meanBatch));
  return {
    ...ps[0],
    seconds: sum((p) => p.seconds),
    requests: sum((p) => p.requests),
    images: sum((p) => p.images),
    rps: sum((p) => p.requests) / wall,
    imagesPerSecond: sum((p) => p.images) / wall,
    p50: median(ps.map((p) => p.p50)),
    p99: Math.max(...ps.map((p) => p.p99)),
    errors: sum((p) => p.errors),
    non2xx: sum((p) => p.non2xx),
    check: { checked: sum((p) => p.check.checked), wrong: sum((p) => p.check.wrong), otherTier: sum((p) => p.check.otherTier) },
    cpu: { wall, generator: sum((p) => p.cpu.generator), server },
    meanBatch: sum((p) => p.images) / Math.max(1, batches),
  };
}
/** Per kind of full-load phase: each round's served rate over the baseline timed around it, and the median of those. */
const byKind = [...new Set(rounds.map((r) => r.kind))].map((kind) => {
  const own = rounds.filter((r) => r.kind === kind);
  const perRound = own.map((r) => {
    const baselineRate = (brackets[r.round].rate + brackets[r.round + 1].rate) / 2;
    return { round: r.round, served: r.imagesPerSecond, baseline: baselineRate, ratio: r.imagesPerSecond / baselineRate };
  });
  return {
    kind,
    name: own[0].name,
    combined: combine(own),
    perRound,
    /** The headline: the median over rounds of served / the baseline of the same round. */
    pairedRatio: median(perRound.map((r) => r.ratio)),
    lowestPairedRatio: Math.min(...perRound.map((r) => r.ratio)),
    /** The conservative figure: the median round's served rate over the sweep's best short run. */
    ratioToSweepBest: median(perRound.map((r) => r.served)) / offlineRate,
  };
});
phases.unshift(...byKind.map((k) => k.combined));
for (const k of byKind)
  log(
    `${k.name}: paired ratio ${fmt(k.pairedRatio, 2)} (rounds ${k.perRound.map((r) => `${fmt(r.served, 0)}/${fmt(r.baseline, 0)} = ${fmt(r.ratio, 2)}`).join(', ')}), ${fmt(k.ratioToSweepBest, 2)} of the sweep's best`,
  );
for (const p of phases) {
  const perImage = (cpu: number) => `${fmt((1000 * cpu) / Math.max(1, p.images), 3)} ms`;
  const server = Object.entries(p.cpu.server)
    .filter(([, v]) => v >= 0.05)
    .map(([k, v]) => `${k} ${perImage(v)}`);
  log(
    `${p.name}: ${fmt(p.imagesPerSecond, 0)} images/s checked (${fmt(p.imagesPerSecond / offlineRate, 2)} of the sweep's best), batches of ${fmt(p.meanBatch, 1)}; CPU per image: generator ${perImage(p.cpu.generator)}, server ${server.join(', ')}`,
  );
}
/** CPU ms per request of the floor phase: the generator, and every thread of the bare server. */
const floorCpu = floor && {
  generator: (1000 * floor.cpu.generator) / Math.max(1, floor.images),
  server: (1000 * Object.values(floor.cpu.server).reduce((a, b) => a + b, 0)) / Math.max(1, floor.images),
};
/** Offline's lowest CPU per image at one libtorch thread: what a worker of one thread costs at best. */
const workerBest = Math.min(...offline.filter((o) => o.threads === 1).map((o) => o.cpuPerImage));
/** CPU ms per image of the offline baseline's configuration (its threads and batch size). */
const baselineCpu = offline.find((o) => o.threads === offlineThreads && o.batch === offlineBatch)?.cpuPerImage ?? Number.NaN;
/**
 * The highest ratio one image per request can reach here if nnlock's own per-request work were
 * free, in CPU per image on both sides (so that other load on the machine cancels out): the
 * baseline's CPU per image over (a worker's best + HTTP's floor per request).
 */
const floorBound = floorCpu && baselineCpu / (workerBest + floorCpu.generator + floorCpu.server);
if (floor && floorCpu)
  log(
    `${floor.name}: ${fmt(floor.rps, 0)} req/s, CPU per request: generator ${fmt(floorCpu.generator, 3)} ms, server ${fmt(floorCpu.server, 3)} ms; one image per request can reach at most ${fmt(floorBound!, 2)} of offline here`,
  );
if (['memory', 'full', 'multi', 'wide', 'mixed', 'floor'].some((p) => !PHASES.has(p))) {
  log('not every phase ran (--phases): nothing written');
  process.exit(0);
}
// What profiling found (2026-12-01 and 12-02, by hand: not measured by this run), kept with the results.
const PROFILE_NOTES = [
  '## Where the time went (profiled 2026-12-01 and 12-02, on the shared machine)',
  '',
  'Profiles: `node --import tsx bench/serve.ts --threads 1 --full-seconds 10 --phases full,multi --server-node-args="--cpu-prof --cpu-prof-dir=DIR"` (V8 CPU profiles of the server\'s main thread and workers), the per-thread CPU table above, and `bench/serve-pool.ts` (the inference pool driven without HTTP). Found, in order of cost:',
  '',
  "- **Image decoding, 15:20-16:20.** sharp (libvips) took about 0.6 ms of CPU per 32×32 PNG, as much as ResNet-20's forward pass of one image, and `Float32Array.from(data, v => v / 255)` another 24 % of the main thread. Small 8-bit PNGs were then decoded with fast-png and the input made by a 256-entry table look-up.",
  "- **Image decoding, 18:20-18:30.** fast-png's pure-JS inflate (fflate) was still about 2/3 of decoding and 20 % of the main thread's busy samples (its output-buffer growth and Huffman tables alone 11 %): 150-200 µs per CIFAR PNG against 28 µs for Node's native `zlib.inflateSync`. `src/serve/png.ts` now inflates with zlib and undoes the row filters itself (58 µs per PNG in all, against 203 µs through fast-png, same loaded run). The main thread's CPU per image with 16 PNGs per request fell from 0.26-0.29 ms to 0.15-0.18 ms.",
  "- **The workers against offline.** Driven without HTTP (`bench/serve-pool.ts`, one request = one batch), two workers of one thread cost 1.09-1.27 ms of CPU per image against 1.10-1.13 ms offline in the same process (18:12-18:14, load 2.5-3): the pool, its messages and copies are not the gap. Decoding PNGs on the main thread meanwhile did not raise the workers' cost measurably (1.16-1.18 against 1.13-1.27 ms). What moves it is the machine: offline itself costs 1.09-1.13 ms per image on a quiet machine and 1.33-1.41 ms at load average 7-9, and the served phases run with every core busy (workers, the main thread and the load generator).",
  "- **Tier switches.** A batch of another tier than the worker's last one first puts that tier's kernels into the model. Before nearly every batch under mixed load; it cost 0.1-0.2 ms of CPU per image in batches of 16 (1.7-3 ms per switch, 38 index_puts for ResNet-20's 19 protected layers). Now a switch is one index_put per layer (src/serve/worker.ts).",
  '- **Batch size.** Offline, batches of 16, 32 and 64 cost the same per image on a quiet machine (1.128, 1.122, 1.127 ms at 18:13); under load the smaller ones cost less (1.18 against 1.41 ms at load 8). The baseline is the best over batch sizes and thread counts.',
  "- **One inference thread.** One worker at one libtorch thread can use one core, while the baseline may use both: workers × threads = cores (now the default). One worker of two threads collapses as soon as anything else runs on the machine (libtorch's OpenMP threads wait for each other).",
  "- **The load generator.** autocannon with a check of every answer costs about as much per request as the server's main thread; with one image per request it takes a sizeable share of the two cores (table above). With 16 images per request it is a few percent.",
  "- **Per-request work on the main thread, 21:05-22:05 (profiles of the main thread at load 3-7, so shares, not times).** With one PNG per request: checking the same tier tokens again 7 % of its busy samples (now remembered by their SHA-256), an AbortController per request 3 % (now a listener on the response's close), the float32 input of every image and the pool's copy of it a large part of the 5-14 % in garbage collection (pixels now go to the workers as bytes, src/serve/pixel-table.ts), tsx's `__name()` wrapper at every closure 2 % (the bench now runs the server from dist/, as installed). What is left is spread thin: PNG decoding about 15 %, fastify and Node's HTTP about 25 %, the pool about 10 %.",
  "- **Dispatching without waiting under load, tried 23:48 and dropped.** With one PNG per request the workers left about 9 % of the machine idle (the CPU table), so the pool was changed to hand an idle worker the oldest queue at once whenever another worker was busy, instead of waiting for maxWaitMs. Batches fell from 18.9 to 14.6 images on average (many far smaller), the workers' CPU per image rose from 1.29 to 1.79 ms and the paired ratio fell from 0.74 to 0.58 (two rounds, `--phases full,multi,wide --rounds 2`): an idle gap costs less than the small batches that fill it. The pool waits as before.",
  "- **The reference BLAS, found 2026-12-02 05:05.** Driven without HTTP (`bench/serve-pool.ts --batches 1,4,16,64`), a batch of one ResNet-20 image cost the workers 22 ms of CPU and a batch of four 1.4 ms per image, against 1.1 ms in batches of 16. Debian's libtorch calls whatever libblas.so.3 resolves to, and without OpenBLAS that is netlib's reference BLAS; libtorch sends a convolution of one image (and every linear layer) through BLAS, not oneDNN (PyTorch on the same machine: one 16-channel 32×32 convolution 0.98 ms for one image, 0.18 ms for two). `scripts/setup.sh` now installs libopenblas0-openmp: a batch of one costs 3.0 ms per image, 16 and 64 are unchanged, and the 2-thread offline baseline, whose classifier layer is BLAS too, rose from about 1,300 to about 1,550 images/s in the next runs. The dropped work-conserving dispatch above was measured with the reference BLAS.",
  "- **Pipelined dispatch, 2026-12-02 05:23-05:41.** A worker may hold its next batch while it runs one (`batching.pipeline`, default 2), so that it need not wait for its answer to reach the busy main thread and the next batch to come back. Sent as soon as a queue was ready, the second batch cut batches from 19 to 13 images; it is now sent within 2 ms of the worker's expected finish (the pool learns each model's ms per input value from the workers' own timings), which keeps 16-18. Two runs of each in alternation (`--phases full --rounds 2 --pipeline 1|2`) give 0.69-0.84 with pipelining and 0.68-0.77 without: inside this machine's noise. By the CPU table the machine was 89-95 % busy either way, so the round trip was not what held one PNG per request below 0.8; what does is the CPU of HTTP, the load generator and nnlock's main thread (together 0.27-0.34 ms per image beside the workers' 1.2-1.5).",
  '- **Three workers on two cores, tried 06:00.** Oversubscribing the cores to fill the last idle moments: 0.74 against 0.79 with two (`--workers 3`, one run each).',
  '- **The HTTP floor.** A bare fastify route answering the same requests costs the generator and the server about 0.11 ms of CPU per request together (floor section above): one image per request could reach about 0.9 of offline here even if nnlock did nothing else per request.',
].join('\n');
const mixedPhase = phases[phases.length - 1];
const kindOf = (kind: string) => byKind.find((k) => k.kind === kind)!;
const ratio = kindOf('full').pairedRatio;
const ratioMulti = kindOf('multi').pairedRatio;
const ratioWide = kindOf('wide').pairedRatio;
const mib = (b: number) => `${fmt(b / 2 ** 20, 1)} MiB`;
const cores = availableParallelism();
/** Share of the machine's cores a phase's CPU seconds kept busy. */
const share = (p: Phase, cpu: number) => `${fmt((100 * cpu) / (p.cpu.wall * cores), 0)} %`;
const workerCpu = (p: Phase) => Object.entries(p.cpu.server).reduce((n, [k, v]) => (k === 'node' ? n + v : n), 0);
const otherCpu = (p: Phase) => Object.entries(p.cpu.server).reduce((n, [k, v]) => (k !== 'node' && k !== 'main' ? n + v : n), 0);
const perImage = (p: Phase, cpu: number) => fmt((1000 * cpu) / Math.max(1, p.images), 3);
/** How the load was generated, for the report. */
const GENERATOR_TEXT =
  GENERATOR === 'wrk'
    ? "for the full-load and floor phases wrk, one thread per tier whose connections send only that tier's requests, as clients that each hold one credential (bench/lib/wrk.ts), and for the mixed phase autocannon in this process, every connection through the tiers and models in turn"
    : 'autocannon in this process for every phase, every connection through the tiers in turn';
const md = [
  '# Serving benchmark (`bench/serve.ts`)',
  '',
  `\`node --import tsx bench/serve.ts ${process.argv.slice(2).join(' ')}\`: \`nnlock serve\` in a child process on loopback; the load generator (its CPU is measured apart) ${GENERATOR_TEXT}; ${CONNECTIONS} connections; the server runs ${WORKERS} inference worker${WORKERS > 1 ? 's' : ''} at ${SERVER_THREADS} libtorch thread${SERVER_THREADS > 1 ? 's' : ''} each; batching max ${MAX_BATCH} images, wait ${args['max-wait']} ms, ${args.pipeline} batch${args.pipeline === '1' ? '' : 'es'} per worker at once (pipeline). ResNet-20 and DnCNN-S-25 from ../shared/data, protected here (L1, ratio 8 %, 3 tiers).`,
  `Machine: ${machineInfo().cpuModel}, ${cores} cores available, load average at the start ${loadAtStart.map((l) => fmt(l, 2)).join(' / ')} and at the end ${machineInfo().loadAverage.join(' / ')} (the machine is shared). ${new Date().toISOString()}.`,
  '',
  '## Throughput of the served ResNet-20 against offline batch evaluation (same run)',
  '',
  `The baseline is offline batch evaluation in this process: forward + softmax on pre-normalised tensors. A sweep of short runs (2048 images, each configuration twice) over 1..${cores} libtorch threads and batches of ${OFFLINE_BATCHES.join(', ')} picks its configuration (best: ${offlineThreads} thread${offlineThreads > 1 ? 's' : ''}, batch ${offlineBatch}, ${fmt(offlineRate, 0)} images/s in its best short run). That configuration is then timed for ${OFFLINE_SECONDS} s before the first round of served phases and after every round (${ROUNDS} rounds of ${FULL_SECONDS} s per phase): a round's **paired ratio** is its served images/s over the mean of the two baseline runs around it, so that both sides come from the same minutes of this shared machine. The headline is the median round's paired ratio; "to the sweep's best" divides the median round's served rate by the sweep's single best short run instead, a baseline biased upwards (the best of ${2 * offline.length} noisy runs) kept as the conservative figure.`,
  '',
  markdownTable(
    ['phase', 'served images/s, each round', 'baseline images/s around each round', 'paired ratio, each round', 'paired ratio (median)', 'lowest round', "to the sweep's best"],
    byKind.map((k) => [
      k.name,
      k.perRound.map((r) => fmt(r.served, 0)).join(', '),
      k.perRound.map((r) => fmt(r.baseline, 0)).join(', '),
      k.perRound.map((r) => fmt(r.ratio, 2)).join(', '),
      `**${fmt(k.pairedRatio, 2)}**`,
      fmt(k.lowestPairedRatio, 2),
      fmt(k.ratioToSweepBest, 2),
    ]),
    [false, true, true, true, true, true, true],
  ),
  '',
  `Baseline runs (${offlineThreads} thread${offlineThreads > 1 ? 's' : ''}, batch ${offlineBatch}, ${OFFLINE_SECONDS} s each, in order): ${brackets.map((b) => fmt(b.rate, 0)).join(', ')} images/s. Target: ratio ≥ 0.8 at full load. Served images/s count only answers that passed the check below. The load generator runs on the same cores as the server; the CPU table says how much of them it took.`,
  '',
  'The sweep (short runs, the better of two per configuration):',
  '',
  markdownTable(
    ['offline configuration', 'images/s', 'CPU ms per image', "to the sweep's best"],
    offline.map((o) => [`${o.threads} thread${o.threads > 1 ? 's' : ''}, batches of ${o.batch}`, fmt(o.rate, 0), fmt(o.cpuPerImage, 3), fmt(o.rate / offlineRate, 2)]),
    [false, true, true, true],
  ),
  '',
  '## Where the CPU goes (per served image, in ms, and share of the machine)',
  '',
  markdownTable(
    ['phase', 'images per batch', 'load generator', 'server main thread', 'inference workers', 'server, other threads (libuv, V8)'],
    phases.map((p) => [
      p.name,
      fmt(p.meanBatch, 1),
      `${perImage(p, p.cpu.generator)} (${share(p, p.cpu.generator)})`,
      `${perImage(p, p.cpu.server.main ?? 0)} (${share(p, p.cpu.server.main ?? 0)})`,
      `${perImage(p, workerCpu(p))} (${share(p, workerCpu(p))})`,
      `${perImage(p, otherCpu(p))} (${share(p, otherCpu(p))})`,
    ]),
    [false, true, true, true, true, true],
  ),
  '',
  `Offline CPU per image, for comparison: ${offline.map((o) => `${fmt(o.cpuPerImage, 3)} ms at ${o.threads} thread${o.threads > 1 ? 's' : ''} in batches of ${o.batch}`).join(', ')}. With 64 clients spread over 4 tiers a tier's batch holds at most 16 images when each request carries one. CPU seconds are read from /proc per thread of the server, and for the generator from /proc (wrk, a child process) or process.cpuUsage() (autocannon, in this process).`,
  '',
  '## Load phases',
  '',
  markdownTable(
    ['phase', 's', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'checked', 'wrong answers', 'cross-tier leaks'],
    [...rounds.map((r) => ({ ...r, name: `${r.name} (round ${r.round + 1})` })), mixedPhase].map((p) => [
      p.name,
      String(p.seconds),
      String(p.requests),
      fmt(p.rps, 0),
      String(p.p50),
      String(p.p99),
      String(p.errors),
      String(p.non2xx),
      String(p.check.checked),
      String(p.check.wrong),
      String(p.check.otherTier),
    ]),
    [false, true, true, true, true, true, true, true, true, true, true],
  ),
  '',
  `Every response is checked: a classify answer must carry its credential's tier and the top class and probability (±1e-4) of that tier's offline result; a denoise answer its tier in X-Tier and that tier's PSNR (±0.01 dB) in X-PSNR. A cross-tier leak is a wrong answer that equals another tier's. The check tells ${distinct} of ${pairs} (tier pair, image) classify answers apart (the others are the same at both tiers to 1e-3). The mixed phase (${mixedPhase.name}) serves ${fmt(mixedPhase.rps, 0)} requests/s.`,
  '',
  `The server's event loop during the mixed phase (prom-client's delay monitor): p50 ${fmt(eventLoop.p50, 1)} ms, p99 ${fmt(eventLoop.p99, 1)} ms, max ${fmt(eventLoop.max, 1)} ms (inference runs in the worker threads; the main thread parses, decodes images (small PNGs itself, others through sharp's thread pool), and answers).`,
  '',
  '## The HTTP floor: what one image per request costs before nnlock does anything',
  '',
  markdownTable(
    ['', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'CPU per request: load generator', 'CPU per request: server'],
    [[floor!.name, fmt(floor!.rps, 0), String(floor!.p50), String(floor!.p99), String(floor!.non2xx + floor!.errors), `${fmt(floorCpu!.generator, 3)} ms`, `${fmt(floorCpu!.server, 3)} ms`]],
    [false, true, true, true, true, true, true],
  ),
  '',
  `The same ${CONNECTIONS} connections and requests as the first full-load phase, to a fastify route that answers a fixed JSON of the same shape (\`bench/lib/http-floor-server.ts\`): HTTP on loopback and the generator alone. With one image per request, even if nnlock's own work per request (credentials, decoding, batching, the answer) cost nothing, the two would still take ${fmt(floorCpu!.generator + floorCpu!.server, 3)} ms of CPU per image beside a worker's best ${fmt(workerBest, 3)} ms (offline at one thread), against the baseline's ${fmt(baselineCpu, 3)} ms per image: one image per request could reach at most ${fmt(baselineCpu, 3)} / ${fmt(workerBest + floorCpu!.generator + floorCpu!.server, 3)} = **${fmt(floorBound!, 2)} of offline** on this machine (CPU on both sides, so that other load cancels out). What the served phases spend above that is nnlock's own work per request (the CPU table above). Requests that carry several images share the HTTP cost.`,
  '',
  '## Memory: ResNet-20 at 4 tiers against 1',
  '',
  markdownTable(
    ['served', 'server RSS', 'worker tensors: model', 'worker tensors: tier copies'],
    memory.map((m) => [m.what, mib(m.rss), mib(m.modelBytes), mib(m.tierBytes)]),
    [false, true, true, true],
  ),
  '',
  `RSS is the whole server process (Node, libtorch, sharp, fastify, ${WORKERS} worker${WORKERS > 1 ? 's' : ''}) after 20 requests; the tensor bytes are exact, per worker (\`nnlock_model_tensor_bytes\` in /metrics): every tensor once, plus per protected layer only the kernels some tier changes: their indices once and their values at each tier, tier 0 (published) included, so that any tier switch is one write per layer.`,
  '',
  PROFILE_NOTES,
  '',
].join('\n');
const json = {
  eventLoop,
  offlineRate,
  offlineThreads,
  offlineBatch,
  offline,
  ratio,
  ratioMulti,
  ratioWide,
  ratioMeasure: 'median over rounds of served images/s / the mean of the baseline runs before and after the round (offlineThreads, offlineBatch, offlineSeconds each)',
  byKind: byKind.map(({ combined, ...k }) => k),
  baselineRuns: brackets,
  offlineSeconds: OFFLINE_SECONDS,
  rounds: ROUNDS,
  fullSeconds: FULL_SECONDS,
  floor,
  floorCpu,
  floorBound,
  workers: WORKERS,
  serverThreads: SERVER_THREADS,
  loadAtStart,
  phases,
  memory,
  distinct,
  pairs,
  threads: THREADS,
  connections: CONNECTIONS,
  generator: GENERATOR,
  maxBatch: MAX_BATCH,
  machine: machineInfo(),
};
process.stdout.write(`${md}\n`);
if (!args['no-write']) {
  await writeFileAtomic(path.join(RESULTS_DIR, 'serve.md'), md);
  await writeFileAtomic(path.join(RESULTS_DIR, 'serve.json'), `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${path.join(RESULTS_DIR, 'serve.md')}`);
}
