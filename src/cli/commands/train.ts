// `nnlock train`: train a classifier (CIFAR-10 or an image folder) from scratch or from weights,
// with checkpoints that resume after an interruption, and a JSON log of the run.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { manualSeed } from '../../tensor/index.ts';
import { crossEntropy } from '../../ops/loss.ts';
import { SGD, cosine, multiStep } from '../../nn/index.ts';
import { modelSpec } from '../../models/index.ts';
import { loadWeights, saveWeights } from '../../models/weights.ts';
import { DataLoader } from '../../data/loader.ts';
import { train } from '../../train/loop.ts';
import { trainingProgress } from '../progress.ts';
import { evaluateAccuracy } from '../../train/evaluate.ts';
import { CIFAR10_MEAN, CIFAR10_STD, loadDataset, positiveInt, positiveNumber } from '../data-args.ts';

interface TrainArgs {
  arch: string; data: string; out: string; epochs: string; batch: string; lr: string; momentum: string; weightDecay: string;
  schedule: string; seed: string; limit?: string; testLimit?: string; init?: string; checkpoint?: string; log?: string; augment: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a classifier on CIFAR-10 (or an image folder) with checkpoints that resume')
    .requiredOption('-a, --arch <name>', 'architecture: resnet20|32|44|56|110, vgg11|13|16|19[-bn][-wX]')
    .requiredOption('-d, --data <folder>', 'CIFAR-10 folder (data_batch_N.bin, test_batch.bin) or image folder')
    .requiredOption('-o, --out <file>', 'where to write the trained weights (safetensors)')
    .option('--epochs <n>', 'epochs', '10')
    .option('--batch <n>', 'batch size', '128')
    .option('--lr <x>', 'learning rate', '0.1')
    .option('--momentum <x>', 'SGD momentum', '0.9')
    .option('--weight-decay <x>', 'weight decay', '5e-4')
    .option('--schedule <kind>', 'learning-rate schedule: cosine | step (×0.1 at 50% and 75%) | constant', 'cosine')
    .option('--seed <n>', 'seed of initialisation, order and augmentation', '0')
    .option('--limit <n>', 'train on the first n images only')
    .option('--test-limit <n>', 'evaluate on the first n test images only')
    .option('--init <file>', 'start from these weights instead of a fresh initialisation')
    .option('--checkpoint <file>', 'checkpoint written after every epoch; resumed from when it exists')
    .option('--log <file>', 'JSON log of the run (per-epoch loss, accuracy, speed)')
    .option('--no-augment', 'no random crop and flip')
    .addHelpText('after', '\nExample:\n  nnlock train -a resnet20 -d ../shared/data/cifar10 -o runs/r20.safetensors --epochs 5 --checkpoint runs/r20.ckpt')
    .action(async (o: TrainArgs) => {
      const spec = modelSpec(o.arch);
      if (spec.task !== 'classification') throw new Error(`${spec.name} is a ${spec.task} model; nnlock train trains classifiers`);
      const epochs = positiveInt(o.epochs, '--epochs');
      const seed = Number(o.seed);
      const lr = positiveNumber(o.lr, '--lr');
      const trainSet = await loadDataset(o.data, 'train', o.limit ? positiveInt(o.limit, '--limit') : undefined);
      const testSet = await loadDataset(o.data, 'test', o.testLimit ? positiveInt(o.testLimit, '--test-limit') : undefined);
      const norm = { mean: CIFAR10_MEAN, std: CIFAR10_STD };
      const loader = new DataLoader(trainSet, {
        batchSize: positiveInt(o.batch, '--batch'), seed, ...norm, augment: o.augment ? { crop: { padding: 4 }, hflip: true } : undefined,
      });
      const testLoader = new DataLoader(testSet, { batchSize: 500, shuffle: false, ...norm });
      manualSeed(seed);
      const model = spec.create();
      if (o.init) await loadWeights(model, o.init);
      const opt = new SGD(model.parameters(), { lr, momentum: Number(o.momentum), weightDecay: Number(o.weightDecay) });
      const schedule = o.schedule === 'cosine' ? cosine(lr, epochs) : o.schedule === 'step' ? multiStep(lr, [Math.floor(epochs * 0.5), Math.floor(epochs * 0.75)]) : undefined;
      if (!['cosine', 'step', 'constant'].includes(o.schedule)) throw new Error(`--schedule must be cosine, step or constant, got '${o.schedule}'`);
      if (o.checkpoint && existsSync(o.checkpoint)) console.error(`found checkpoint ${o.checkpoint}: resuming`);
      console.error(`training ${spec.name} (${model.parameterCount()} parameters) on ${trainSet.length} images, testing on ${testSet.length}`);
      try {
        const { history } = await train({
          model, optimizer: opt, epochs, schedule, seed, task: 'classification',
          data: loader,
          ...trainingProgress({}),
          loss: (out, y) => crossEntropy(out, y),
          evaluate: async (m) => ({ testAccuracy: (await evaluateAccuracy(m, testLoader)).accuracy }),
          checkpoint: o.checkpoint, logFile: o.log,
          info: { architecture: spec.name, data: o.data, seed: String(seed) },
        });
        await saveWeights(model, o.out, {
          architecture: spec.name, input_mean: norm.mean.join(','), input_std: norm.std.join(','),
          trained_by: 'nnlock train', epochs: String(epochs), test_accuracy: String(history.at(-1)?.testAccuracy ?? ''),
        });
        console.log(`wrote ${o.out}: test accuracy ${history.at(-1)?.testAccuracy?.toFixed(4)} after ${history.length} epochs`);
      } finally {
        opt.dispose();
        model.dispose();
      }
    });
}
