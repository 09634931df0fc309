// `nnlock demo`: the engine at work, then (with the shared fixtures beside the project) a real
// ResNet-20 protected with tiered keys: accuracy per tier, a bit-exact unlock, a wrong key
// refused, and a chart of the tiers; then block-encrypted images and what their statistics give
// away (the ciphertext-only attack). Without the fixtures, only the engine.
import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../io.ts';
import { FLAG, option, parse } from '../options.ts';
import { liveTensors } from '../../tensor/index.ts';
import { DataLoader } from '../../data/loader.ts';
import { loadCifar10 } from '../../data/cifar10.ts';
import { subset } from '../../data/dataset.ts';
import { evaluateAccuracy } from '../../train/evaluate.ts';
import { timeTrainingSteps } from '../../train/step-timing.ts';
import { modelSpec } from '../../models/index.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import { barChartSvg } from '../../io/svg-chart.ts';
import { protectModel, unlockModel } from '../../protect/index.ts';
import { describeKey, generateKey } from '../../cipher/key.ts';
import { attackEncryptedImages } from '../../attacks/statistical-attack.ts';
import { modelFromFile as modelFor, readModelFile } from '../../models/load.ts';
import { normalisationFrom } from '../../data/normalisation.ts';
import { engineFacts } from './info.ts';

const DEFAULT_DATA = resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data');

interface DemoFlags extends OutputFlags {
  data: string;
  limit: number;
  out: string;
}

export function registerDemo(program: Command, io: CliIO): void {
  withOutputFlags(program.command('demo'))
    .description('a tour: the engine, a real model protected with tiered keys, then block-encrypted images and what their statistics give away')
    .addOption(option(FLAG.data, 'the shared fixtures (CIFAR-10, weights)', undefined, io.env.NNLOCK_DATA ?? DEFAULT_DATA))
    .addOption(option(FLAG.limit, 'test images per tier evaluation', parse.positiveInt, 1000))
    .addOption(option(FLAG.out, 'where to write the demo files', undefined, 'runs/demo'))
    .action(async (o: DemoFlags) => {
      const out = new Output(io, o);
      const engine = { ...engineFacts(), imagesPerSecond: timeTrainingSteps(3, 64) };
      const lines = [
        `== engine: libtorch ${engine.libtorch}, ${engine.threads} threads, CUDA ${engine.cudaDevices ? 'yes' : 'no'}`,
        `   ResNet-20 training step, batch 64: ${engine.imagesPerSecond.toFixed(0)} images/s`,
      ];
      const cifar = join(o.data, 'cifar10');
      const weights = join(o.data, 'weights', 'resnet20-cifar10.safetensors');
      if (![weights, join(cifar, 'test_batch.bin'), join(cifar, 'data_batch_1.bin'), join(cifar, 'data_batch_3.bin')].every(existsSync)) {
        out.result({ engine, fixtures: null }, [...lines, '', `(the shared fixtures were not found at ${o.data}: pass --data to see a real model protected; see README.md)`]);
        return;
      }
      mkdirSync(o.out, { recursive: true });
      out.note('protecting a pretrained ResNet-20 and evaluating every tier ...');
      const tiers = await protectedTiers(weights, join(cifar, 'test_batch.bin'), o.limit, join(o.out, 'resnet20-tiers.svg'));
      out.note('encrypting a training batch and attacking it from image statistics ...');
      const key = generateKey({ kind: 'uniform', k: 4, channels: 3 });
      const attack = await attackEncryptedImages(join(cifar, 'data_batch_1.bin'), join(cifar, 'data_batch_3.bin'), key, { scoreImages: 500, grid: join(o.out, 'cipher-recovered.png') });
      const who = ['no key (the published file)', 'tier-1 key', 'tier-2 key', 'tier-3 key (master)'];
      out.result({ engine, protect: tiers, cipher: { key: describeKey(key), ...attack }, liveTensors: liveTensors() }, [
        ...lines,
        '',
        '== selective encryption of a pretrained ResNet-20 (CIFAR-10)',
        `   protected ${tiers.selected} of ${tiers.kernels} kernels (8% per layer, L1 importance); decoys drawn from each layer's own distribution`,
        ...tiers.accuracy.map((a, t) => `   tier ${t}: accuracy ${a.toFixed(4)} on ${tiers.images} test images  ← ${who[t]}`),
        `   full key: all ${tiers.tensors} tensors ${tiers.identical ? 'bit-identical to the original' : 'DIFFER from the original'}`,
        `   tier-1 key asking for tier 3: ${tiers.refused ? `refused (${tiers.refused})` : 'NOT refused'}`,
        `   chart: ${tiers.chart}`,
        '',
        '== block-wise image encryption (Hill cipher per 4×4 block and channel, uniform key)',
        `   encrypted ${attack.cipherImages} training images with a fresh random key (${describeKey(key)})`,
        `   ciphertext-only attack (no key, no known plaintext; the statistics of another batch of CIFAR images): ${attack.seconds.toFixed(1)} s,`,
        `   recovered images at ${attack.recovered?.psnr.toFixed(2)} dB PSNR against the plaintext (${attack.recovered?.images} images)`,
        `   picture: ${attack.grid}`,
        '',
        `live tensors at the end: ${liveTensors()}`,
      ]);
    });
}

/**
 * The protect part of the tour: ResNet-20 protected at 8 % (L1 importance, 3 tiers), its accuracy
 * at every tier, the full unlock compared bit for bit, a tier-1 key refused tier 3, and a chart.
 */
async function protectedTiers(weights: string, testBin: string, limit: number, chart: string) {
  const file = await readModelFile(weights);
  const result = await protectModel(file, { importance: 'l1', ratio: 0.08, tiers: 3, architecture: 'resnet20' });
  const tokens = result.tokens;
  const test = await loadCifar10([testBin]);
  const images = Math.min(limit, test.length);
  const loader = new DataLoader(
    subset(
      test,
      Array.from({ length: images }, (_, i) => i),
    ),
    { batchSize: 500, shuffle: false, ...normalisationFrom(file.metadata) },
  );
  const accuracy: number[] = [];
  for (let tier = 0; tier <= 3; tier++) {
    const model = modelFor(modelSpec('resnet20'), tier === 0 ? result.file : (await unlockModel(result.file, tokens[tier - 1])).file, 'protected model');
    accuracy.push((await evaluateAccuracy(model, loader)).accuracy);
    model.dispose();
  }
  const original = await readModelFile(weights);
  const full = (await unlockModel(result.file, tokens[2])).file;
  const identical = [...original.tensors].every(([name, e]) => Buffer.compare(Buffer.from(e.data), Buffer.from(full.tensors.get(name)!.data)) === 0);
  let refused: string | null = null;
  try {
    await unlockModel(result.file, tokens[0], { tier: 3 });
  } catch (e) {
    refused = (e as Error).message;
  }
  await writeFileAtomic(
    chart,
    barChartSvg({
      title: 'ResNet-20 protected at 8%: accuracy by key tier',
      yLabel: 'test accuracy',
      categories: ['no key', 'tier 1', 'tier 2', 'tier 3'],
      series: [{ name: `${images} test images`, values: accuracy }],
      yMin: 0,
      yMax: 1,
    }),
  );
  return {
    selected: result.layers.reduce((n, l) => n + l.selected, 0),
    kernels: result.layers.reduce((n, l) => n + l.kernels, 0),
    images,
    accuracy,
    tensors: original.tensors.size,
    identical,
    refused,
    chart,
  };
}
