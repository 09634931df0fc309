// nnlock's malloc policy (src/native/allocator.ts): when it applies, when it leaves malloc alone,
// and that the addon applies it in this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MMAP_THRESHOLD, TRIM_THRESHOLD, allocatorPolicy, applyAllocatorPolicy } from '../../src/native/allocator.ts';
import { native, nativeLoaded } from '../../src/native/index.ts';
import { engineState, init } from '../../src/tensor/init.ts';

test('by default the policy keeps large blocks on the heap', () => {
  assert.deepEqual(allocatorPolicy({}), { apply: true, mmapThreshold: MMAP_THRESHOLD, trimThreshold: TRIM_THRESHOLD });
  assert.deepEqual(allocatorPolicy({ NNLOCK_MALLOC: 'nnlock', PATH: '/usr/bin' }).apply, true);
  // Below 32 MiB a 1024-image CIFAR batch would still be mmapped; the trim threshold must exceed it.
  assert.ok(MMAP_THRESHOLD >= 32 * 1024 * 1024 && TRIM_THRESHOLD >= MMAP_THRESHOLD);
});

test("the policy steps aside for NNLOCK_MALLOC=system and for the user's own malloc settings", () => {
  assert.deepEqual(allocatorPolicy({ NNLOCK_MALLOC: 'system' }), { apply: false, reason: 'NNLOCK_MALLOC=system' });
  assert.deepEqual(allocatorPolicy({ NNLOCK_MALLOC: ' System ' }).apply, false);
  const own = allocatorPolicy({ MALLOC_TRIM_THRESHOLD_: '1', MALLOC_ARENA_MAX_: '2' });
  assert.equal(own.apply, false);
  assert.match((own as { reason: string }).reason, /MALLOC_ARENA_MAX_, MALLOC_TRIM_THRESHOLD_/);
  assert.equal(allocatorPolicy({ GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1' }).apply, false);
  // Tunables that are not malloc's do not count.
  assert.equal(allocatorPolicy({ GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX512F' }).apply, true);
});

test('a misspelt NNLOCK_MALLOC is an error, not a silent default', () => {
  assert.throws(() => allocatorPolicy({ NNLOCK_MALLOC: 'jemalloc' }), /NNLOCK_MALLOC must be 'nnlock' \(the default\) or 'system', got 'jemalloc'/);
});

test('applyAllocatorPolicy passes the thresholds to the setter and reports what it did', () => {
  const calls: [number, number][] = [];
  const state = applyAllocatorPolicy((m, t) => {
    calls.push([m, t]);
    return true;
  }, {});
  assert.deepEqual(calls, [[MMAP_THRESHOLD, TRIM_THRESHOLD]]);
  assert.equal(state.applied, true);
  const off = applyAllocatorPolicy(
    () => {
      throw new Error('must not be called');
    },
    { NNLOCK_MALLOC: 'system' },
  );
  assert.equal(off.applied, false);
  // A C library other than glibc: the setter says false, and so does the state.
  assert.equal(applyAllocatorPolicy(() => false, {}).applied, false);
});

test('importing nnlock applies nothing; init() applies the policy the environment asks for (glibc)', () => {
  assert.equal(nativeLoaded(), false, 'importing must not load the addon');
  assert.deepEqual(engineState(), { allocator: null, threads: null }, 'no malloc policy before init(), and no libtorch loaded');
  const expected = allocatorPolicy(process.env);
  const allocatorState = init().allocator!;
  assert.equal(allocatorState.apply, expected.apply);
  if (expected.apply && process.platform === 'linux' && process.report?.getReport) {
    const glibc = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime;
    if (glibc) assert.equal(allocatorState.applied, true, `glibc ${glibc}: mallopt should accept the thresholds`);
  }
  // Setting the same thresholds again is accepted (and changes nothing for the tests after this one).
  assert.equal(typeof native.setMallocThresholds(MMAP_THRESHOLD, TRIM_THRESHOLD), 'boolean');
});

test('the CLI reports the policy, and a bad NNLOCK_MALLOC is one clear line and exit code 1, no stack trace', () => {
  const bin = fileURLToPath(new URL('../../bin/nnlock.js', import.meta.url));
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [bin, 'info', '--steps', '1', '--batch', '2'], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
  const good = run({});
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /malloc: nnlock's policy \(mmap threshold 256 MiB, trim threshold 512 MiB\)/);
  const system = run({ NNLOCK_MALLOC: 'system' });
  assert.match(system.stdout, /malloc: left alone \(NNLOCK_MALLOC=system\)/);
  const bad = run({ NNLOCK_MALLOC: 'jemalloc' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr.trim(), "nnlock: NNLOCK_MALLOC must be 'nnlock' (the default) or 'system', got 'jemalloc'");
  assert.equal(bad.stdout, '');
});
