// `nnlock model eval`: top-1 accuracy of a classifier on a dataset; a protected model runs as
// published, or unlocked in memory with a key.
import type { Command } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { batchProgress } from '../../progress.ts';
import { evaluateClassifier } from '../../../train/evaluate-classifier.ts';
import { type UnlockFlags, commandWeights, protectionNote, unlockOptions } from './protected-weights.ts';

interface EvalFlags extends UnlockFlags {
  weights: string;
  data: string;
  arch?: string;
  module?: string;
  split: 'train' | 'val' | 'test';
  batch: number;
  device: string;
  limit?: number;
  mean?: number[];
  std?: number[];
  json?: boolean;
  quiet?: boolean;
}

export function registerModelEval(model: Command, io: CliIO): void {
  const cmd = model
    .command('eval')
    .description('top-1 accuracy of a classifier on a dataset')
    .addOption(option(FLAG.weights, 'model weights (safetensors), plain or protected').makeOptionMandatory())
    .addOption(option(FLAG.data, 'CIFAR-10 .bin file(s) or folder, or an image folder with class subfolders').makeOptionMandatory())
    .addOption(option(FLAG.arch, 'architecture, when the file does not say (resnet20, vgg16-bn, ...)'))
    .addOption(option(FLAG.module, 'your own classifier as a TorchScript file (torch.jit.script(model).save), the weights loaded into it; instead of --arch').conflicts('arch'))
    .addOption(option('--split <split>', 'split of a CIFAR-10 folder or of an image folder with train/ val/ test/ folders', parse.oneOf(['train', 'val', 'test'] as const), 'test'))
    .addOption(option(FLAG.batch, 'batch size', parse.positiveInt, 500))
    .addOption(option(FLAG.limit, 'evaluate only the first n images', parse.positiveInt))
    .addOption(option('--mean <r,g,b>', 'input normalisation mean (default: from the weights file, else CIFAR-10)', parse.triple))
    .addOption(option('--std <r,g,b>', 'input normalisation std (default: from the weights file, else CIFAR-10)', parse.triple))
    .addOption(deviceOption(io.env));
  for (const opt of unlockOptions()) cmd.addOption(opt);
  cmd.addHelpText('after', '\nExample:\n  nnlock model eval -w ../shared/data/weights/resnet20-cifar10.safetensors -d ../shared/data/cifar10/test_batch.bin');
  withOutputFlags(cmd).action(async (o: EvalFlags) => {
    const out = new Output(io, o);
    const weights = await commandWeights(o.weights, o, io.env);
    let onBatch: ReturnType<typeof batchProgress> | undefined;
    const stream = out.progressStream as NodeJS.WriteStream | null;
    const r = await evaluateClassifier(weights.file, o.data, {
      arch: o.arch,
      module: o.module,
      split: o.split,
      batch: o.batch,
      device: o.device,
      limit: o.limit,
      normalisation: { mean: o.mean, std: o.std },
      source: o.weights,
      onBatch: stream ? (done, total, acc) => (onBatch ??= batchProgress('eval', total, { stream }))(done, total, acc) : undefined,
    });
    out.result(
      { ...r, ...weights.protection },
      `accuracy ${r.accuracy.toFixed(4)} on ${r.images} images (${r.architecture}${protectionNote(weights)}, ${r.seconds.toFixed(1)} s, ${(r.images / r.seconds).toFixed(0)} images/s)`,
    );
  });
}
