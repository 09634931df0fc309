// `nnlock attack finetune`: the fine-tuning attack harness on a protected (or any) model: what N
// labelled inputs get a thief from the file, against training from scratch (and a public model)
// with the same N and steps. The head start is the figure of merit.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';

import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { DECOY_MODES, DEFAULT_DECOY_MODE, type DecoyMode, readKeyToken, unlockModel } from '../../../protect/index.ts';
import type { SafetensorsFile } from '../../../io/safetensors.ts';
import { type ResetTo, attackHarness, auditDecoys } from '../../../audit/index.ts';
import { evaluator, readModel, requireSpec, specOf, trainingData } from '../protect/args.ts';

interface FinetuneFlags extends OutputFlags {
  arch?: string;
  data: string;
  test: string;
  sizes: number[];
  steps: number;
  lr?: number;
  scratchLr?: number;
  optimizer?: 'sgd' | 'adam';
  keys?: string;
  batch: number;
  testImages: number;
  replace?: string;
  resetTo: ResetTo;
  decoys: DecoyMode;
  ratio: number;
  public?: string;
  checkpoints?: string;
  sigma: number;
  seed: number;
  device: string;
}

export function registerFinetune(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('finetune'))
    .description('the fine-tuning attack: fine-tune the published model with N labelled inputs and compare with training from scratch (head start = attacker − best baseline)')
    .argument('<model>', 'the published (tier-0) model, or any weights file')
    .addOption(option(FLAG.arch, 'architecture, when the file does not say'))
    .addOption(option(FLAG.data, "the attacker's labelled training data (CIFAR-10 folder or .bin; a folder of images for denoisers)").makeOptionMandatory())
    .addOption(option(FLAG.test, 'held-out data for the metric').makeOptionMandatory())
    .addOption(option('--sizes <list>', 'N: labelled inputs the attacker has, comma-separated', parse.numbers, [500, 1000, 5000]))
    .addOption(option('--steps <n>', 'optimizer steps of every run', parse.positiveInt, 160))
    .addOption(option(FLAG.lr, 'learning rate of fine-tuning (default 0.01 with sgd, 0.001 with adam)', parse.positiveNumber))
    .addOption(option('--scratch-lr <x>', 'learning rate from scratch (default 0.1 with sgd, 0.001 with adam)', parse.positiveNumber))
    .addOption(option('--optimizer <name>', 'sgd (momentum 0.9) | adam; default sgd for classifiers, adam for denoisers', parse.oneOf(['sgd', 'adam'] as const)))
    .addOption(option(FLAG.keys, "the attacker holds a tier's key: attack the model unlocked to that tier (the per-tier attack)"))
    .addOption(option(FLAG.batch, 'batch size', parse.positiveInt, 125))
    .addOption(option('--test-images <n>', 'held-out inputs scored', parse.positiveInt, 2000))
    .addOption(option('--replace <detector>', 'also detect-and-replace: reset the suspects of this detector (e.g. classifier) before fine-tuning'))
    .addOption(option('--reset-to <how>', 'what replaces a suspect', parse.oneOf(['zeros', 'mean', 'init'] as const), 'mean'))
    .addOption(option('--decoys <mode>', 'the decoy mode the detector simulates', parse.oneOf(DECOY_MODES), DEFAULT_DECOY_MODE))
    .addOption(option('-r, --ratio <x>', 'the protected share of each layer the detector assumes', parse.fraction, 0.08))
    .addOption(option('--public <weights>', 'a public model of the same architecture trained on other data: a second baseline'))
    .addOption(option('--checkpoints <dir>', 'per-epoch checkpoints, to resume an interrupted run'))
    .addOption(option(FLAG.sigma, 'denoisers: noise σ on the 0..255 scale', parse.nonNegativeNumber, 25))
    .addOption(option(FLAG.seed, 'seed', parse.int(), 1))
    .addOption(deviceOption(io.env))
    .addHelpText(
      'after',
      '\nExample:\n  nnlock attack finetune model.protected.safetensors -a resnet20 -d ../shared/data/cifar10 --test ../shared/data/cifar10/test_batch.bin --sizes 1000 --replace classifier',
    )
    .action(async (path: string, o: FinetuneFlags) => {
      const out = new Output(io, o);
      const { file: published, tier } = await attackedFile(path, o.keys);
      const spec = requireSpec(specOf(o.arch, published.metadata), path, 'the attack');
      const ev = await evaluator(spec, o.test, published.metadata, { images: o.testImages, sigma: o.sigma, seed: o.seed });
      const flagged = o.replace
        ? new Map((await auditDecoys(published, { detector: o.replace, mode: o.decoys, ratio: o.ratio, seed: o.seed })).layers.map((l) => [l.name, Int32Array.from(l.suspects)]))
        : undefined;
      const r = await attackHarness({
        architecture: spec.name,
        device: o.device,
        task: spec.task,
        published,
        publicWeights: o.public ? await readModel(o.public) : undefined,
        flagged,
        resetTo: o.resetTo,
        data: (images) => trainingData(spec, o.data, published.metadata, { images, batch: o.batch, seed: o.seed, sigma: o.sigma }),
        metric: ev.evaluate,
        sizes: o.sizes,
        steps: o.steps,
        optimizer: o.optimizer ?? (spec.task === 'denoising' ? 'adam' : 'sgd'),
        lr: learningRates(o, spec.task),
        seed: o.seed,
        checkpoints: o.checkpoints,
        onRun: (run) =>
          out.note(`N=${run.images} ${run.start}: ${run.before === null ? 'scratch' : run.before.toFixed(4)} → ${run.after.toFixed(4)} ${ev.unit} (${run.steps} steps, ${Math.round(run.seconds)} s)`),
      });
      out.result({ model: path, unit: ev.unit, tier, ...r }, [
        `fine-tuning attack on ${path}${tier ? ` unlocked to tier ${tier}` : ''} (${ev.unit} on ${ev.count} held-out inputs, ${o.steps} steps per run)`,
        ...Object.entries(r.headStart).map(([n, h]) => `  N=${n}: head start ${h >= 0 ? '+' : ''}${h.toFixed(4)} ${ev.unit} over the best baseline`),
      ]);
    });
}

/** The file the attacker holds: the published one, or, with a tier's key file, that tier unlocked. */
async function attackedFile(path: string, keys?: string): Promise<{ file: SafetensorsFile; tier: number }> {
  const published = await readModel(path);
  if (!keys) return { file: published, tier: 0 };
  const u = await unlockModel(published, await readKeyToken(keys));
  return { file: u.file, tier: u.tier };
}

function learningRates(o: FinetuneFlags, task: string): { fineTune: number; scratch: number } {
  const adam = (o.optimizer ?? (task === 'denoising' ? 'adam' : 'sgd')) === 'adam';
  return { fineTune: o.lr ?? (adam ? 1e-3 : 0.01), scratch: o.scratchLr ?? (adam ? 1e-3 : 0.1) };
}
