// The adaptation network and the Encryption-Robust model: the aligned network represents the exact
// inverse of the cipher (weights set analytically from K⁻¹), the padded one cannot (structurally, and
// by the least-squares optimum over all its weights), identity init, PyTorch names, training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Tensor, manualSeed, noGrad, scope, tensor } from '../../src/tensor/index.ts';
import { rand, randint } from '../../src/ops/creation.ts';
import { abs, add, div, sub } from '../../src/ops/arithmetic.ts';
import { max, norm } from '../../src/ops/reduction.ts';
import { toDtype } from '../../src/ops/convert.ts';
import { cat, narrow, reshape } from '../../src/ops/shape.ts';
import { linalgLstsq } from '../../src/ops/linalg.ts';
import { matmul } from '../../src/ops/linear.ts';
import { crossEntropy } from '../../src/ops/loss.ts';
import { AdaptiveAvgPool2d, Conv2d, Flatten, Linear, ReLU, SGD, Sequential } from '../../src/nn/index.ts';
import { AdaptationNetwork } from '../../src/er/adaptation.ts';
import { EncryptionRobustModel, encryptionRobustModel } from '../../src/er/model.ts';
import { resnetCifar } from '../../src/models/resnet-cifar.ts';
import { deriveKey } from '../../src/cipher/key.ts';
import { BlockCipher } from '../../src/cipher/hill.ts';
import { trackLeaks } from '../helpers/leaks.ts';

const checkLeaks = trackLeaks();
const secret = new Uint8Array(32).fill(42);

function relError(a: Tensor, b: Tensor): number {
  return scope(() => norm(sub(a, b)).item() / norm(b).item());
}

function tinyBackbone(): Sequential {
  return new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten(1), new Linear(4, 10));
}

test('aligned adaptation network represents the exact inverse of the cipher (weights from K⁻¹)', () => {
  manualSeed(1);
  for (const kind of ['uniform', 'orthogonal'] as const) {
    for (const k of [4, 8]) {
      const key = deriveKey(secret, { kind, k, channels: 3 });
      const cipher = new BlockCipher(key);
      const net = new AdaptationNetwork({ k, variant: 'aligned' });
      try {
        net.setBlockInverse(key.inverses);
        noGrad(() =>
          scope(() => {
            const x = rand([4, 3, 32, 32]);
            const out = net.forward(cipher.encrypt(x));
            const e = relError(out, x);
            assert.ok(e <= 1e-5, `${kind} k=${k}: adaptation output = plaintext (relative error ${e})`);
          }),
        );
        // With the backbone's normalisation folded in: output = (plaintext − mean) / std.
        const mean = [0.485, 0.456, 0.406];
        const std = [0.229, 0.224, 0.225];
        net.setBlockInverse(key.inverses, { mean, std });
        noGrad(() =>
          scope(() => {
            const x = rand([2, 3, 32, 32]);
            const want = div(sub(x, tensor(mean, [1, 3, 1, 1])), tensor(std, [1, 3, 1, 1]));
            assert.ok(relError(net.forward(cipher.encrypt(x)), want) <= 1e-5);
          }),
        );
      } finally {
        net.dispose();
        cipher.dispose();
      }
    }
  }
});

test('identity init: the aligned network is the identity; the padded one a one-pixel shift', () => {
  manualSeed(2);
  const aligned = new AdaptationNetwork({ k: 4, init: 'identity' });
  const padded = new AdaptationNetwork({ k: 4, variant: 'padded', init: 'identity' });
  try {
    noGrad(() =>
      scope(() => {
        const x = rand([2, 3, 16, 16]);
        assert.equal(max(abs(sub(aligned.forward(x), x))).item(), 0);
        const y = padded.forward(x);
        // out[.., i, j] = x[.., i−1, j−1] inside, 0 on the first row and column.
        const inner = narrow(narrow(y, 2, 1, 15), 3, 1, 15);
        const shifted = narrow(narrow(x, 2, 0, 15), 3, 0, 15);
        assert.equal(max(abs(sub(inner, shifted))).item(), 0);
        assert.equal(max(abs(narrow(y, 2, 0, 1))).item(), 0);
      }),
    );
  } finally {
    aligned.dispose();
    padded.dispose();
  }
});

test('padded adaptation network cannot be exact: an output block never sees part of its ciphertext block', () => {
  manualSeed(3);
  const k = 4;
  const key = deriveKey(secret, { kind: 'orthogonal', k, channels: 3 });
  const cipher = new BlockCipher(key);
  const net = new AdaptationNetwork({ k, variant: 'padded' }); // random weights: any weights behave the same
  try {
    noGrad(() =>
      scope(() => {
        // 1. Structure: changing ciphertext pixel (k−1, k−1) of block (0, 0) changes the plaintext of
        //    block (0, 0) but not the network's output there, whatever the weights.
        const x = rand([1, 3, 16, 16]);
        const y = cipher.encrypt(x);
        const bump = tensor(
          Array.from({ length: 3 * 16 * 16 }, (_, i) => (i % 256 === (k - 1) * 16 + (k - 1) ? 1 : 0)),
          [1, 3, 16, 16],
        );
        const y2 = add(y, bump);
        const blk = (t: Tensor) => narrow(narrow(t, 2, 0, k), 3, 0, k);
        assert.equal(max(abs(sub(blk(net.forward(y2)), blk(net.forward(y))))).item(), 0, 'the output block ignores that pixel');
        assert.ok(max(abs(sub(blk(cipher.decrypt(y2)), blk(x)))).item() > 1e-3, 'the plaintext block depends on it');

        // 2. The best the padded network can do, over ALL its weights: each output block is an affine
        //    function of its window (C·k² inputs), so fit the plaintext block from the window by least
        //    squares over many images. The aligned window fits exactly; the padded one cannot.
        const n = 600;
        const xs = rand([n, 3, 3 * k, 3 * k]);
        const ys = cipher.encrypt(xs);
        const windowAt = (t: Tensor, r0: number, c0: number) => reshape(narrow(narrow(t, 2, r0, k), 3, c0, k), [n, 3 * k * k]);
        const target = windowAt(xs, k, k); // plaintext block (1, 1), all channels
        const fit = (features: Tensor) => {
          const design = toDtype(cat([features, tensor(new Float32Array(n).fill(1), [n, 1])], 1), 'float64');
          const t64 = toDtype(target, 'float64');
          const { solution } = linalgLstsq(design, t64, { driver: 'gelsd' });
          return norm(sub(matmul(design, solution), t64)).item() / norm(t64).item();
        };
        const alignedResidual = fit(windowAt(ys, k, k));
        const paddedResidual = fit(windowAt(ys, k - 1, k - 1));
        assert.ok(alignedResidual < 1e-5, `aligned window: exact (${alignedResidual})`);
        if (process.env.NNLOCK_VERBOSE) console.log('padded residual', paddedResidual, 'aligned', alignedResidual);
        assert.ok(paddedResidual > 0.1, `padded window: best relative error ${paddedResidual.toFixed(3)} > 0.1`);
      }),
    );
  } finally {
    net.dispose();
    cipher.dispose();
  }
});

test('configuration errors are clear', () => {
  assert.throws(() => new AdaptationNetwork({ k: 2, variant: 'padded' }), /padded variant needs k ≥ 3/);
  assert.throws(() => new AdaptationNetwork({ k: 0 }), /k must be a positive integer/);
  assert.throws(() => new AdaptationNetwork({ k: 4, variant: 'shifted' as never }), /variant must be/);
  assert.throws(() => new AdaptationNetwork({ k: 4, init: 'zeros' as never }), /init must be/);
  const net = new AdaptationNetwork({ k: 4 });
  try {
    scope(() => {
      assert.throws(() => net.forward(rand([1, 3, 30, 32])), /not a multiple of k=4/);
      assert.throws(() => net.forward(rand([1, 1, 32, 32])), /expected input \[N, 3, H, W\]/);
    });
    assert.throws(() => net.setBlockInverse([new Float64Array(256)]), /1 matrices for 3 channels/);
  } finally {
    net.dispose();
  }
});

test('Encryption-Robust model: PyTorch names adaptation.* then backbone.*; shapes as torch.nn', () => {
  const model = encryptionRobustModel(resnetCifar(20), { k: 4 });
  try {
    const names = [...model.stateDict().keys()];
    assert.deepEqual(names.slice(0, 4), ['adaptation.conv.weight', 'adaptation.conv.bias', 'adaptation.deconv.weight', 'adaptation.deconv.bias']);
    assert.equal(names[4], 'backbone.conv1.weight');
    assert.ok(names.includes('backbone.layer3.2.bn2.running_var'));
    assert.ok(names.includes('backbone.linear.bias'));
    const sd = model.stateDict();
    assert.deepEqual(sd.get('adaptation.conv.weight')!.shape, [48, 3, 4, 4]);
    assert.deepEqual(sd.get('adaptation.deconv.weight')!.shape, [48, 3, 4, 4]);
    assert.deepEqual(sd.get('adaptation.deconv.bias')!.shape, [3]);
  } finally {
    model.dispose();
  }
  const plain = new EncryptionRobustModel(null, tinyBackbone());
  try {
    assert.ok([...plain.stateDict().keys()].every((n) => n.startsWith('backbone.')));
    scope(() => assert.throws(() => plain.adapt(tensor([0])), /no adaptation network/));
  } finally {
    plain.dispose();
  }
});

test('training moves the adaptation network; replaceBackbone keeps it and swaps the backbone', () => {
  manualSeed(4);
  const model = new EncryptionRobustModel(new AdaptationNetwork({ k: 4 }), tinyBackbone());
  const opt = new SGD(model.parameters(), { lr: 0.1 });
  try {
    const before = model.adaptation!.conv.weight.toArray();
    const losses: number[] = [];
    const x = rand([8, 3, 16, 16]);
    const y = randint(0, 10, [8]);
    for (let i = 0; i < 3; i++) {
      losses.push(
        scope(() => {
          opt.zeroGrad();
          const l = crossEntropy(model.forward(x), y);
          l.backward();
          opt.step();
          return l.item();
        }),
      );
    }
    x.dispose();
    y.dispose();
    assert.ok(losses[2] < losses[0], `loss falls: ${losses.map((v) => v.toFixed(4)).join(' → ')}`);
    const adaptWeight = model.adaptation!.conv.weight;
    assert.notDeepEqual(adaptWeight.toArray(), before);
    const oldBackbone = model.backbone;
    const old = model.replaceBackbone(tinyBackbone());
    assert.equal(old, oldBackbone);
    assert.notEqual(model.backbone, oldBackbone);
    old.dispose();
    assert.equal(model.adaptation!.conv.weight, adaptWeight, 'same adaptation tensors');
    assert.equal(model.stateDict().get('backbone.0.weight'), (model.backbone as Sequential).layers[0] instanceof Conv2d ? ((model.backbone as Sequential).layers[0] as Conv2d).weight : null);
  } finally {
    opt.dispose();
    model.dispose();
  }
});

test('leaks no tensors', checkLeaks);
