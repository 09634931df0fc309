// The addon loads in worker threads: two workers run the same small conv net at the same time as
// each other, get the main thread's result on the same inputs and weights, and count their live
// tensors independently of the main thread.
//
// Starting a worker on a .ts file does not work on Node 20 with tsx 4, with or without
// `execArgv: ['--import', 'tsx']` (ERR_UNKNOWN_FILE_EXTENSION: the worker's entry module is
// loaded before tsx's hooks are registered; tsx issue #354). So the worker starts on a two-line
// JavaScript bootstrap (eval) that registers tsx's loader and then imports the .ts worker file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { tensor, liveTensors, scope } from '../../src/tensor/index.ts';
import { INPUT_SHAPE, forward, loadParams, synthetic, syntheticWeights } from './fixtures/net.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks(); // before any tensor exists
const baseline = liveTensors();

interface Loaded {
  type: 'loaded';
  baseline: number;
  live: number;
}
interface Done {
  type: 'done';
  output: Float32Array;
  stable: boolean;
  start: number;
  end: number;
  passes: number;
  passesWithAll: number;
  liveDuring: number;
  liveAfter: number;
}

/** A worker running a TypeScript file through tsx. */
function tsWorker(file: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** Starts the forward worker; `next()` waits for its next message (or its error). */
function startWorker(weights: Record<string, Float32Array>, input: Float32Array, repeats: number, started?: Int32Array, peers?: number) {
  const worker = tsWorker(new URL('./fixtures/forward-worker.ts', import.meta.url), { weights, input, repeats, started, peers });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  const next = <T>(): Promise<T> => Promise.race([failed, new Promise<T>((resolve) => worker.once('message', resolve))]);
  return { worker, exited, next };
}

test('two workers run a conv net concurrently and match the main thread', { timeout: 120_000 }, async () => {
  const weights = syntheticWeights();
  const input = synthetic(INPUT_SHAPE, 99);
  const repeats = 30;

  // The main thread's own result, and tensors it keeps alive while the workers run.
  const params = loadParams(weights);
  const x = tensor(input, INPUT_SHAPE);
  const expected = forward(params, x);
  const extra = [tensor([1]), tensor([2]), tensor([3])];
  const mainLive = liveTensors();
  assert.equal(mainLive, baseline + 7 + 3);

  // Each worker counts itself in when it starts computing and keeps computing until both have.
  const started = new Int32Array(new SharedArrayBuffer(4));
  const workers = [startWorker(weights, input, repeats, started, 2), startWorker(weights, input, repeats, started, 2)];
  try {
    const loaded = await Promise.all(workers.map((w) => w.next<Loaded>()));
    for (const l of loaded) {
      assert.equal(l.type, 'loaded');
      assert.equal(l.baseline, 0, "a worker's counter starts at zero, whatever the main thread holds");
      assert.equal(l.live, 7, 'a worker counts only its own tensors');
    }
    assert.equal(liveTensors(), mainLive, "the workers' tensors do not show in the main thread's counter");

    const results = workers.map((w) => w.next<Done>());
    for (const w of workers) w.worker.postMessage({ type: 'go' });
    const done = await Promise.all(results);
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0], 'both workers finish and exit cleanly');

    for (const d of done) {
      assert.equal(d.type, 'done');
      assert.ok(d.stable, 'repeated forward passes in a worker give identical results');
      assert.equal(d.output.length, expected.length);
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(d.output[i] - expected[i]));
      assert.ok(maxDiff <= 1e-5, `worker result differs from the main thread's by ${maxDiff}`);
      assert.equal(d.liveDuring, 7, 'forward passes in the worker free their intermediates');
      assert.equal(d.liveAfter, 0, 'the worker disposed everything it made');
    }
    // The two runs overlapped in time: each started before the other ended, and each ran
    // `repeats` passes while the other was running.
    for (const d of done) assert.ok(d.passesWithAll >= repeats, `only ${d.passesWithAll} passes ran while both workers were running`);
    const [a, b] = done;
    assert.ok(a.start < b.end && b.start < a.end, `the workers did not run at the same time: [${a.start}, ${a.end}] and [${b.start}, ${b.end}]`);
    assert.equal(liveTensors(), mainLive, "the main thread's counter did not move while the workers ran");
  } finally {
    for (const w of workers) await w.worker.terminate();
    for (const t of Object.values(params)) t.dispose();
    x.dispose();
    for (const t of extra) t.dispose();
  }
  assert.equal(liveTensors(), baseline);
});

test('the main thread keeps computing while workers are busy', { timeout: 120_000 }, async () => {
  const weights = syntheticWeights();
  const input = synthetic(INPUT_SHAPE, 7);
  const w = startWorker(weights, input, 20);
  try {
    await w.next<Loaded>();
    const result = w.next<Done>();
    w.worker.postMessage({ type: 'go' });
    // Meanwhile, the main thread runs the same net on the same input.
    const mine = scope(() => forward(loadParams(weights), tensor(input, INPUT_SHAPE)));
    const theirs = await result;
    assert.equal(await w.exited, 0);
    let maxDiff = 0;
    for (let i = 0; i < mine.length; i++) maxDiff = Math.max(maxDiff, Math.abs(theirs.output[i] - mine[i]));
    assert.ok(maxDiff <= 1e-5, `worker result differs from the main thread's by ${maxDiff}`);
  } finally {
    await w.worker.terminate();
  }
  assert.equal(liveTensors(), baseline);
});

test('leaks no tensors', checkLeaks);
