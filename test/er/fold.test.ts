// Exact absorption of a Hill cipher into a ConvMixer's patch embedding: the folded model on
// ciphertext gives the plaintext model's outputs on plaintext; the layout is checked by a fold with
// the key transposed (which must fail); holding both weights recovers the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { rand } from '../../src/ops/creation.ts';
import { div, sub } from '../../src/ops/arithmetic.ts';
import { norm } from '../../src/ops/reduction.ts';
import { ConvMixer } from '../../src/models/convmixer.ts';
import { modelSpec } from '../../src/models/registry.ts';
import { deriveKey, keyFromMatrices } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { transpose } from '../../src/linalg/index.ts';
import { foldCipherIntoPatchEmbedding, foldNormalisation, keyRelativeError, patchWeightsOf, recoverKeyFromFold } from '../../src/er/fold.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secret = new Uint8Array(32).fill(7);
const NORM = { mean: [0.3, 0.5, 0.4], std: [0.2, 0.25, 0.3] };

function relError(a: Tensor, b: Tensor): number {
  return scope(() => norm(sub(a, b)).item() / norm(b).item());
}

function normalised(x: Tensor): Tensor {
  return scope(() => div(sub(x, tensor(NORM.mean, [1, 3, 1, 1])), tensor(NORM.std, [1, 3, 1, 1])));
}

/** A tiny ConvMixer with non-trivial BN statistics (a few training-mode forwards), in eval mode. */
function tinyMixer(patch: number, dim = 24): ConvMixer {
  manualSeed(3);
  const m = new ConvMixer({ dim, depth: 2, patch, kernel: 3 });
  noGrad(() => scope(() => void m.forward(rand([8, 3, 4 * patch, 4 * patch]))));
  m.eval();
  return m;
}

function cloneOf(m: ConvMixer): ConvMixer {
  const c = new ConvMixer(m.config);
  scope(() => void c.loadStateDict(m.stateDict()));
  c.eval();
  return c;
}

test('the registry builds convmixer-DIMxDEPTH-pP[-kK]', () => {
  const m = modelSpec('convmixer-32x2-p4-k3').create() as ConvMixer;
  assert.equal(m.patch, 4);
  assert.deepEqual(m.patchEmbedding.weight.shape, [32, 3, 4, 4]);
  assert.equal(m.config.kernel, 3);
  m.dispose();
});

test('folded model on ciphertext = plaintext model on normalised plaintext (uniform and orthogonal keys, k = 2 and 4)', () => {
  for (const kind of ['uniform', 'orthogonal'] as const) {
    for (const k of [2, 4]) {
      const plain = tinyMixer(k);
      const folded = cloneOf(plain);
      const key = deriveKey(secret, { kind, k });
      foldCipherIntoPatchEmbedding(folded.patchEmbedding, key, NORM);
      const cipher = new BlockCipher(key);
      scope(() => {
        const x = rand([4, 3, 4 * k, 4 * k]);
        const want = noGrad(() => plain.forward(normalised(x)));
        const got = noGrad(() => folded.forward(cipher.encrypt(x)));
        assert.ok(relError(got, want) < 1e-4, `${kind} k=${k}: relative error ${relError(got, want)}`);
        // Without the fold the model on ciphertext is far off (the check can fail).
        const unfolded = noGrad(() => plain.forward(cipher.encrypt(x)));
        assert.ok(relError(unfolded, want) > 0.05, `${kind} k=${k}: the unfolded model already matched`);
      });
      cipher.dispose();
      plain.dispose();
      folded.dispose();
    }
  }
});

test('the layout matters: folding the transposed key does not give the plaintext outputs', () => {
  const k = 4;
  const plain = tinyMixer(k);
  const folded = cloneOf(plain);
  const key = deriveKey(secret, { kind: 'uniform', k });
  const wrong = keyFromMatrices(
    'uniform',
    k,
    key.matrices.map((m) => transpose(m, k * k)),
    { maxCondition: 1e12 },
  );
  foldCipherIntoPatchEmbedding(folded.patchEmbedding, wrong, NORM);
  const cipher = new BlockCipher(key);
  scope(() => {
    const x = rand([4, 3, 16, 16]);
    const want = noGrad(() => plain.forward(normalised(x)));
    const got = noGrad(() => folded.forward(cipher.encrypt(x)));
    assert.ok(relError(got, want) > 0.05, `a transposed key folded to the right outputs (${relError(got, want)})`);
  });
  cipher.dispose();
  plain.dispose();
  folded.dispose();
});

test('holding both the plaintext and the folded weights recovers the key (D ≥ k²); not with D < k²', () => {
  const k = 4;
  const key = deriveKey(secret, { kind: 'uniform', k });
  for (const [dim, recoverable] of [
    [24, true],
    [8, false],
  ] as const) {
    const plain = tinyMixer(k, dim);
    const folded = cloneOf(plain);
    foldCipherIntoPatchEmbedding(folded.patchEmbedding, key, NORM);
    const rec = recoverKeyFromFold(foldNormalisation(patchWeightsOf(plain.patchEmbedding), NORM), patchWeightsOf(folded.patchEmbedding));
    const err = keyRelativeError(rec, key);
    if (recoverable) assert.ok(err < 1e-3, `relative error ${err}`);
    else assert.ok(!(err < 1e-3), `a rank-deficient embedding (D=${dim} < k²=16) gave the key (error ${err})`);
    plain.dispose();
    folded.dispose();
  }
});

test('refuses keys that cannot fold: hill256, shuffling, another block size', () => {
  const m = tinyMixer(4);
  assert.throws(() => foldCipherIntoPatchEmbedding(m.patchEmbedding, deriveKey(secret, { kind: 'hill256', k: 4 })), /hill256/);
  assert.throws(() => foldCipherIntoPatchEmbedding(m.patchEmbedding, deriveKey(secret, { kind: 'uniform', k: 4, shuffle: true })), /shuffl/);
  assert.throws(() => foldCipherIntoPatchEmbedding(m.patchEmbedding, deriveKey(secret, { kind: 'uniform', k: 2 })), /block size 2/);
  m.dispose();
});

test('leaks no tensors', checkLeaks);
