// `nnlock model train`: train a classifier (CIFAR-10 or an image folder) from scratch or from
// initial weights, with checkpoints that resume after an interruption and a JSON log of the run.
import type { Command } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { trainingProgress } from '../../progress.ts';
import { withProcessGroup } from '../../distributed.ts';
import { distributedEnv } from '../../../distributed/index.ts';
import { SCHEDULE_KINDS, type ScheduleKind, type TrainingStart, trainClassifier } from '../../../train/classifier.ts';

interface TrainFlags {
  arch: string;
  data: string;
  test?: string;
  valSplit?: number;
  out: string;
  epochs: number;
  batch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: ScheduleKind;
  seed: number;
  limit?: number;
  testLimit?: number;
  classes?: number[];
  init?: string;
  checkpoint?: string;
  log?: string;
  augment: boolean;
  device: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerModelTrain(model: Command, io: CliIO): void {
  const cmd = model
    .command('train')
    .description('train a classifier on CIFAR-10 (or an image folder) with checkpoints that resume')
    .addOption(option(FLAG.arch, 'architecture: resnet20|32|44|56|110, vgg11|13|16|19[-bn][-wX]').makeOptionMandatory())
    .addOption(option(FLAG.data, 'training data: CIFAR-10 folder or .bin file(s), or an image folder with class subfolders').makeOptionMandatory())
    .addOption(option(FLAG.test, 'held-out data evaluated after every epoch (default: the test split of a CIFAR-10 folder, the val/ or test/ folder beside train/)'))
    .addOption(option('--val-split <fraction>', 'hold out this fraction of each class of the training data (seeded), for data without a split', parse.fraction))
    .addOption(option(FLAG.out, 'where to write the trained weights (safetensors)').makeOptionMandatory())
    .addOption(option(FLAG.epochs, 'epochs', parse.positiveInt, 10))
    .addOption(option(FLAG.batch, 'batch size', parse.positiveInt, 128))
    .addOption(option(FLAG.lr, 'learning rate', parse.positiveNumber, 0.1))
    .addOption(option('--momentum <x>', 'SGD momentum', parse.nonNegativeNumber, 0.9))
    .addOption(option('--weight-decay <x>', 'weight decay', parse.nonNegativeNumber, 5e-4))
    .addOption(option('--schedule <kind>', 'learning-rate schedule: cosine | step (×0.1 at 50% and 75%) | constant', parse.oneOf(SCHEDULE_KINDS), 'cosine'))
    .addOption(option(FLAG.seed, 'seed of initialisation, order and augmentation', parse.int(), 0))
    .addOption(option(FLAG.limit, 'train on the first n images only', parse.positiveInt))
    .addOption(option('--test-limit <n>', 'evaluate on the first n held-out images only', parse.positiveInt))
    .addOption(option(FLAG.classes, 'train and test on these classes only, relabelled 0..n-1 in this order ("0-4": a backbone for the other classes)', parse.classList))
    .option('--init <file>', 'start from these weights instead of a fresh initialisation')
    .option('--checkpoint <file>', 'checkpoint written after every epoch; resumed from when it exists')
    .option('--log <file>', 'JSON log of the run (per-epoch loss, accuracy, speed)')
    .option('--no-augment', 'no random crop and flip')
    .addOption(option(FLAG.force, 'replace the weights file if it exists'))
    .addOption(deviceOption(io.env))
    .addHelpText('after', '\nExample:\n  nnlock model train -a resnet20 -d ../shared/data/cifar10 -o runs/r20.safetensors --epochs 5 --checkpoint runs/r20.ckpt');
  withOutputFlags(cmd).action(async (o: TrainFlags) => {
    const out = new Output(io, o);
    // Under `nnlock launch` (or torchrun's variables): one rank of a data-parallel job.
    const { model, history, testAccuracy, resumedFrom } = await withProcessGroup(io.env, (group) =>
      trainClassifier({
        group,
        architecture: o.arch,
        device: o.device,
        data: o.data,
        test: o.test,
        valSplit: o.valSplit,
        limit: o.limit,
        testLimit: o.testLimit,
        classSubset: o.classes,
        epochs: o.epochs,
        batch: o.batch,
        lr: o.lr,
        momentum: o.momentum,
        weightDecay: o.weightDecay,
        schedule: o.schedule,
        seed: o.seed,
        augment: o.augment,
        init: o.init,
        checkpoint: o.checkpoint,
        log: o.log,
        out: o.out,
        overwrite: o.force,
        onStart: (s) => out.note(`training ${s.architecture} (${s.parameters} parameters) on ${s.trainImages} images, ${heldOutNote(s)}`),
        ...trainingProgress({ quiet: o.quiet, stream: out.progressStream as NodeJS.WriteStream | undefined }),
      }),
    );
    model.dispose();
    const score = testAccuracy === undefined ? 'no test data' : `test accuracy ${testAccuracy.toFixed(4)}`;
    const rank = distributedEnv(io.env)?.rank ?? 0;
    const text = rank === 0 ? `wrote ${o.out}: ${score} after ${history.length} epochs` : `rank ${rank} done: rank 0 wrote ${o.out}`;
    out.result({ weights: o.out, architecture: o.arch, epochs: history.length, resumedFrom, testAccuracy: testAccuracy ?? null, history, rank }, text);
  });
}

function heldOutNote(s: TrainingStart): string {
  if (s.heldOut === 'none') return 'no held-out data (pass --test or --val-split, or put train/ and val/ folders in the data folder)';
  const from = s.heldOut === 'val-split' ? ' held out by --val-split' : s.heldOut === 'split' ? " of the data's held-out split" : '';
  return `testing on ${s.testImages}${from}`;
}
