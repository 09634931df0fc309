// `nnlock er train`: trains an Encryption-Robust model on block-encrypted images
// (trainEncryptionRobust), one or several rounds, with progress from its callbacks.
import type { Command } from 'commander';
import { describeKey } from '../../../cipher/key.ts';
import { ER_INITS, type ErInitReport, trainEncryptionRobust } from '../../../er/train.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { trainingProgress } from '../../progress.ts';
import { type ErTrainFlags, erTrainSetup } from './train-args.ts';
import { jobGroup } from '../../distributed.ts';

/** The init's report as one line (whitening: its eigenvalue range; statistical: what it read). */
function initLine(r: ErInitReport): string | null {
  if (r.kind === 'whiten')
    return `adaptation network whitened from ${r.images} training images (window eigenvalues ${r.eigenvalueRange.map((v) => v.toExponential(2)).join(' to ')}, ε ${r.epsilon.toExponential(2)})`;
  if (r.kind === 'statistical') return `adaptation network set to the decryption recovered from the statistics of ${r.cipherImages} training ciphertexts and ${r.priorImages} prior images (no key)`;
  return null;
}

export function registerErTrain(er: Command, io: CliIO): void {
  const cmd = er
    .command('train')
    .description('train on encrypted images (one or several rounds; each round keeps the adaptation network and restarts the backbone)')
    .addOption(option(FLAG.key, 'cipher key file (omit for the plaintext baseline)'))
    .addOption(option(FLAG.data, 'plaintext images: CIFAR-10 .bin files (comma-separated) or folder, or an image folder of class subfolders: encrypted on the fly, after --augment'))
    .option('--encrypted-data <files>', 'instead of --data: a dataset already encrypted with --key (.bin for hill256, .safetensors otherwise)')
    .addOption(option(FLAG.test, 'plaintext test images (as --data), encrypted on the fly; evaluated after every epoch'))
    .option('--encrypted-test <files>', 'instead of --test: an encrypted test dataset')
    .addOption(option(FLAG.arch, 'backbone architecture (resnet20, vgg11-bn, ...)', undefined, 'resnet20'))
    .addOption(option('--adaptation <variant>', "aligned | padded (the report's, off-grid) | none (default: aligned with a key, none without)", parse.oneOf(['aligned', 'padded', 'none'] as const)))
    .addOption(
      option(
        '--init <init>',
        "adaptation init: whiten (the default: ZCA whitening of the training ciphertexts, no key needed) | default (PyTorch's random init) | identity | key-inverse (oracle: the exact inverse set from the key) | statistical (the decryption recovered from the training ciphertexts' statistics and --prior images, no key)",
        parse.oneOf(ER_INITS),
      ),
    )
    .option('--prior <files>', '--init statistical: plaintext CIFAR-10 .bin file(s) of the same kind that are NOT the training images')
    .addOption(option('--whiten-images <n>', 'training images the whitening is estimated from', parse.positiveInt, 10_000))
    .addOption(option('--whiten-shrinkage <x>', 'whitening shrinkage ε as a fraction of the mean eigenvalue', parse.positiveNumber, 0.01))
    .option('--pretrained <file>', 'backbone weights loaded at the start of every round (else a fresh init each round)')
    .option('--freeze-backbone', 'keep the --pretrained backbone fixed (eval mode, its batch-norm statistics): only the adaptation network learns')
    .addOption(option('--rounds <n>', 'training rounds', parse.positiveInt, 1))
    .addOption(option(FLAG.epochs, 'epochs per round', parse.positiveInt, 10))
    .addOption(option(FLAG.batch, 'batch size', parse.positiveInt, 128))
    .addOption(option(FLAG.lr, 'learning rate (cosine-annealed within each round)', parse.nonNegativeNumber, 0.1))
    .addOption(option('--adaptation-lr <x>', 'learning rate of the adaptation network (default: --lr; keeps its ratio under the schedule)', parse.nonNegativeNumber))
    .addOption(option('--momentum <x>', 'SGD momentum', parse.nonNegativeNumber, 0.9))
    .addOption(option('--optimizer <name>', 'sgd (with --momentum) | adam (suits --freeze-backbone)', parse.oneOf(['sgd', 'adam'] as const), 'sgd'))
    .addOption(option('--weight-decay <x>', 'weight decay of the backbone', parse.nonNegativeNumber, 5e-4))
    .option('--augment', 'random crop (padding 4) and horizontal flip of the plaintext before encryption')
    .addOption(option('--mean <r,g,b>', 'plaintext normalisation (plaintext baseline, or folded into --init key-inverse / statistical)', parse.triple))
    .addOption(option('--std <r,g,b>', 'plaintext normalisation std', parse.triple))
    .addOption(option(FLAG.limit, 'use the first n training images', parse.positiveInt))
    .addOption(option('--test-limit <n>', 'use the first n test images', parse.positiveInt))
    .addOption(option(FLAG.classes, 'train and test on these classes only, relabelled 0..n-1 in this order ("5-9" behind a backbone pretrained with `model train --classes 0-4`)', parse.classList))
    .addOption(option('--workers <n>', 'data loader worker threads (0: in this thread)', parse.nonNegativeInt, 1))
    .addOption(option(FLAG.seed, 'seed', parse.nonNegativeInt, 0))
    .addOption(option(FLAG.out, 'model file to write (safetensors; rewritten after every round)').makeOptionMandatory())
    .option('--checkpoint-dir <dir>', 'resumable checkpoints, one per round (a rerun resumes and may rewrite --out)')
    .option('--log <file>', 'JSON log of every round and epoch')
    .option(FLAG.force, 'overwrite --out if it exists')
    .addOption(deviceOption(io.env));
  withOutputFlags(cmd).addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  nnlock er train -K key.json -d ../shared/data/cifar10 --test ../shared/data/cifar10/test_batch.bin --rounds 3 --epochs 5 -o er.safetensors',
      '  nnlock er train -K key.json -d ../shared/data/cifar10 --adaptation none -o no-adapt.safetensors     (baseline)',
      '  nnlock er train -K key.json -d ../shared/data/cifar10 --pretrained ../shared/data/weights/resnet20-cifar10.safetensors --freeze-backbone -o frozen.safetensors',
      '  nnlock er train -d ../shared/data/cifar10 --augment -o plain.safetensors                            (plaintext baseline)',
      '  nnlock model train -a resnet20 -d ../shared/data/cifar10 --classes 0-4 -o r20-0-4.safetensors       (a backbone of classes 0-4, then)',
      '  nnlock er train -K key.json -d ../shared/data/cifar10 --classes 5-9 --pretrained r20-0-4.safetensors --rounds 3 --epochs 1 -o disjoint.safetensors',
    ].join('\n'),
  );
  cmd.action(async (o: ErTrainFlags & { json?: boolean; quiet?: boolean }) => {
    const out = new Output(io, o);
    const group = jobGroup(io.env); // under `nnlock launch` or torchrun: one rank of a data-parallel job
    const setup = await erTrainSetup(o, group);
    const { config, key } = setup;
    try {
      out.note(
        `training ${o.arch}${o.freezeBackbone ? ' (frozen)' : ''}${config.adaptation === 'none' ? '' : ` with ${config.adaptation === 'aligned' ? 'an' : 'a'} ${config.adaptation} adaptation network (init ${config.init!.kind})`} on ${setup.trainImages} ${key ? `images encrypted with the ${describeKey(key)}` : 'plaintext images'}`,
      );
      const { model, rounds, history, init } = await trainEncryptionRobust({
        ...config,
        ...trainingProgress({ quiet: o.quiet, stream: out.progressStream as NodeJS.WriteStream }),
        onInit: (r) => {
          const l = initLine(r);
          if (l) out.note(l);
        },
        onRound: ({ round, rounds: n }) => out.note(`round ${round + 1}/${n}${round > 0 ? ' (backbone restarted, adaptation kept)' : ''}`),
      });
      model.dispose();
      const finals = rounds.map((r) => ({ round: r.round + 1, trainAccuracy: r.final.trainAccuracy, testAccuracy: r.final.testAccuracy }));
      const { recovery: _recovery, ...initJson } = init as ErInitReport & { recovery?: unknown };
      out.result({ out: o.out, init: initJson, rounds: finals, history }, [
        ...finals.map((r) => `round ${r.round}: train accuracy ${r.trainAccuracy?.toFixed(4)}${r.testAccuracy !== undefined ? `, test accuracy ${r.testAccuracy.toFixed(4)}` : ''}`),
        `wrote ${o.out}`,
      ]);
    } finally {
      setup.close();
      group?.destroy();
    }
  });
}
