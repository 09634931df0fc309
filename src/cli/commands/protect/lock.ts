// `nnlock protect lock`: protect a model with tiered keys. Writes the protected model (a normal
// safetensors file with decoys in place) and a key file (mode 0600) with one token per tier.
import type { Command } from 'commander';
import {
  DECOY_MODES,
  DEFAULT_DECOY_MODE,
  DEFAULT_FRONT_SHARE,
  type DecoyMode,
  PROTECT_MODES,
  type ProtectMode,
  STRATEGIES,
  type Strategy,
  defaultKeysDir,
  defaultKeysPath,
  isWeightOnly,
  keysBesideModel,
  loadImportance,
  protectModel,
} from '../../../protect/index.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { UsageError } from '../../errors.ts';
import type { ProtectedModel } from '../../../protect/index.ts';
import type { ModelSpec } from '../../../models/index.ts';
import type { SafetensorsFile } from '../../../io/safetensors.ts';
import type { BatchSource } from '../../../data/batch-source.ts';
import { type Evaluator, type ModuleFlags, discoveryJson, discoveryLines, evaluator, plural, ratio, readModel, refuseOverwrite, requireSpec, stepProgress, trainingData, verbModel } from './args.ts';

interface LockFlags extends ModuleFlags {
  out: string;
  ratio: number;
  layers?: string[];
  mode: ProtectMode;
  frontShare?: number;
  tiers?: number;
  fractions?: number[];
  targets?: number[];
  evalData?: string;
  evalImages: number;
  importance?: string;
  strategy: Strategy;
  decoys: DecoyMode;
  data?: string;
  images: number;
  sigma: number;
  seed: number;
  device: string;
  keys?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerLockVerb(noun: Command, io: CliIO): void {
  withOutputFlags(
    noun
      .command('lock')
      .description('protect a model: decoys replace its most important kernels; the originals are sealed in tiers, one key per tier')
      .argument('<model>', 'model weights (safetensors)')
      .addOption(option(FLAG.out, 'protected model to write (safetensors)').makeOptionMandatory())
      .addOption(option(FLAG.arch, 'architecture, when the file does not say (needed for pss/taylor and --targets)'))
      .addOption(
        option(FLAG.module, 'your own model as a TorchScript file (torch.jit.script(model).save): it runs pss/taylor/--targets, and its Conv2d modules are the layers; instead of --arch').conflicts(
          'arch',
        ),
      )
      .addOption(option('--task <kind>', 'with --module: what the model does (default classification)', parse.oneOf(['classification', 'denoising'] as const)))
      .addOption(option('-r, --ratio <x>', "fraction of each layer's kernels to protect: ⌊N·ratio⌋ + 1 of N", ratio, 0.08))
      .addOption(option('--layers <names>', 'comma-separated conv layers (weight or module names); default all (with --importance: the layers it scores)', parse.names))
      .addOption(
        option(
          '--mode <name>',
          "sparse: --ratio of each layer's kernels (stops use as is, not a thief who fine-tunes) | dense-front: every kernel of the first layers holding --front-share of the conv weights (no head start for fine-tuning)",
          parse.oneOf(PROTECT_MODES),
          'sparse',
        ).conflicts(['ratio', 'layers']),
      )
      .addOption(option('--front-share <x>', `with --mode dense-front: share of the conv weights protected (default ${DEFAULT_FRONT_SHARE})`, parse.fraction))
      .addOption(option(FLAG.tiers, 'number of tiers (default 3; with --targets, the number of targets + 1)', parse.positiveInt))
      .addOption(option('--fractions <list>', "share of each layer's selected kernels restored by tiers 1..M, rising to 1 (default 0.6 + 0.4·m/M)", parse.numbers))
      .addOption(option('--targets <list>', 'calibrate tiers 1..M−1 to these metrics instead (accuracy as a fraction, or PSNR in dB for denoisers)', parse.numbers))
      .addOption(option('--eval-data <path>', 'validation data for --targets: CIFAR-10 folder or test .bin; for denoisers a folder of images'))
      .addOption(option('--eval-images <n>', 'validation images used by --targets', parse.positiveInt, 1000))
      .addOption(option('--importance <file>', 'importance file from `nnlock protect importance` (else --strategy is computed now)'))
      .addOption(option('-s, --strategy <name>', STRATEGIES.join(' | '), parse.oneOf(STRATEGIES), 'l1'))
      .addOption(
        option(
          '--decoys <mode>',
          "how decoys are drawn: matched (resampled decoys kept by importance resampling so their statistics follow the genuine kernels'; the default) | resample (a genuine kernel of the layer, turned by keyed noise and sized for its row and column) | context (joint direction, size from the kernel's row and column) | joint (the layer's kh·kw Gaussian) | position (0.1's per-position draws)",
          parse.oneOf(DECOY_MODES),
          DEFAULT_DECOY_MODE,
        ),
      )
      .addOption(option(FLAG.data, 'training data when --strategy is pss or taylor'))
      .addOption(option('--images <n>', 'training images for pss/taylor', parse.positiveInt, 1024))
      .addOption(option(FLAG.sigma, 'denoisers: noise σ on the 0..255 scale', parse.nonNegativeNumber, 25))
      .addOption(option(FLAG.seed, 'seed of data order and the random strategy', parse.int(), 0))
      .addOption(option(FLAG.keys, 'where to write the keys (default: $NNLOCK_KEYS_DIR or ~/.nnlock/keys, outside the published folder)'))
      .addOption(option(FLAG.force, 'overwrite the output and key files, and accept an importance file computed on other weights'))
      .addOption(deviceOption(io.env)),
  )
    .addHelpText(
      'after',
      `
The key file holds the master key (the top tier) and every lower tier's key. It is written outside
the protected model's folder ($NNLOCK_KEYS_DIR, default ~/.nnlock/keys) unless --keys says where,
so that publishing the folder never publishes the keys. Give each user only the line of their tier (\`nnlock protect keys\` derives lower tiers again from any key). Keep the
master key: it cannot be recovered.

Examples:
  nnlock protect lock resnet20.safetensors -a resnet20 -r 0.08 --tiers 3 -o resnet20.protected.safetensors
  nnlock protect lock resnet20.safetensors --mode dense-front -o resnet20.protected.safetensors
  nnlock protect lock resnet20.safetensors --importance resnet20.pss.safetensors --targets 0.3,0.6 \\
    --eval-data ../shared/data/cifar10 -o resnet20.protected.safetensors`,
    )
    .action(async (path: string, o: LockFlags) => {
      const out = new Output(io, o);
      // Not beside the model: publishing its folder would publish the master key.
      const keys = o.keys ?? defaultKeysPath(o.out, defaultKeysDir(io.env));
      if (o.keys !== undefined && keysBesideModel(o.out, keys))
        out.warn(`the key file ${keys} is in the folder of the protected model: do not publish that folder as it is (the key file holds the master key)`);
      refuseOverwrite([o.out, keys], o.force);
      if (o.fractions && o.targets) throw new UsageError('give --fractions or --targets, not both');
      if (o.frontShare !== undefined && o.mode !== 'dense-front') throw new UsageError('--front-share is for --mode dense-front');
      const file = await readModel(path);
      const vm = await verbModel(o, file, path);
      try {
        const { data, ev } = await lockInputs(o, vm.spec, file, path);
        if (ev) out.note(`calibrating ${o.tiers ?? o.targets!.length + 1} tiers on ${ev.count} validation images (${ev.unit})`);
        const bar = stepProgress(out, Math.ceil(o.images / 128) * 2);
        const p = await protectModel(file, {
          importance: o.importance ? await loadImportance(o.importance) : o.strategy,
          allowOtherImportance: o.force,
          ...(o.mode === 'dense-front' ? { mode: o.mode, frontShare: o.frontShare } : { ratio: o.ratio, layers: o.layers }),
          tiers: o.tiers,
          fractions: o.fractions,
          targets: o.targets,
          evaluate: ev?.evaluate,
          architecture: vm.architecture,
          model: vm.model,
          task: vm.task,
          data,
          seed: o.seed,
          device: o.device,
          decoys: o.decoys,
          onStep: bar.onStep,
          onEvaluate: (f, v) => out.note(`  fraction ${f.toFixed(4)}: ${ev?.unit} ${v.toFixed(4)}`),
        });
        bar.stop();
        if (p.discovery.note) out.note(`note: ${p.discovery.note}`);
        await p.write(o.out, { keys: o.keys, keysDir: defaultKeysDir(io.env), force: o.force });
        lockResult(out, p, { ...o, keys }, ev?.unit);
      } finally {
        vm.model?.dispose();
      }
    });
}

/** The training data (pss, taylor) and the evaluator (--targets) a lock needs, refused early when missing. */
async function lockInputs(o: LockFlags, spec: ModelSpec | undefined, file: SafetensorsFile, path: string): Promise<{ data?: BatchSource; ev?: Evaluator }> {
  const needsData = !o.importance && !isWeightOnly(o.strategy);
  if (needsData && !o.data) throw new UsageError(`strategy ${o.strategy} needs training data: pass --data, or compute it once with \`nnlock protect importance\``);
  const data = needsData ? await trainingData(requireSpec(spec, path, `strategy ${o.strategy}`), o.data!, file.metadata, { ...o, batch: 128 }) : undefined;
  if (o.targets && !o.evalData) throw new UsageError('--targets needs validation data: pass --eval-data');
  const ev = o.targets ? await evaluator(requireSpec(spec, path, '--targets'), o.evalData!, file.metadata, { images: o.evalImages, sigma: o.sigma, seed: o.seed }) : undefined;
  return { data, ev };
}

/** The result of a lock: what was protected, what each tier restores, and where the files are. */
function lockResult(out: Output, p: ProtectedModel, o: { out: string; keys: string; ratio: number; mode: ProtectMode; importance?: string; strategy: Strategy }, unit?: string): void {
  const keys = o.keys;
  const ratio = o.mode === 'dense-front' ? 1 : o.ratio;
  const selected = p.layers.reduce((n, l) => n + l.selected, 0);
  const total = p.layers.reduce((n, l) => n + l.kernels, 0);
  const tiers = Array.from({ length: p.header.tiers + 1 }, (_, m) => ({
    tier: m,
    restored: p.layers.reduce((n, l) => n + l.perTier[m], 0),
    fraction: m ? p.fractions[m - 1] : 0,
    metric: p.calibration?.metrics[m],
  }));
  const strategy = o.importance ? `${p.strategy} (from ${o.importance})` : o.strategy;
  out.result(
    { model: o.out, keys, modelId: p.header.modelId, signer: p.header.signer, mode: o.mode, ratio, strategy, selected, kernels: total, layers: p.layers, tiers, discovery: discoveryJson(p.discovery) },
    [
      `protected ${selected} of ${total} kernels in ${plural(p.layers.length, 'conv layer')} (${o.mode === 'dense-front' ? 'mode dense-front: every kernel of the first layers' : `ratio ${ratio}`}, importance ${strategy})`,
      ...discoveryLines(p.discovery),
      ...tiers.map(
        (t) =>
          `  tier ${t.tier}: restores ${t.restored} kernels${t.tier > 0 ? ` (fraction ${t.fraction.toFixed(4)})` : ' (no key: the published model)'}${t.metric !== undefined ? `, ${unit} ${t.metric.toFixed(4)}` : ''}`,
      ),
      `protected model: ${o.out}`,
      `keys (mode 0600, keep the master key safe): ${keys}`,
      `owner's signer (the keys carry it; publish it so users can pin it with --signer): ${p.header.signer}`,
    ],
  );
}
