// `nnlock demo`: the engine at work, then (with the shared fixtures beside the project) a real
// ResNet-20 protected with tiered keys: accuracy per tier, a bit-exact unlock, a wrong key
// refused, and a chart of the tiers. Without the fixtures, the same on a small synthetic model.
import type { Command } from 'commander';
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
import { modelFor, readModelFile } from '../model-args.ts';
import { normalisationFrom } from '../data-args.ts';
import { timeTrainingSteps } from './info.ts';

const DEFAULT_DATA = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a tour: the engine, then a real model protected with tiered keys')
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
        accuracy.push(await evaluateAccuracy(model, loader, { quiet: true }));
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
      console.log(`\nlive tensors at the end: ${liveTensors()}`);
    });
}
