// `nnlock launch`: the torchrun variables each rank gets, one failed rank ending the job, and the
// command the issue names (two ranks of `nnlock model train`, one weights file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { distributedEnv } from '../../src/distributed/index.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const dir = mkdtempSync(join(tmpdir(), 'nnlock-launch-'));
const node = process.execPath;

test('every rank gets the variables torchrun sets', async () => {
  const show = 'const e = process.env; console.log(JSON.stringify([e.RANK, e.LOCAL_RANK, e.WORLD_SIZE, e.LOCAL_WORLD_SIZE, e.MASTER_ADDR, e.MASTER_PORT, e.NNLOCK_THREADS]))';
  const r = await runCli(['launch', '--nproc', '3', '--threads', '1', '--', node, '-e', show], { NNLOCK_THREADS: undefined });
  assert.equal(r.code, 0, r.err);
  const rank0 = JSON.parse(r.out.split('\n').find((l) => l.startsWith('["'))!);
  assert.deepEqual(rank0.slice(0, 5), ['0', '0', '3', '3', '127.0.0.1']);
  assert.ok(Number(rank0[5]) > 0);
  assert.equal(rank0[6], '1');
  for (const rank of [1, 2]) {
    const line = r.out.split('\n').find((l) => l.startsWith(`[rank ${rank}] `))!;
    assert.deepEqual(JSON.parse(line.slice(`[rank ${rank}] `.length)).slice(0, 4), [String(rank), String(rank), '3', '3']);
  }
});

test('distributedEnv: a job, and the variables that are wrong', () => {
  assert.equal(distributedEnv({}), null);
  assert.deepEqual(distributedEnv({ WORLD_SIZE: '4', RANK: '2', LOCAL_RANK: '0', MASTER_ADDR: 'node0', MASTER_PORT: '29500' }), {
    masterAddr: 'node0',
    masterPort: 29500,
    rank: 2,
    worldSize: 4,
    localRank: 0,
  });
  assert.throws(() => distributedEnv({ WORLD_SIZE: '4', RANK: '4', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK=4: expected an integer from 0 to 3/);
  assert.throws(() => distributedEnv({ WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK=\(unset\)/);
  assert.throws(() => distributedEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '1' }), /MASTER_ADDR is unset/);
  assert.throws(() => distributedEnv({ WORLD_SIZE: '2', RANK: '0', MASTER_ADDR: 'h', MASTER_PORT: 'x' }), /MASTER_PORT=x/);
});

// Rank 0 would run forever: the launch returns only because it stopped it (the test's timeout is the guard).
test('one failed rank fails the job and stops the others', { timeout: 120_000 }, async () => {
  const script = "if (process.env.RANK === '1') process.exit(3); setInterval(() => {}, 1000)";
  const r = await runCli(['launch', '--nproc', '2', '--', node, '-e', script]);
  assert.equal(r.code, 1);
  assert.match(r.err, /rank 1 failed \(exit code 3\); the other ranks were stopped/);
});

test('usage errors exit 2', async () => {
  assert.equal((await runCli(['launch', '--nproc', '2', '--node-rank', '1', '--', node, '-e', ''])).code, 2);
  assert.equal((await runCli(['launch', '--nproc', '2', '--nnodes', '2', '--', node, '-e', ''])).code, 2);
  assert.equal((await runCli(['launch', '--nproc', '0', '--', node, '-e', ''])).code, 2);
});

test('nnlock launch --nproc 2 -- nnlock model train -a resnet20 ... writes one weights file', async () => {
  // 32 CIFAR-10 records (a label byte and 3072 pixel bytes each), made here.
  const records = new Uint8Array(32 * 3073);
  for (let i = 0; i < 32; i++) {
    records[i * 3073] = i % 10;
    for (let p = 1; p < 3073; p++) records[i * 3073 + p] = (i * 31 + p * 7) % 256;
  }
  const data = join(dir, 'data_batch_1.bin');
  writeFileSync(data, records);
  const out = join(dir, 'r20.safetensors');
  const r = await runCli(['launch', '--nproc', '2', '--', 'nnlock', 'model', 'train', '-a', 'resnet20', '-d', data, '-o', out, '--epochs', '1', '--batch', '16']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  assert.match(r.out, /\[rank 1\] rank 1 done: rank 0 wrote/);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.safetensors')),
    ['r20.safetensors'],
  );
  const { metadata } = await readSafetensors(out);
  assert.equal(metadata.architecture, 'resnet20');
  assert.ok(existsSync(out));
});

test('PSS importance under launch --nproc 2 gives the single process scores', async () => {
  // The resnet20 of the test above, scored on 3 layers: log α learned with the gradient averaged
  // across 2 ranks of 8 images equals one process's with batches of 16.
  const weights = join(dir, 'r20.safetensors');
  const data = join(dir, 'data_batch_1.bin');
  const args = (out: string) => [
    'protect',
    'importance',
    weights,
    '-s',
    'pss',
    '-d',
    data,
    '--images',
    '32',
    '--batch',
    '16',
    '--epochs',
    '1',
    '--layers',
    'conv1,layer3.2.conv2',
    '-q',
    '-o',
    join(dir, out),
  ];
  const one = await runCli(args('one.pss.safetensors'));
  assert.equal(one.code, 0, one.err);
  const two = await runCli(['launch', '--nproc', '2', '--', 'nnlock', ...args('two.pss.safetensors')]);
  assert.equal(two.code, 0, two.err);
  const [a, b] = [await readSafetensors(join(dir, 'one.pss.safetensors')), await readSafetensors(join(dir, 'two.pss.safetensors'))];
  let max = 0;
  let moved = 0;
  for (const [k, e] of a.tensors) {
    const x = new Float32Array(e.data.slice().buffer);
    const y = new Float32Array(b.tensors.get(k)!.data.slice().buffer);
    for (let i = 0; i < x.length; i++) {
      max = Math.max(max, Math.abs(x[i] - y[i]));
      moved = Math.max(moved, Math.abs(x[i] - Math.log(9)));
    }
  }
  assert.ok(max < 1e-4, `largest score difference ${max}`);
  assert.ok(moved > 1e-3, 'the gates moved from their start (the comparison can fail)');
});

test('er train under launch --nproc 2: one model file, the ranks agree on the epoch record', async () => {
  const key = join(dir, 'key.json');
  assert.equal((await runCli(['cipher', 'keygen', '--kind', 'orthogonal', '-o', key, '-q'])).code, 0);
  const out = join(dir, 'er.safetensors');
  const data = join(dir, 'data_batch_1.bin');
  const r = await runCli([
    'launch',
    '--nproc',
    '2',
    '--',
    'nnlock',
    'er',
    'train',
    '-K',
    key,
    '-d',
    data,
    '-o',
    out,
    '--epochs',
    '1',
    '--batch',
    '16',
    '--workers',
    '0',
    '--whiten-images',
    '32',
    '-q',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(out));
  // trainAccuracy is summed over both ranks' shards, so both print the same line.
  const accuracy = /^round 1: train accuracy ([\d.]+)/m.exec(r.out)?.[1];
  assert.ok(accuracy !== undefined, r.out);
  assert.match(r.out, new RegExp(`^\\[rank 1\\] round 1: train accuracy ${accuracy.replace('.', '\\.')}$`, 'm'));
});

test('cleanup', () => rmSync(dir, { recursive: true, force: true }));
test('leaks no tensors', checkLeaks);
