// Engine settings and data in and out: seeds, threads, CUDA facts, the libtorch version, and
// tensor() round trips for every typed array, including scalars and empty tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { tensor, scope, manualSeed, setNumThreads, getNumThreads, cuda, libtorchVersion, toBytes, fromBytes, type DType, type TypedArray } from '../../src/tensor/index.ts';
import { native } from '../../src/native/index.ts';
import { op, callTensor } from '../../src/ops/dispatch.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks(); // before any tensor exists

const randn = (shape: number[]): number[] => scope(() => callTensor(op('aten::randn'), [shape]).toArray());

test('manualSeed makes randn reproducible', () => {
  manualSeed(1234);
  const a = randn([4, 5]);
  const a2 = randn([3]);
  manualSeed(1234);
  const b = randn([4, 5]);
  const b2 = randn([3]);
  assert.deepEqual(a, b);
  assert.deepEqual(a2, b2, 'the sequence after the seed repeats too');
  assert.notDeepEqual(a.slice(0, 3), a2, 'successive draws differ');
  manualSeed(4321);
  assert.notDeepEqual(randn([4, 5]), a, 'another seed, other numbers');
  // Values look like a standard normal sample.
  manualSeed(0);
  const many = randn([20000]);
  const mean = many.reduce((s, v) => s + v, 0) / many.length;
  const variance = many.reduce((s, v) => s + (v - mean) ** 2, 0) / many.length;
  assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  // Large seeds (above 2^32) are accepted.
  manualSeed(2 ** 40 + 7);
  const c = randn([2]);
  manualSeed(2 ** 40 + 7);
  assert.deepEqual(randn([2]), c);
});

test('manualSeed is process-wide: a worker thread that seeds reseeds the main thread, as its docs say', async () => {
  manualSeed(1);
  const fromOne = randn([6]);
  manualSeed(2);
  const fromTwo = randn([6]);
  manualSeed(1);
  // A worker thread loads the addon and calls manualSeed(2) (tsx is registered by an eval bootstrap,
  // see test/engine/workers.test.ts for why).
  const runtime = new URL('../../src/tensor/runtime.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(runtime)}); })
      .then((rt) => { rt.manualSeed(2); parentPort.postMessage('seeded'); });`;
  const worker = new Worker(bootstrap, { eval: true });
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(message, 'seeded');
  // The main thread's next draws are those of seed 2: one generator for the whole process.
  assert.deepEqual(randn([6]), fromTwo);
  assert.notDeepEqual(fromTwo, fromOne);
  // And the documentation says so, with what to do instead.
  const src = readFileSync(new URL('../../src/tensor/runtime.ts', import.meta.url), 'utf8');
  const doc = src.slice(0, src.indexOf('export function manualSeed')).split('/**').at(-1)!;
  assert.match(doc, /PROCESS-WIDE/);
  assert.match(doc, /worker thread/);
  assert.match(doc, /Rng \(src\/data\/rng\.ts\)/);
});

test('manualSeed also fixes dropout masks', () => {
  const mask = (): number[] => scope(() => callTensor(op('aten::dropout'), [tensor(new Float32Array(64).fill(1)), 0.5, true]).toArray());
  manualSeed(7);
  const a = mask();
  manualSeed(7);
  assert.deepEqual(mask(), a);
  assert.ok(a.some((v) => v === 0) && a.some((v) => v === 2));
});

test('setNumThreads / getNumThreads round trip', () => {
  const before = getNumThreads();
  assert.ok(Number.isInteger(before) && before >= 1);
  try {
    for (const n of [1, 2, 3, 1]) {
      setNumThreads(n);
      assert.equal(getNumThreads(), n);
    }
    assert.throws(() => setNumThreads(0), /setNumThreads: thread count must be an integer of at least 1/);
    assert.equal(getNumThreads(), 1, 'a refused setting changes nothing');
    // Work still runs, and gives the same answer, on one thread.
    const s = scope(() => callTensor(op('aten::sum'), [tensor(new Float32Array(1000).fill(0.5))]).item());
    assert.equal(s, 500);
  } finally {
    setNumThreads(before);
  }
  assert.equal(getNumThreads(), before);
  assert.match(native.parallelInfo(), /get_num_threads\(\) : \d+/);
});

test('cuda facts are consistent', () => {
  const available = cuda.isAvailable();
  assert.equal(typeof available, 'boolean');
  const count = cuda.deviceCount();
  assert.ok(Number.isInteger(count) && count >= 0);
  if (!available) assert.equal(count, 0);
  else assert.ok(count > 0);
  cuda.synchronize(); // a no-op without CUDA, never a throw
});

test('libtorchVersion() reads as major.minor, 1.13 or later', () => {
  const v = libtorchVersion();
  const m = /^(\d+)\.(\d+)(\.\d+)?/.exec(v);
  assert.ok(m, `version string ${JSON.stringify(v)}`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  assert.ok(major > 1 || (major === 1 && minor >= 13), `libtorch ${v} is older than 1.13`);
});

interface Case {
  name: string;
  data: TypedArray;
  dtype?: DType;
  expect: DType;
}

function cases(n: number, seed: number): Case[] {
  const f = (i: number): number => ((i * 37 + seed) % 23) - 11.25;
  const ints = (i: number): number => ((i * 37 + seed) % 201) - 100;
  return [
    { name: 'Float32Array', data: Float32Array.from({ length: n }, (_, i) => f(i)), expect: 'float32' },
    { name: 'Float64Array', data: Float64Array.from({ length: n }, (_, i) => f(i) / 3), expect: 'float64' },
    { name: 'Int32Array', data: Int32Array.from({ length: n }, (_, i) => ints(i) * 1_000_003), expect: 'int32' },
    { name: 'BigInt64Array', data: BigInt64Array.from({ length: n }, (_, i) => BigInt(ints(i)) * 2n ** 55n + 1n), expect: 'int64' },
    { name: 'Uint8Array', data: Uint8Array.from({ length: n }, (_, i) => (i * 91 + seed) % 256), expect: 'uint8' },
    { name: "Uint8Array as 'bool'", data: Uint8Array.from({ length: n }, (_, i) => (i + seed) % 2), dtype: 'bool', expect: 'bool' },
    { name: 'Int16Array', data: Int16Array.from({ length: n }, (_, i) => ints(i) * 300), expect: 'int16' },
    { name: 'Int8Array', data: Int8Array.from({ length: n }, (_, i) => ints(i)), expect: 'int8' },
  ];
}

const SHAPES: number[][] = [[], [0, 3], [0], [5], [2, 3], [2, 1, 3, 2]];

test('tensor() round trips every typed array with shapes [], [0, 3], [5], [2, 3] and more', () => {
  for (const shape of SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (const c of cases(n, shape.length + 3)) {
      scope(() => {
        const t = tensor(c.data, shape, c.dtype);
        const label = `${c.name} ${JSON.stringify(shape)}`;
        assert.deepEqual(t.shape, shape, label);
        assert.equal(t.dtype, c.expect, label);
        assert.equal(t.numel, n, label);
        assert.equal(t.device, 'cpu', label);
        const back = t.toTypedArray();
        assert.equal(back.constructor, c.data.constructor, `${label}: comes back as ${c.data.constructor.name}`);
        assert.deepEqual(back, c.data, label);
        assert.notEqual(back.buffer, c.data.buffer, `${label}: data crosses by copy`);
        // Raw bytes too.
        const bytes = toBytes(t);
        assert.deepEqual(bytes, new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength), label);
        const again = fromBytes(bytes, shape, c.expect);
        assert.deepEqual(again.toTypedArray(), c.data, label);
        if (n === 1) {
          const first = c.data[0];
          // item() is a Number: an int64 beyond 2^53 is refused rather than rounded.
          if (typeof first === 'bigint' && (first > 2n ** 53n || first < -(2n ** 53n))) {
            assert.throws(() => t.item(), RangeError, `${label}: item()`);
          } else {
            assert.equal(t.item(), Number(first), `${label}: item()`);
          }
        }
      });
    }
  }
});

test('the input array can change after tensor() without changing the tensor', () => {
  scope(() => {
    const data = new Float32Array([1, 2, 3]);
    const t = tensor(data);
    data[0] = 100;
    assert.deepEqual(t.toArray(), [1, 2, 3]);
    // A view into a larger buffer (non-zero byteOffset) is read from its own offset.
    const big = new Float32Array([9, 9, 4, 5, 6, 9]);
    const view = big.subarray(2, 5);
    assert.deepEqual(tensor(view).toArray(), [4, 5, 6]);
  });
});

test('special float values survive the round trip', () => {
  scope(() => {
    const data = new Float64Array([Number.NaN, Infinity, -Infinity, -0, Number.MIN_VALUE, Number.MAX_VALUE]);
    const back = tensor(data).toTypedArray() as Float64Array;
    assert.ok(Number.isNaN(back[0]));
    assert.deepEqual(Array.from(back.slice(1)), [Infinity, -Infinity, -0, Number.MIN_VALUE, Number.MAX_VALUE]);
    assert.ok(Object.is(back[3], -0));
  });
});

test('number arrays and scalars: float32 unless told otherwise', () => {
  scope(() => {
    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.dtype, 'float32');
    assert.equal(s.item(), 2.5);
    const i = tensor([1, 2, 3], [3], 'int64');
    assert.equal(i.dtype, 'int64');
    assert.deepEqual(i.toArray(), [1, 2, 3]);
    const b = tensor([0, 1, 3], [3], 'bool');
    assert.deepEqual(b.toArray(), [0, 1, 1]);
    const d = tensor(new Int32Array([1, 2]), [2], 'float64');
    assert.equal(d.dtype, 'float64');
    assert.deepEqual(d.toArray(), [1, 2]);
  });
});

test("tensor(Uint8Array, shape, 'bool') stores only 0 and 1", () => {
  scope(() => {
    const b = tensor(new Uint8Array([0, 1, 2, 255]), [4], 'bool');
    assert.deepEqual(b.toArray(), [0, 1, 1, 1]);
  });
});

test('leaks no tensors', checkLeaks);
