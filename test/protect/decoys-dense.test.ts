// A layer sealed whole (the dense-front mode) has no genuine kernels to imitate: its decoys must not
// be functions of the sealed ones. Before, 'resample' published each sealed kernel turned by ~45°.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trackLeaks } from '../helpers/leaks.ts';
import { DECOY_MODES, drawDecoys } from '../../src/protect/internals.ts';
import { freshInitDecoys } from '../../src/protect/decoys/fresh-init.ts';
import { KeyedStream } from '../../src/crypto/index.ts';
import { testKey } from './fixtures.ts';

const checkLeaks = trackLeaks();

const SHAPE = [16, 8, 3, 3] as const;
const KERNELS = 16 * 8;
const N = 9;
const trained = new KeyedStream(testKey(7), 'trained').normal(KERNELS * N).map((v) => 0.3 * v + 0.05);
const other = trained.map((v, i) => (i % 2 ? -3 * v : v + 1));
const stream = () => new KeyedStream(testKey(8), 'decoys');

test('a layer sealed whole gets fresh-init decoys in every mode, whatever its sealed values', () => {
  for (const left of [0, 1]) {
    const replaced = new Uint8Array(KERNELS).fill(1);
    for (let k = 0; k < left; k++) replaced[k] = 0;
    const count = KERNELS - left;
    const expected = freshInitDecoys(SHAPE, count, stream());
    const bound = 1 / Math.sqrt(8 * N);
    assert.ok(expected.every((v) => Math.abs(v) <= bound));
    for (const mode of DECOY_MODES) {
      const a = drawDecoys(trained, SHAPE, replaced, stream(), mode);
      const b = drawDecoys(other, SHAPE, replaced, stream(), mode);
      assert.deepEqual(a, expected, `${mode}, ${left} kernel(s) left: PyTorch's initialisation from the keyed stream`);
      assert.deepEqual(b, a, `${mode}: the decoys do not depend on the sealed values`);
    }
  }
});

test('a layer with genuine kernels left still imitates them (the fallback is only for whole layers)', () => {
  const replaced = new Uint8Array(KERNELS);
  for (let k = 0; k < KERNELS; k += 4) replaced[k] = 1;
  for (const mode of DECOY_MODES) {
    const a = drawDecoys(trained, SHAPE, replaced, stream(), mode);
    const b = drawDecoys(other, SHAPE, replaced, stream(), mode);
    assert.notDeepEqual(a, b, `${mode}: decoys follow the genuine kernels`);
  }
});

test('leaks no tensors', () => checkLeaks());
