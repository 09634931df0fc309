import { test } from 'node:test';
import assert from 'node:assert/strict';
import { augmentInto, augmentedShape, dihedral, hflip, padCrop } from '../../src/data/augment.ts';
import { Rng } from '../../src/data/rng.ts';

// 2 channels × 3 rows × 4 columns, values 1.. so zero means "padding".
const shape = [2, 3, 4];
const img = new Uint8Array(24).map((_, i) => i + 1);
const at = (a: ArrayLike<number>, h: number, w: number, c: number, y: number, x: number) => a[(c * h + y) * w + x];

test('hflip mirrors each row of each channel', () => {
  const f = hflip(img, shape);
  for (let c = 0; c < 2; c++)
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 4; x++) {
        assert.equal(at(f, 3, 4, c, y, x), at(img, 3, 4, c, y, 3 - x));
      }
  assert.deepEqual(hflip(f, shape), img);
  assert.ok(hflip(new Float32Array(img), shape) instanceof Float32Array);
});

test('padCrop: the padded corner is zero and the shifted window is the image', () => {
  const out = padCrop(img, shape, 1, 0, 0, 3, 4); // window starts one pixel up-left of the image
  assert.equal(out.length, 24);
  assert.equal(at(out, 3, 4, 0, 0, 0), 0);
  assert.equal(at(out, 3, 4, 1, 0, 3), 0);
  assert.equal(at(out, 3, 4, 0, 1, 1), at(img, 3, 4, 0, 0, 0));
  assert.equal(at(out, 3, 4, 1, 2, 3), at(img, 3, 4, 1, 1, 2));
  assert.deepEqual(padCrop(img, shape, 1, 1, 1, 3, 4), img, 'centre crop is the identity');
});

test('random crop with padding keeps the shape (or gives the size asked) and is seeded', () => {
  const opts = { crop: { padding: 4 }, hflip: true };
  assert.deepEqual(augmentedShape(shape, opts), [2, 3, 4]);
  const a = augmentInto(img, shape, opts, new Rng(3), new Uint8Array(24));
  const b = augmentInto(img, shape, opts, new Rng(3), new Uint8Array(24));
  assert.deepEqual(a, b);
  const outs = new Set<string>();
  const r = new Rng(9);
  for (let i = 0; i < 400; i++) outs.add(augmentInto(img, shape, opts, r, new Uint8Array(24)).join(','));
  assert.ok(outs.size > 30, `only ${outs.size} distinct crops`);
  const small = { crop: { padding: 0, height: 2, width: 2 } };
  assert.deepEqual(augmentedShape(shape, small), [2, 2, 2]);
  assert.equal(augmentInto(img, shape, small, new Rng(1), new Uint8Array(8)).length, 8);
  assert.throws(() => augmentInto(img, shape, { crop: { padding: 0, height: 5 } }, new Rng(1), new Uint8Array(40)), /cannot crop/);
});

test('flip alone mirrors about half the time, and is exactly hflip when it does', () => {
  const r = new Rng(11);
  const flipped = hflip(img, shape).join(',');
  let n = 0;
  for (let i = 0; i < 1000; i++) {
    const out = augmentInto(img, shape, { hflip: true }, r, new Uint8Array(24)).join(',');
    if (out === flipped) n++;
    else assert.equal(out, img.join(','));
  }
  assert.ok(n > 430 && n < 570, `${n} flips of 1000`);
});

test('dihedral gives the 8 distinct symmetries of a square', () => {
  const sq = new Uint8Array(9).map((_, i) => i); // 1×3×3
  const all = new Set<string>();
  for (let m = 0; m < 8; m++) all.add(dihedral(sq, [1, 3, 3], m).join(','));
  assert.equal(all.size, 8);
  assert.deepEqual([...dihedral(sq, [1, 3, 3], 0)], [...sq]);
  assert.deepEqual([...dihedral(sq, [1, 3, 3], 1)], [0, 3, 6, 1, 4, 7, 2, 5, 8], 'transpose');
  assert.deepEqual([...dihedral(sq, [1, 3, 3], 4)], [2, 1, 0, 5, 4, 3, 8, 7, 6], 'left-right');
  assert.throws(() => dihedral(img, shape, 1), /square/);
});
