// Native memory is owned explicitly: the live-tensor counter follows creation and dispose, scopes
// free what was made inside them (sync and async, also on a throw), returned and kept tensors
// survive, `using` disposes, and a long loop of small ops keeps resident memory flat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { tensor, liveTensors, scope, keep, currentScope, type Tensor } from '../../src/tensor/index.ts';
import { op, callTensor } from '../../src/ops/dispatch.ts';
import { zeros } from '../../src/ops/creation.ts';
import { narrow, permute, reshape } from '../../src/ops/shape.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks(); // before any tensor exists
const addOp = op('aten::add', 'Tensor');
const mulOp = op('aten::mul', 'Tensor');
const add = (a: Tensor, b: Tensor): Tensor => callTensor(addOp, [a, b]);
const mul = (a: Tensor, b: Tensor): Tensor => callTensor(mulOp, [a, b]);

test('liveTensors() counts creation and dispose, and dispose is idempotent', () => {
  const start = liveTensors();
  const a = tensor([1, 2, 3]);
  const b = tensor([4, 5, 6]);
  assert.equal(liveTensors(), start + 2);
  const c = add(a, b);
  assert.equal(liveTensors(), start + 3);
  assert.deepEqual(c.toArray(), [5, 7, 9]);
  a.dispose();
  assert.equal(liveTensors(), start + 2);
  a.dispose();
  assert.equal(liveTensors(), start + 2, 'a second dispose changes nothing');
  b.dispose();
  c.dispose();
  assert.equal(liveTensors(), start);
  assert.ok(a.isDisposed && b.isDisposed && c.isDisposed);
});

test('ops returning several tensors count each one', () => {
  const start = liveTensors();
  const parts = scope(() => {
    const x = tensor([1, 5, 2, 4], [2, 2]);
    const r = callTensor(op('aten::t'), [x]); // a view is a tensor of its own
    assert.equal(liveTensors(), start + 2);
    return r;
  });
  assert.equal(liveTensors(), start + 1);
  parts.dispose();
  assert.equal(liveTensors(), start);
});

test('scope() frees what a synchronous function created, except what it returns', () => {
  const start = liveTensors();
  const kept = scope(() => {
    const a = tensor([1, 2]);
    const b = tensor([3, 4]);
    const s = add(a, b);
    mul(s, s); // dropped on the floor: the scope frees it
    assert.equal(liveTensors(), start + 4);
    return s;
  });
  assert.equal(liveTensors(), start + 1);
  assert.equal(kept.isDisposed, false);
  assert.deepEqual(kept.toArray(), [4, 6]);
  assert.equal(kept.owner, null, 'a tensor returned from the outermost scope belongs to no scope');
  kept.dispose();
  assert.equal(liveTensors(), start);
});

test('returned tensors inside arrays, plain objects and Maps survive', () => {
  const start = liveTensors();
  const out = scope(() => {
    const a = tensor([1]);
    const b = tensor([2]);
    const c = tensor([3]);
    const d = tensor([4]);
    tensor([5]); // not returned
    return { list: [a, [b]], nested: { c }, map: new Map([['d', d]]), n: 3 };
  });
  assert.equal(liveTensors(), start + 4);
  const all = [out.list[0] as Tensor, (out.list[1] as Tensor[])[0], out.nested.c, out.map.get('d') as Tensor];
  assert.deepEqual(
    all.map((t) => t.item()),
    [1, 2, 3, 4],
  );
  for (const t of all) t.dispose();
  assert.equal(liveTensors(), start);
});

test('a returned tensor moves to the enclosing scope, which frees it unless it returns it too', () => {
  const start = liveTensors();
  let inner: Tensor | undefined;
  scope(() => {
    const outer = currentScope();
    inner = scope(() => tensor([1, 2, 3]));
    assert.equal(inner.owner, outer, 'the survivor now belongs to the enclosing scope');
    assert.equal(inner.isDisposed, false);
    assert.equal(liveTensors(), start + 1);
  });
  assert.ok(inner?.isDisposed, 'the enclosing scope freed it');
  assert.equal(liveTensors(), start);
});

test('keep() takes a tensor out of every scope; the caller disposes it', () => {
  const start = liveTensors();
  let kept: Tensor | undefined;
  let keptPair: Tensor[] = [];
  scope(() => {
    scope(() => {
      kept = keep(tensor([7]));
      keptPair = keep([tensor([8]), tensor([9])]);
      tensor([0]);
    });
  });
  assert.equal(liveTensors(), start + 3);
  assert.equal(kept?.owner, null);
  assert.equal(kept?.item(), 7);
  assert.deepEqual(
    keptPair.map((t) => t.item()),
    [8, 9],
  );
  kept?.dispose();
  for (const t of keptPair) t.dispose();
  assert.equal(liveTensors(), start);
});

test('a tensor disposed by hand inside a scope is not disposed twice', () => {
  const start = liveTensors();
  scope(() => {
    const a = tensor([1]);
    a.dispose();
    assert.equal(liveTensors(), start);
    assert.equal(currentScope()?.size, 0, 'dispose() took it out of its scope');
  });
  assert.equal(liveTensors(), start);
});

test('a throw inside scope() still frees everything', () => {
  const start = liveTensors();
  assert.throws(
    () =>
      scope(() => {
        tensor([1, 2, 3]);
        add(tensor([1]), tensor([2]));
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(liveTensors(), start);
  // An engine error inside a scope: same.
  assert.throws(
    () =>
      scope(() => {
        const a = tensor([1, 2, 3]);
        return callTensor(op('aten::mm'), [a, a]);
      }),
    /aten::mm/,
  );
  assert.equal(liveTensors(), start);
});

test('scope() with an async function frees after the promise settles; the result survives', async () => {
  const start = liveTensors();
  const r = await scope(async () => {
    const a = tensor([1, 2]);
    await sleep(5);
    const b = add(a, a); // created after an await: still in this scope
    await sleep(1);
    tensor([9]);
    return { b };
  });
  assert.equal(liveTensors(), start + 1);
  assert.deepEqual(r.b.toArray(), [2, 4]);
  r.b.dispose();
  assert.equal(liveTensors(), start);
});

test('an async scope that rejects frees everything', async () => {
  const start = liveTensors();
  await assert.rejects(
    scope(async () => {
      tensor([1]);
      await sleep(1);
      tensor([2]);
      throw new Error('async boom');
    }),
    /async boom/,
  );
  assert.equal(liveTensors(), start);
});

test('concurrent async scopes keep their own tensors', async () => {
  const start = liveTensors();
  const run = (v: number, ms: number): Promise<Tensor> =>
    scope(async () => {
      const own = tensor([v]);
      await sleep(ms);
      const r = add(own, own);
      await sleep(ms);
      return r;
    });
  const [a, b] = await Promise.all([run(1, 5), run(2, 1)]);
  assert.equal(a.item(), 2);
  assert.equal(b.item(), 4);
  assert.equal(liveTensors(), start + 2);
  a.dispose();
  b.dispose();
  assert.equal(liveTensors(), start);
});

// tsx (esbuild 0.28) lowers `using` declarations, so they run on Node 20 where TypeScript allows them.
test('`using` disposes at the end of the block, also on a throw', () => {
  const start = liveTensors();
  let seen: Tensor | undefined;
  {
    using t = tensor([1, 2, 3]);
    seen = t;
    assert.equal(liveTensors(), start + 1);
  }
  assert.ok(seen.isDisposed);
  assert.equal(liveTensors(), start);
  assert.throws(() => {
    using t = tensor([1]);
    seen = t;
    throw new Error('inside using');
  }, /inside using/);
  assert.ok(seen.isDisposed);
  assert.equal(liveTensors(), start);
  // [Symbol.dispose] directly, and together with a scope: no double free.
  const u = tensor([4]);
  u[Symbol.dispose]();
  assert.ok(u.isDisposed);
  scope(() => {
    using v = tensor([5]);
    assert.equal(v.item(), 5);
  });
  assert.equal(liveTensors(), start);
});

// Each op hands JavaScript a handle object. dispose() frees its native part at once and removes
// its finalizer, so neither a loop that yields now and then (as a training loop awaiting its data
// does) nor one that never yields grows: only handles never disposed wait for a finalizer.
async function smallOpsLoop(yieldEvery: number): Promise<number> {
  const start = liveTensors();
  const a = tensor(new Float32Array(64).fill(1.5), [8, 8]);
  const b = tensor(new Float32Array(64).fill(0.5), [8, 8]);
  const step = (): void => {
    scope(() => {
      const s = add(a, b);
      mul(s, b);
    });
  };
  const run = async (steps: number): Promise<void> => {
    for (let i = 1; i <= steps; i++) {
      step();
      if (yieldEvery > 0 && i % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  try {
    await run(10_000);
    const rssWarm = process.memoryUsage().rss;
    await run(100_000);
    const rssEnd = process.memoryUsage().rss;
    assert.equal(liveTensors(), start + 2);
    const check = scope(() => mul(add(a, b), b).toArray());
    assert.ok(check.every((v) => v === 1));
    return (rssEnd - rssWarm) / 2 ** 20;
  } finally {
    a.dispose();
    b.dispose();
    assert.equal(liveTensors(), start);
  }
}

test('100,000 steps of small ops, a scope per step, yielding every 1,000 steps: resident memory stays flat', async () => {
  const growthMb = await smallOpsLoop(1_000);
  assert.ok(growthMb < 50, `resident memory grew by ${growthMb.toFixed(1)} MB over 100,000 steps`);
});

test('100,000 steps of small ops in a loop that never yields: resident memory stays flat', async () => {
  const growthMb = await smallOpsLoop(0);
  assert.ok(growthMb < 50, `resident memory grew by ${growthMb.toFixed(1)} MB over 100,000 steps without yielding`);
});

test("views do not count their base's memory again: making and freeing many views of a large tensor triggers no garbage collection", async () => {
  // The addon reports each tensor's storage to V8 as external memory (a hint for collecting
  // tensors never disposed). Counting views again made V8 collect every few ops, and its concurrent
  // marking took a core from libtorch (see handle.cc). V8 does not expose the counter itself, so
  // this counts collections: with views counted, 2,000 views of 32 MiB announce 64 GB and V8
  // collects dozens of times; with views free, nothing here needs a collection.
  const base = zeros([8, 1024, 1024]); // 32 MiB of float32
  const gcs: string[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push(e.name);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    for (let i = 0; i < 500; i++) {
      const views = [reshape(base, [-1]), permute(base, [2, 1, 0]), narrow(base, 1, 0, 512), reshape(base, [8, 1024 * 1024])];
      for (const v of views) v.dispose();
    }
    await sleep(50); // GC entries are delivered asynchronously
    gcs.push(...observer.takeRecords().map((e) => e.name));
  } finally {
    observer.disconnect();
    base.dispose();
  }
  assert.ok(gcs.length <= 3, `${gcs.length} garbage collections while making views`);
});

test('leaks no tensors', checkLeaks);
