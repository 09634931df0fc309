// The service's inference pool driven directly, without HTTP (issue 12: why do the served workers
// spend more CPU per image than offline evaluation?). In one process, on the shared ResNet-20
// protected here (L1, ratio 8 %, 3 tiers):
//   offline   forward + softmax in this thread at 1 libtorch thread, batches of each --batches
//   pool      InferencePool (src/serve/pool.ts) with --workers workers of 1 thread, one request =
//             one batch, 2 batches per worker in flight, the main thread otherwise idle: every
//             batch at tier 3 ("one tier"), or the tiers 0..3 in turn ("tiers in turn": a switch
//             of the worker's protected kernels before nearly every batch, as under mixed load)
// Each prints images/s and CPU ms per image (the main thread and the workers apart, from /proc).
//
//   node --import tsx bench/serve-pool.ts [--count 2048] [--batches 16,64] [--workers 2]
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { init } from '../src/tensor/init.ts';
import { noGrad, scope, tensor } from '../src/tensor/index.ts';
import { softmax } from '../src/ops/activation.ts';
import { openModel, readModelFile } from '../src/models/load.ts';
import { protectModel, unlockModel } from '../src/protect/index.ts';
import { InferencePool } from '../src/serve/pool.ts';
import { loadServedModel } from '../src/serve/catalog.ts';
import { fmt, machineInfo } from './lib/report.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEIGHTS = path.join(here, '..', '..', 'shared', 'data', 'weights', 'resnet20-cifar10.safetensors');
const { values: args } = parseArgs({
  options: { count: { type: 'string', default: '2048' }, batches: { type: 'string', default: '16,64' }, workers: { type: 'string', default: '2' } },
});
const COUNT = Number(args.count);
const BATCHES = args.batches.split(',').map(Number);
const WORKERS = Number(args.workers);
const IMG = 3 * 32 * 32;

init({ threads: 1 });
const work = mkdtempSync(path.join(tmpdir(), 'nnlock-bench-serve-pool-'));
const protectedModel = await protectModel(WEIGHTS, { tiers: 3, ratio: 0.08 });
const files = await protectedModel.write(path.join(work, 'resnet20.protected.safetensors'), { keys: path.join(work, 'resnet20.keys') });
const largest = Math.max(...BATCHES);
const x = new Float32Array(largest * IMG);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 2;

/** CPU seconds so far of this process's main thread and of its other threads (/proc, 100 Hz ticks). */
function cpu(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const s = (Number(f[11]) + Number(f[12])) / 100;
    if (Number(tid) === process.pid) main += s;
    else others += s;
  }
  return { main, others };
}

const rows: string[] = [];
const report = (what: string, seconds: number, main: number, workers: number) =>
  rows.push(`| ${what} | ${fmt(COUNT / seconds, 0)} | ${fmt((1000 * main) / COUNT, 3)} | ${fmt((1000 * workers) / COUNT, 3)} |`);

{
  const { model } = await openModel((await unlockModel(await readModelFile(files.model), protectedModel.tokens[2], { tier: 3 })).file);
  for (const b of BATCHES) {
    const xb = x.subarray(0, b * IMG);
    const run = () => noGrad(() => scope(() => softmax(model.forward(tensor(xb, [b, 3, 32, 32])), 1).toTypedArray()));
    for (let i = 0; i < 3; i++) run();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let done = 0; done < COUNT; done += b) run();
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    report(`offline, this thread, batches of ${b}`, seconds, (c.user + c.system) / 1e6, 0);
  }
  model.dispose();
}

for (const b of BATCHES)
  for (const turn of [false, true]) {
    const pool = new InferencePool({ workers: WORKERS, maxBatch: b, maxWaitMs: 5, threads: 1 });
    await loadServedModel({ name: 'resnet', weights: files.model, keys: files.keys } as Parameters<typeof loadServedModel>[0], pool);
    let next = 0;
    const images = async (n: number) => {
      let sent = 0;
      await Promise.all(
        Array.from({ length: 2 * WORKERS }, async () => {
          while (sent < n) {
            sent += b;
            await pool.run('resnet', turn ? next++ % 4 : 3, [3, 32, 32], b, x.slice(0, b * IMG));
          }
        }),
      );
    };
    await images(8 * b);
    const c0 = cpu();
    const t0 = performance.now();
    await images(COUNT);
    const seconds = (performance.now() - t0) / 1000;
    const c = cpu();
    report(`pool, ${WORKERS} workers × 1 thread, batches of ${b}, ${turn ? 'tiers 0..3 in turn' : 'one tier'}`, seconds, c.main - c0.main, c.others - c0.others);
    await pool.close();
  }

const m = machineInfo();
process.stdout.write(
  [
    `# The inference pool without HTTP (\`node --import tsx bench/serve-pool.ts ${process.argv.slice(2).join(' ')}\`)`,
    '',
    `${m.cpuModel}, load average ${m.loadAverage.join(' / ')}, ${new Date().toISOString()}. ${COUNT} images per row.`,
    '',
    '| | images/s | CPU ms per image: main thread | CPU ms per image: workers |',
    '| --- | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n'),
);
