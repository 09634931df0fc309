// Data-parallel training over c10d on the loopback: two processes give the weights of one process
// with the same global batch, resume from rank 0's checkpoint, and a peer that dies or goes
// silent makes the other rank fail with a clear error within the group's timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { trackLeaks } from '../helpers/leaks.ts';
import { type RankResult, runRanks } from './ranks.ts';

const checkLeaks = trackLeaks();
const CHILD = new URL('./fixtures/train-child.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nnlock-ddp-'));
const file = (name: string) => join(dir, name);

function ok(results: RankResult[]): void {
  for (const r of results) assert.equal(r.code, 0, `rank ${r.rank} exited ${r.code} ${r.signal ?? ''}: ${r.err}`);
}

async function weights(path: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(path);
  return new Map([...tensors].map(([k, e]) => [k, new Float32Array(e.data.slice().buffer)]));
}

async function maxDifference(a: string, b: string): Promise<number> {
  const [wa, wb] = [await weights(a), await weights(b)];
  assert.deepEqual([...wa.keys()].sort(), [...wb.keys()].sort());
  let max = 0;
  for (const [k, x] of wa) {
    const y = wb.get(k)!;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i] - y[i]));
  }
  return max;
}

test('two processes train the weights of one process with the same global batch', async () => {
  const [single, two] = await Promise.all([runRanks(0, CHILD, [file('single.safetensors'), '2']), runRanks(2, CHILD, [file('two.safetensors'), '2'])]);
  ok(single);
  ok(two);
  // Each rank took 6 steps of 4 images per epoch; the weights moved (the comparison can fail).
  assert.deepEqual(
    two.map((r) => JSON.parse(r.out).steps),
    [12, 12],
  );
  assert.ok(JSON.parse(two[0].out).buckets >= 1);
  const diff = await maxDifference(file('single.safetensors'), file('two.safetensors'));
  assert.ok(diff < 1e-5, `largest weight difference ${diff}`);
  const moved = await weights(file('single.safetensors'));
  assert.ok([...moved.values()].some((w) => w.some((v) => Math.abs(v) > 1e-3)));
});

test('two processes resume from the checkpoint rank 0 wrote, as if never interrupted', async () => {
  const checkpoint = file('run.ckpt');
  ok(await runRanks(2, CHILD, [file('half.safetensors'), '2', checkpoint, '1']));
  const resumed = await runRanks(2, CHILD, [file('resumed.safetensors'), '2', checkpoint]);
  ok(resumed);
  // The second run took only the second epoch's 6 steps.
  assert.deepEqual(
    resumed.map((r) => JSON.parse(r.out).steps),
    [6, 6],
  );
  const diff = await maxDifference(file('resumed.safetensors'), file('two.safetensors'));
  assert.ok(diff < 1e-5, `largest weight difference ${diff}`);
  assert.ok((await maxDifference(file('half.safetensors'), file('two.safetensors'))) > 1e-4, 'the first run stopped after one epoch');
});

for (const fault of ['die', 'hang'] as const) {
  test(`a peer that ${fault === 'die' ? 'dies' : 'hangs'} makes rank 0 fail with a clear error within the timeout`, async () => {
    const timeoutMs = 3000;
    const [rank0, rank1] = await runRanks(2, CHILD, [file(`${fault}.safetensors`), '2', '-', '-', `${fault}-at-3`], { TEST_TIMEOUT_MS: String(timeoutMs) }, 60_000);
    if (fault === 'die') assert.equal(rank1.code, 9);
    assert.equal(rank0.code, 1, `rank 0: ${rank0.err}`);
    assert.equal(rank0.signal, null, 'an Error, not a crash');
    assert.match(rank0.err, /data-parallel training, rank 0 of 2: the gradient all-reduce failed \(a peer died or timed out\)/);
    assert.match(rank0.err, fault === 'die' ? /Connection closed by peer/ : /Timed out waiting 3000ms/);
    // No wall-clock bound: the message above is c10d's own, so rank 0 ended at the group's timeout (or
    // the peer's disconnect), not at runRanks' 60 s kill, which would have left no such error.
  });
}

test('cleanup', () => rmSync(dir, { recursive: true, force: true }));
test('leaks no tensors', checkLeaks);
