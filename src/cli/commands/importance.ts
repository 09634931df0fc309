// `nnlock importance`: score every kernel of a model's conv layers once and save the scores, so
// `nnlock protect --importance` can reuse them (PSS takes minutes; the others take a moment).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import {
  type ImportanceMap, PSS_DEFAULTS, WEIGHT_ONLY_STRATEGIES, type WeightStrategy, assertStrategy, pssImportance, resolveLayers, saveImportance,
  taskLoss, taylorImportance, weightImportance, weightsDigest,
} from '../../protect/index.ts';
import { progress } from '../progress.ts';
import { architectureOf, modelFor, parseLayers, parseSeed, positiveInt, readModelFile, requireArchitecture, trainingData } from './protect-args.ts';

interface ImportanceCliOptions {
  out: string;
  arch?: string;
  strategy: string;
  data?: string;
  layers?: string;
  images: string;
  epochs: string;
  batch: string;
  lr: string;
  lambda: string;
  droprateInit: string;
  batches: string;
  sigma: string;
  seed: string;
  force?: boolean;
}

export function registerImportance(program: Command): void {
  program
    .command('importance')
    .description('score the kernels of a model\'s conv layers and save the scores for `nnlock protect --importance`')
    .argument('<model>', 'model weights (safetensors)')
    .requiredOption('-o, --out <file>', 'importance file to write (safetensors)')
    .option('-a, --arch <name>', 'architecture, when the file does not say (resnet20, vgg16-bn, dncnn-17)')
    .option('-s, --strategy <name>', 'pss | taylor | l1 | magnitude | magnitude-asc | closest-mean | random', 'pss')
    .option('-d, --data <path>', 'training data for pss/taylor: a CIFAR-10 folder or .bin file(s) (cifar10:<dir> also accepted); for denoisers a folder of images')
    .option('--layers <names>', 'comma-separated conv layers (weight or module names); default all')
    .option('--images <n>', 'pss/taylor: training images (or patches) used', '1024')
    .option('--epochs <n>', 'pss: passes over the images per layer', String(PSS_DEFAULTS.epochs))
    .option('--batch <n>', 'pss/taylor: batch size', '128')
    .option('--lr <x>', 'pss: Adam learning rate on log α', String(PSS_DEFAULTS.lr))
    .option('--lambda <x>', 'pss: weight of the L0 penalty', String(PSS_DEFAULTS.lambda))
    .option('--droprate-init <p>', 'pss: initial drop rate of the gates (log α starts at log((1−p)/p))', String(PSS_DEFAULTS.droprateInit))
    .option('--batches <n>', 'taylor: batches averaged', '8')
    .option('--sigma <s>', 'denoisers: noise σ on the 0..255 scale', '25')
    .option('--seed <n>', 'seed of the data order, gate noise and the random strategy', '0')
    .option('--force', 'overwrite the output file')
    .addHelpText('after', `
Cost: pss runs, for each conv layer, epochs × images / batch training steps with the weights frozen
(ResNet-20 with the defaults: 19 layers × 16 steps of 128 images, a few minutes on 2 CPU cores);
taylor runs --batches forward/backward passes; the other strategies only read the weights.

Example:
  nnlock importance ../shared/data/weights/resnet20-cifar10.safetensors -a resnet20 \\
    -s pss -d cifar10:../shared/data/cifar10 -o resnet20.pss.safetensors`)
    .action(async (path: string, o: ImportanceCliOptions) => {
      const strategy = assertStrategy(o.strategy);
      if (!o.force && existsSync(o.out)) throw new Error(`${o.out} exists (use --force to overwrite)`);
      const file = await readModelFile(path);
      const spec = architectureOf(o.arch, file.metadata);
      const layers = resolveLayers(file.tensors, parseLayers(o.layers));
      const seed = parseSeed(o.seed);
      const t0 = performance.now();
      let scores: ImportanceMap;
      let settings: Record<string, unknown> = { seed };
      if ((WEIGHT_ONLY_STRATEGIES as readonly string[]).includes(strategy)) {
        if (spec) modelFor(spec, file, path).dispose(); // a wrong --arch is an error even here
        scores = weightImportance(strategy as WeightStrategy, file.tensors, layers, seed);
      } else {
        const s = requireArchitecture(spec, path, `strategy ${strategy}`);
        if (!o.data) throw new Error(`strategy ${strategy} needs training data: pass --data <CIFAR-10 folder> (or an image folder for denoisers)`);
        const images = positiveInt(o.images, '--images');
        const batch = positiveInt(o.batch, '--batch');
        const data = await trainingData(s, o.data, file.metadata, { images, batch, seed, sigma: Number(o.sigma) });
        const model = modelFor(s, file, path);
        try {
          const loss = taskLoss(s.task);
          const names = layers.map((l) => l.name);
          if (strategy === 'pss') {
            const epochs = positiveInt(o.epochs, '--epochs');
            const pss = { epochs, lr: Number(o.lr), lambda: Number(o.lambda), droprateInit: Number(o.droprateInit), seed };
            settings = { ...pss, images, batch, data: o.data, ...(s.task === 'denoising' ? { sigma: Number(o.sigma) } : {}) };
            const stepsPerLayer = epochs * Math.ceil(images / batch);
            const bar = progress('pss', names.length * stepsPerLayer, { unit: 'steps/s' });
            let done = 0;
            scores = await pssImportance(model, data, {
              ...pss, loss, layers: names,
              onStep: (info) => bar.update(++done, { layer: `${info.layerIndex + 1}/${info.layerCount}`, loss: info.loss }),
            });
            bar.stop();
          } else {
            const batches = positiveInt(o.batches, '--batches');
            settings = { batches, batch, images, seed, data: o.data };
            scores = await taylorImportance(model, data, { loss, layers: names, batches });
          }
        } finally {
          model.dispose();
        }
      }
      const source = Buffer.from(weightsDigest(file.tensors)).toString('hex');
      await saveImportance(o.out, scores, { strategy, settings, source, architecture: spec?.name });
      const seconds = (performance.now() - t0) / 1000;
      console.log(`${strategy} importance of ${scores.size} conv layer${scores.size === 1 ? '' : 's'} (${layers.reduce((n, l) => n + l.kernels, 0)} kernels) written to ${o.out} in ${seconds.toFixed(1)} s`);
    });
}
