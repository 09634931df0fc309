// `nnlock protect importance`: score every kernel of a model's conv layers once and save the
// scores, so `nnlock protect lock --importance` can reuse them (PSS takes minutes).
import type { Command } from 'commander';
import {
  PSS_DEFAULTS,
  PSS_PAPER_DATA,
  PSS_PAPER_SETTING,
  PSS_SAMPLED_SETTING,
  type PssSettings,
  STRATEGIES,
  type Strategy,
  computeImportance,
  discoverLayers,
  isWeightOnly,
  paperLayers,
  saveImportance,
} from '../../../protect/index.ts';
import type { SafetensorsFile } from '../../../io/safetensors.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { UsageError } from '../../errors.ts';
import { jobGroup } from '../../distributed.ts';
import { type ModuleFlags, discoveryJson, discoveryLines, measure, plural, readModel, refuseOverwrite, requireSpec, stepProgress, trainingData, verbModel } from './args.ts';

interface ImportanceFlags extends ModuleFlags {
  out: string;
  strategy: Strategy;
  data?: string;
  layers?: string[];
  images: number;
  epochs: number;
  batch: number;
  lr: number;
  lambda: number;
  droprateInit?: number;
  setting: 'light' | 'paper' | 'sampled';
  gates: 'sampled' | 'deterministic';
  initLogAlpha?: number;
  optimizer: 'adam' | 'sgd';
  momentum?: number;
  nesterov?: boolean;
  augment?: boolean;
  batches: number;
  sigma: number;
  seed: number;
  device: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerImportanceVerb(noun: Command, io: CliIO): void {
  withOutputFlags(
    noun
      .command('importance')
      .description("score the kernels of a model's conv layers and save the scores for `nnlock protect lock --importance`")
      .argument('<model>', 'model weights (safetensors)')
      .addOption(option(FLAG.out, 'importance file to write (safetensors)').makeOptionMandatory())
      .addOption(option(FLAG.arch, 'architecture, when the file does not say (resnet20, vgg16-bn, dncnn-17)'))
      .addOption(option(FLAG.module, 'your own model as a TorchScript file (torch.jit.script(model).save): pss/taylor run it, its Conv2d modules are the layers; instead of --arch').conflicts('arch'))
      .addOption(option('--task <kind>', 'with --module: what the model does (default classification)', parse.oneOf(['classification', 'denoising'] as const)))
      .addOption(option('-s, --strategy <name>', STRATEGIES.join(' | '), parse.oneOf(STRATEGIES), 'pss'))
      .addOption(option(FLAG.data, 'training data for pss/taylor: a CIFAR-10 folder or .bin file(s); for denoisers a folder of images'))
      .addOption(option('--layers <names>', 'comma-separated conv layers (weight or module names); default all', parse.names))
      .addOption(option('--images <n>', 'pss/taylor: training images (or patches) used', parse.positiveInt, 1024))
      .addOption(option(FLAG.epochs, 'pss: passes over the images per layer', parse.positiveInt, PSS_DEFAULTS.epochs))
      .addOption(option(FLAG.batch, 'pss/taylor: batch size', parse.positiveInt, 128))
      .addOption(option(FLAG.lr, 'pss: learning rate on log α', parse.positiveNumber, PSS_DEFAULTS.lr))
      .addOption(option('--lambda <x>', 'pss: weight of the L0 penalty', parse.nonNegativeNumber, PSS_DEFAULTS.lambda))
      .addOption(option('--droprate-init <p>', "pss: start log α from N(log((1 − p)/p), 0.01²) instead of --init-log-alpha (0.3's start: p = 0.1)", parse.fraction).conflicts('initLogAlpha'))
      .addOption(
        option(
          '--setting <name>',
          "pss: 'light' (nnlock's defaults), 'paper' (the authors' setting) or 'sampled' (nnlock 0.3's light defaults); see below. Explicit flags override it",
          parse.oneOf(['light', 'paper', 'sampled'] as const),
          'light',
        ),
      )
      .addOption(
        option(
          '--gates <kind>',
          'pss: deterministic (the evaluation gate, as the authors) or sampled (a hard-concrete draw per step)',
          parse.oneOf(['sampled', 'deterministic'] as const),
          PSS_DEFAULTS.gates,
        ),
      )
      .addOption(option('--init-log-alpha <x>', 'pss: log α of the layer being learned starts at x', parse.number, PSS_DEFAULTS.initLogAlpha ?? undefined))
      .addOption(option('--optimizer <name>', 'pss: optimiser of log α', parse.oneOf(['adam', 'sgd'] as const), PSS_DEFAULTS.optimizer))
      .addOption(option('--momentum <m>', `pss: SGD momentum (default ${PSS_DEFAULTS.momentum} with sgd, 0 with adam)`, parse.nonNegativeNumber))
      .addOption(option('--nesterov', 'pss: SGD with Nesterov momentum (the default with sgd)'))
      .addOption(option('--no-nesterov', 'pss: SGD without Nesterov momentum'))
      .addOption(option('--augment', 'pss/taylor/gate-gradient: random crop (padding 4) and horizontal flip of the training images'))
      .addOption(option('--batches <n>', 'taylor/gate-gradient: batches averaged', parse.positiveInt, 8))
      .addOption(option(FLAG.sigma, 'denoisers: noise σ on the 0..255 scale', parse.nonNegativeNumber, 25))
      .addOption(option(FLAG.seed, 'seed of the data order, gate noise and the random strategy', parse.int(), 0))
      .addOption(option(FLAG.force, 'overwrite the output file'))
      .addOption(deviceOption(io.env)),
  )
    .addHelpText(
      'after',
      `
Cost: pss runs, for each conv layer, epochs × images / batch training steps with the weights frozen
(ResNet-20 with the defaults: 19 layers × 16 steps of 128 images, a few minutes on 2 CPU cores);
taylor and gate-gradient run --batches forward/backward passes (gate-gradient per layer: the
cheap estimator of PSS's selection); the other strategies only read the weights.

--setting light (the default since 0.4) is the paper's gates, start and optimiser on a light budget:
--gates deterministic --init-log-alpha ${PSS_DEFAULTS.initLogAlpha} --optimizer sgd --lr ${PSS_DEFAULTS.lr} --momentum ${PSS_DEFAULTS.momentum} --nesterov,
--epochs ${PSS_DEFAULTS.epochs} over --images 1024. On ResNet-20 (every conv layer) it reaches chance at 3.99% of all
weights, against 11.93% for 0.3's defaults.

--setting sampled is nnlock 0.3's light default: --gates sampled --droprate-init ${PSS_SAMPLED_SETTING.droprateInit} --optimizer adam
--lr ${PSS_SAMPLED_SETTING.lr}.

--setting paper is the authors' PSS: --gates deterministic --init-log-alpha 1 --optimizer sgd
--lr 0.1 --momentum 0.9 --nesterov, ${PSS_PAPER_SETTING.epochs} epochs per layer (rate × ${PSS_PAPER_SETTING.lrDecay} at epochs ${PSS_PAPER_SETTING.milestones.join(' and ')}),
--batch ${PSS_PAPER_DATA.batch} over --images ${PSS_PAPER_DATA.images} with --augment, and the paper's layers (the first two conv
layers and the first conv of the last two widening stages; ResNet-20: conv1, layer1.0.conv1,
layer2.0.conv1, layer3.0.conv1). It is slow on a CPU: give --epochs to shorten it.

Example:
  nnlock protect importance resnet20.safetensors -a resnet20 -s pss -d ../shared/data/cifar10 -o resnet20.pss.safetensors`,
    )
    .action(async (path: string, flags: ImportanceFlags, cmd: Command) => {
      const out = new Output(io, flags);
      refuseOverwrite([flags.out], flags.force);
      const file = await readModel(path);
      const { o, pss } = withSetting(flags, cmd, file);
      const vm = await verbModel(o, file, path);
      const spec = vm.spec;
      const group = jobGroup(io.env); // under `nnlock launch` or torchrun: PSS data-parallel
      try {
        const t0 = performance.now();
        let data;
        if (spec && o.arch) await measure(spec, file); // a wrong --arch fails even here
        if (!isWeightOnly(o.strategy)) {
          const s = requireSpec(spec, path, `strategy ${o.strategy}`);
          if (!o.data) throw new UsageError(`strategy ${o.strategy} needs training data: pass --data <CIFAR-10 folder> (or an image folder for denoisers)`);
          data = await trainingData(s, o.data, file.metadata, o, group);
        }
        const bar = stepProgress(out, o.epochs * Math.ceil(o.images / o.batch));
        const imp = await computeImportance(o.strategy, vm.model ?? file, data, {
          layers: o.layers,
          seed: o.seed,
          device: o.device,
          architecture: vm.architecture,
          task: vm.task,
          batches: o.batches,
          onStep: bar.onStep,
          group,
          pss,
          settings: data ? { images: o.images, batch: o.batch, data: o.data, augment: o.augment ?? false, ...(spec?.task === 'denoising' ? { sigma: o.sigma } : {}) } : {},
        });
        bar.stop();
        if (imp.discovery.note) out.note(`note: ${imp.discovery.note}`);
        if (!group || group.isLeader) await saveImportance(o.out, imp.scores, imp);
        const kernels = [...imp.scores.values()].reduce((n, s) => n + s.scores.length, 0);
        const seconds = (performance.now() - t0) / 1000;
        out.result({ strategy: imp.strategy, layers: imp.scores.size, kernels, out: o.out, seconds, settings: imp.settings, discovery: discoveryJson(imp.discovery) }, [
          `${imp.strategy} importance of ${plural(imp.scores.size, 'conv layer')} (${kernels} kernels) written to ${o.out} in ${seconds.toFixed(1)} s`,
          ...discoveryLines(imp.discovery),
        ]);
      } finally {
        group?.destroy();
        vm.model?.dispose();
      }
    });
}

/**
 * The flags with --setting applied: a preset replaces the defaults of the flags it sets, never a
 * flag given on the command line. Returns the flags and the PSS settings they make.
 */
function withSetting(flags: ImportanceFlags, cmd: Command, file: SafetensorsFile): { o: ImportanceFlags; pss: PssSettings } {
  const o = { ...flags };
  const fromCli = (name: string) => cmd.getOptionValueSource(name) === 'cli';
  const preset: Partial<ImportanceFlags> =
    o.setting === 'paper'
      ? {
          gates: PSS_PAPER_SETTING.gates,
          initLogAlpha: PSS_PAPER_SETTING.initLogAlpha,
          optimizer: PSS_PAPER_SETTING.optimizer,
          lr: PSS_PAPER_SETTING.lr,
          momentum: PSS_PAPER_SETTING.momentum,
          nesterov: PSS_PAPER_SETTING.nesterov,
          epochs: PSS_PAPER_SETTING.epochs,
          images: PSS_PAPER_DATA.images,
          batch: PSS_PAPER_DATA.batch,
          augment: PSS_PAPER_DATA.augment,
          layers: paperLayers(discoverLayers(file.tensors).layers),
        }
      : o.setting === 'sampled'
        ? {
            gates: PSS_SAMPLED_SETTING.gates,
            droprateInit: PSS_SAMPLED_SETTING.droprateInit,
            optimizer: PSS_SAMPLED_SETTING.optimizer,
            lr: PSS_SAMPLED_SETTING.lr,
          }
        : {};
  for (const [name, value] of Object.entries(preset)) if (!fromCli(name)) Object.assign(o, { [name]: value });
  // A drop-rate start (given, or the sampled preset's) replaces the constant start.
  if (o.droprateInit !== undefined && !fromCli('initLogAlpha')) o.initLogAlpha = undefined;
  // Momentum and Nesterov are SGD's: with Adam only an explicit flag keeps them (and is refused).
  const sgd = o.optimizer === 'sgd';
  if (!sgd && ((fromCli('momentum') && o.momentum! > 0) || (fromCli('nesterov') && o.nesterov))) throw new UsageError('--momentum and --nesterov are for --optimizer sgd');
  if (!sgd) Object.assign(o, { momentum: 0, nesterov: false });
  o.momentum ??= PSS_DEFAULTS.momentum;
  o.nesterov ??= PSS_DEFAULTS.nesterov;
  if (o.nesterov && !(o.momentum > 0)) throw new UsageError('--nesterov needs --momentum > 0 (or give --no-nesterov)');
  // The authors' rate steps (at epochs 60 and 120) come with the paper's setting.
  const milestones = o.setting === 'paper' ? [...PSS_PAPER_SETTING.milestones] : [];
  const pss: PssSettings = {
    epochs: o.epochs,
    lr: o.lr,
    lambda: o.lambda,
    droprateInit: o.droprateInit ?? PSS_DEFAULTS.droprateInit,
    gates: o.gates,
    initLogAlpha: o.initLogAlpha ?? null,
    optimizer: o.optimizer,
    momentum: o.momentum,
    nesterov: o.nesterov,
    milestones,
    lrDecay: PSS_PAPER_SETTING.lrDecay,
  };
  return { o, pss };
}
