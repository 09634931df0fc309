// `nnlock demo`: the engine at work, then (with the shared fixtures beside the project) a real
// ResNet-20 protected with tiered keys: accuracy per tier, a bit-exact unlock, a wrong key
// refused, and a chart of the tiers. Without the fixtures, the same on a small synthetic model.
import type { Command } from 'commander';
import type { CliIO } from '../io.ts';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cuda, getNumThreads, libtorchVersion, liveTensors } from '../../tensor/index.ts';
import { DataLoader } from '../../data/loader.ts';
import { loadCifar10 } from '../../data/cifar10.ts';
import { subset } from '../../data/dataset.ts';
import { evaluateAccuracy } from '../../train/evaluate.ts';
import { modelSpec } from '../../models/index.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { protect, resolveLayers, tierTokens, unlock, weightImportance } from '../../protect/index.ts';
import { barChartSvg } from '../../io/svg-chart.ts';
import { modelFromFile as modelFor, readModelFile } from '../../models/load.ts';
import { normalisationFrom } from '../../data/normalisation.ts';
import { timeTrainingSteps } from './info.ts';
import { noGrad, scope } from '../../tensor/index.ts';
import { clamp, div } from '../../ops/arithmetic.ts';
import { toDtype } from '../../ops/convert.ts';
import { narrow } from '../../ops/shape.ts';
import type { AdaptationNetwork } from '../../er/adaptation.ts';
import { deriveKey, describeKey, randomSecret } from '../../cipher/key.ts';
import { BlockCipher } from '../../cipher/hill.ts';
import { readImagesTensor, tensorSource } from '../../cipher/data.ts';
import { blockPairStatistics, recoverFromStatistics } from '../../attacks/statistical.ts';
import { decryptorFromRecovery } from '../../er/statistical-init.ts';
import { minMaxScale, writeImageGrid } from '../../er/pictures.ts';
import { psnrPerImage } from '../../train/metrics.ts';

const DEFAULT_DATA = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');

export function registerDemo(program: Command, _io: CliIO): void {
  program
    .command('demo')
    .description('a tour: the engine, a real model protected with tiered keys, then block-encrypted images and what their statistics give away')
    .option('--data <folder>', 'the shared fixtures (CIFAR-10, weights)', process.env.NNLOCK_DATA ?? DEFAULT_DATA)
    .option('--images <n>', 'test images per tier evaluation', '1000')
    .option('-o, --out <folder>', 'where to write the demo files', 'runs/demo')
    .action(async (o: { data: string; images: string; out: string }) => {
      console.log(`== engine: libtorch ${libtorchVersion()}, ${getNumThreads()} threads, CUDA ${cuda.isAvailable() ? 'yes' : 'no'}`);
      const speed = timeTrainingSteps(3, 64, () => {});
      console.log(`   ResNet-20 training step, batch 64: ${speed.toFixed(0)} images/s`);
      mkdirSync(o.out, { recursive: true });
      const weights = join(o.data, 'weights', 'resnet20-cifar10.safetensors');
      const testBin = join(o.data, 'cifar10', 'test_batch.bin');
      if (!existsSync(weights) || !existsSync(testBin)) {
        console.log(`\n(the shared fixtures were not found at ${o.data}: pass --data to see a real model protected; see README.md)`);
        return;
      }

      console.log('\n== selective encryption of a pretrained ResNet-20 (CIFAR-10)');
      const file = await readModelFile(weights);
      const layers = resolveLayers(file.tensors);
      const importance = weightImportance('l1', file.tensors, layers);
      const result = await protect(file, { importance, ratio: 0.08, tiers: 3, architecture: 'resnet20' });
      const selected = result.layers.reduce((n, l) => n + l.selected, 0);
      const total = result.layers.reduce((n, l) => n + l.kernels, 0);
      console.log(`   protected ${selected} of ${total} kernels (8% per layer, L1 importance); decoys drawn from each layer's own distribution`);
      const tokens = tierTokens(result.masterKey, result.modelId, 3);

      const spec = modelSpec('resnet20');
      const test = await loadCifar10([testBin]);
      const images = Math.min(Number(o.images), test.length);
      const loader = new DataLoader(subset(test, Array.from({ length: images }, (_, i) => i)), {
        batchSize: 500, shuffle: false, ...normalisationFrom(file.metadata),
      });
      const accuracy: number[] = [];
      for (let tier = 0; tier <= 3; tier++) {
        const restored = tier === 0 ? result.file : unlock(result.file, tokens[tier - 1]).file;
        const model = modelFor(spec, restored, 'protected model');
        accuracy.push((await evaluateAccuracy(model, loader)).accuracy);
        model.dispose();
        const who = ['no key (the published file)', 'tier-1 key', 'tier-2 key', 'tier-3 key (master)'][tier];
        console.log(`   tier ${tier}: accuracy ${accuracy[tier].toFixed(4)} on ${images} test images  ← ${who}`);
      }
      const original = await readModelFile(weights);
      const full = unlock(result.file, tokens[2]).file;
      const identical = [...original.tensors].every(([name, e]) => Buffer.compare(Buffer.from(e.data), Buffer.from(full.tensors.get(name)!.data)) === 0);
      console.log(`   full key: all ${original.tensors.size} tensors ${identical ? 'bit-identical to the original' : 'DIFFER from the original'}`);
      try {
        unlock(result.file, tokens[0], { tier: 3 });
      } catch (e) {
        console.log(`   tier-1 key asking for tier 3: refused (${(e as Error).message})`);
      }
      const chart = join(o.out, 'resnet20-tiers.svg');
      await writeFileAtomic(chart, barChartSvg({
        title: 'ResNet-20 protected at 8%: accuracy by key tier', yLabel: 'test accuracy',
        categories: ['no key', 'tier 1', 'tier 2', 'tier 3'], series: [{ name: `${images} test images`, values: accuracy }], yMin: 0, yMax: 1,
      }));
      console.log(`   chart: ${chart}`);
      await cipherDemo(o.data, o.out);
      console.log(`\nlive tensors at the end: ${liveTensors()}`);
    });
}

/**
 * Block-wise encryption: a fresh random key, the first training batch encrypted, and the
 * ciphertext-only attack recovering the images from their statistics and another batch's.
 */
async function cipherDemo(data: string, out: string): Promise<void> {
  const target = join(data, 'cifar10', 'data_batch_1.bin');
  const prior = join(data, 'cifar10', 'data_batch_3.bin');
  if (!existsSync(target) || !existsSync(prior)) return;
  console.log('\n== block-wise image encryption (Hill cipher per 4×4 block and channel, uniform key)');
  const key = deriveKey(randomSecret(), { kind: 'uniform', k: 4, channels: 3 });
  const cipher = new BlockCipher(key);
  const { x } = await readImagesTensor(target);
  const p = await readImagesTensor(prior);
  const tensors = [x, p.x];
  let net: AdaptationNetwork | undefined;
  try {
    const plain = noGrad(() => div(toDtype(x, 'float32'), 255));
    tensors.push(plain);
    const encrypted = noGrad(() => cipher.encrypt(plain));
    tensors.push(encrypted);
    const priorImages = noGrad(() => div(toDtype(p.x, 'float32'), 255));
    tensors.push(priorImages);
    console.log(`   encrypted ${encrypted.shape[0]} training images with a fresh random key (${describeKey(key)})`);
    const t0 = performance.now();
    const recovery = recoverFromStatistics(await blockPairStatistics(tensorSource(encrypted), { k: 4 }), await blockPairStatistics(tensorSource(priorImages), { k: 4 }));
    net = decryptorFromRecovery(recovery);
    const seconds = (performance.now() - t0) / 1000;
    const shown = 8;
    const { psnr, columns } = noGrad(() => scope(() => {
      const y = narrow(encrypted, 0, 0, 500);
      const truth = narrow(plain, 0, 0, 500);
      const rec = clamp(net!.forward(y), 0, 1);
      const v = psnrPerImage(rec, truth);
      return {
        psnr: v.reduce((a, b) => a + b, 0) / v.length,
        columns: [
          { title: 'ciphertext', images: minMaxScale(narrow(y, 0, 0, shown)) },
          { title: 'recovered (no key)', images: narrow(rec, 0, 0, shown) },
          { title: 'plaintext', images: narrow(truth, 0, 0, shown) },
        ],
      };
    }));
    console.log(`   ciphertext-only attack (no key, no known plaintext; the statistics of another batch of CIFAR images): ${seconds.toFixed(1)} s,`);
    console.log(`   recovered images at ${psnr.toFixed(2)} dB PSNR against the plaintext (500 images)`);
    const grid = join(out, 'cipher-recovered.png');
    try {
      await writeImageGrid(grid, columns, { count: shown });
    } finally {
      for (const c of columns) c.images.dispose();
    }
    console.log(`   picture: ${grid}`);
  } finally {
    net?.dispose();
    cipher.dispose();
    for (const t of tensors) t.dispose();
  }
}

