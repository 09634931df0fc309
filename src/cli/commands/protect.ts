// `nnlock protect`: protect a model with tiered keys. Writes the protected model (a normal
// safetensors file with decoys in place) and a key file (mode 0600) with one token per tier.
import type { Command } from 'commander';
import { existsSync, unlinkSync } from 'node:fs';
import { type ImportanceMap, PROTECT_METADATA_KEY, WEIGHT_ONLY_STRATEGIES, type WeightStrategy, assertStrategy, formatKeyFile, loadImportance, protect, pssImportance, resolveLayers, taskLoss, taylorImportance, tierTokens, weightImportance, weightsDigest, writeKeyFile, type CalibrateOptions } from '../../protect/index.ts';
import type { Module } from '../../nn/index.ts';
import { architectureOf, evaluator, modelFor, parseLayers, parseNumberList, parseRatio, parseSeed, positiveInt, readModelFile, requireArchitecture, trainingData } from './protect-args.ts';
import { writeSafetensors } from '../../io/safetensors.ts';

interface ProtectCliOptions {
  out: string;
  arch?: string;
  ratio: string;
  layers?: string;
  tiers?: string;
  fractions?: string;
  targets?: string;
  evalData?: string;
  evalImages: string;
  importance?: string;
  strategy: string;
  data?: string;
  images: string;
  sigma: string;
  seed: string;
  keyFile?: string;
  force?: boolean;
}

export function registerProtect(program: Command): void {
  program
    .command('protect')
    .description('protect a model: decoys replace its most important kernels; the originals are sealed in tiers, one key per tier')
    .argument('<model>', 'model weights (safetensors)')
    .requiredOption('-o, --out <file>', 'protected model to write (safetensors)')
    .option('-a, --arch <name>', 'architecture, when the file does not say (needed for pss/taylor and --targets)')
    .option('-r, --ratio <x>', 'fraction of each layer\'s kernels to protect: ⌊N·ratio⌋ + 1 of N', '0.08')
    .option('--layers <names>', 'comma-separated conv layers (weight or module names); default all (with --importance: the layers it scores)')
    .option('-t, --tiers <M>', 'number of tiers (default 3; with --targets, the number of targets + 1)')
    .option('--fractions <list>', 'share of each layer\'s selected kernels restored by tiers 1..M, rising to 1 (default 0.6 + 0.4·m/M)')
    .option('--targets <list>', 'calibrate tiers 1..M−1 to these metrics instead (accuracy as a fraction, or PSNR in dB for denoisers)')
    .option('--eval-data <path>', 'validation data for --targets: CIFAR-10 folder or test .bin; for denoisers a folder of images')
    .option('--eval-images <n>', 'validation images used by --targets', '1000')
    .option('-i, --importance <file>', 'importance file from `nnlock importance` (else --strategy is computed now)')
    .option('-s, --strategy <name>', 'l1 | magnitude | magnitude-asc | closest-mean | random | taylor | pss', 'l1')
    .option('-d, --data <path>', 'training data when --strategy is pss or taylor')
    .option('--images <n>', 'training images for pss/taylor', '1024')
    .option('--sigma <s>', 'denoisers: noise σ on the 0..255 scale', '25')
    .option('--seed <n>', 'seed of data order and the random strategy', '0')
    .option('-k, --key-file <file>', 'where to write the keys (default <out>.keys)')
    .option('--force', 'overwrite the output and key files, and accept an importance file computed on other weights')
    .addHelpText('after', `
The key file holds the master key (the top tier) and every lower tier's key: give each user only
the line of their tier (\`nnlock keys\` derives lower tiers again from any key). Keep the master key:
it cannot be recovered.

Examples:
  nnlock protect resnet20.safetensors -a resnet20 -r 0.08 -t 3 -o resnet20.protected.safetensors
  nnlock protect resnet20.safetensors -i resnet20.pss.safetensors --targets 0.3,0.6 \\
    --eval-data ../shared/data/cifar10 -o resnet20.protected.safetensors`)
    .action(async (path: string, o: ProtectCliOptions) => {
      const keyPath = o.keyFile ?? `${o.out}.keys`;
      if (!o.force) {
        for (const p of [o.out, keyPath]) if (existsSync(p)) throw new Error(`${p} exists (use --force to overwrite)`);
      }
      const ratio = parseRatio(o.ratio);
      const seed = parseSeed(o.seed);
      const file = await readModelFile(path);
      if (file.metadata[PROTECT_METADATA_KEY] !== undefined) throw new Error(`${path} is already protected: protect the original model`);
      const spec = architectureOf(o.arch, file.metadata);
      // An importance file made for some layers only protects those unless --layers says otherwise.
      const saved = o.importance ? await loadImportance(o.importance) : undefined;
      const layers = resolveLayers(file.tensors, parseLayers(o.layers) ?? (saved ? [...saved.scores.keys()] : undefined));
      let model: Module | undefined = spec ? modelFor(spec, file, path) : undefined;
      try {
        // Importance: a saved file, or computed now.
        let importance: ImportanceMap;
        let strategy: string;
        if (saved) {
          const imp = saved;
          const digest = Buffer.from(weightsDigest(file.tensors)).toString('hex');
          if (imp.source && imp.source !== digest && !o.force) {
            throw new Error(`${o.importance} was computed on other weights than ${path} (use --force to use it anyway)`);
          }
          importance = imp.scores;
          strategy = `${imp.strategy} (from ${o.importance})`;
        } else {
          const s = assertStrategy(o.strategy);
          strategy = s;
          if ((WEIGHT_ONLY_STRATEGIES as readonly string[]).includes(s)) {
            importance = weightImportance(s as WeightStrategy, file.tensors, layers, seed);
          } else {
            const sp = requireArchitecture(spec, path, `strategy ${s}`);
            if (!o.data) throw new Error(`strategy ${s} needs training data: pass --data, or compute it once with \`nnlock importance\``);
            const data = await trainingData(sp, o.data, file.metadata, { images: positiveInt(o.images, '--images'), batch: 128, seed, sigma: Number(o.sigma) });
            const names = layers.map((l) => l.name);
            importance = s === 'pss'
              ? await pssImportance(model!, data, { loss: taskLoss(sp.task), layers: names, seed })
              : await taylorImportance(model!, data, { loss: taskLoss(sp.task), layers: names });
          }
        }

        // Tiers: default rule, given fractions, or calibrated to targets.
        let calibrate: CalibrateOptions | undefined;
        let unit = '';
        const tiers = o.tiers !== undefined ? positiveInt(o.tiers, '--tiers') : undefined;
        if (o.targets) {
          if (o.fractions) throw new Error('give --fractions or --targets, not both');
          const sp = requireArchitecture(spec, path, '--targets');
          if (!o.evalData) throw new Error('--targets needs validation data: pass --eval-data');
          const targets = parseNumberList(o.targets, '--targets');
          if (sp.task === 'classification' && targets.some((t) => t < 0 || t > 1)) throw new Error('--targets: accuracy targets are fractions in [0, 1] (e.g. 0.3,0.6)');
          const ev = await evaluator(sp, o.evalData, file.metadata, { images: positiveInt(o.evalImages, '--eval-images'), sigma: Number(o.sigma), seed });
          unit = ev.unit;
          process.stderr.write(`calibrating ${tiers ?? targets.length + 1} tiers on ${ev.count} validation images (${ev.unit})\n`);
          calibrate = {
            targets, model: model!, evaluate: ev.evaluate,
            onEvaluate: (f, v) => process.stderr.write(`  fraction ${f.toFixed(4)}: ${unit} ${v.toFixed(4)}\n`),
          };
        }
        const fractions = o.fractions ? parseNumberList(o.fractions, '--fractions') : undefined;
        const r = await protect(file, { importance, ratio, layers: layers.map((l) => l.name), tiers, fractions, calibrate, architecture: spec?.name });

        const tokens = tierTokens(r.masterKey, r.modelId, r.header.tiers);
        r.masterKey.fill(0);
        await writeKeyFile(keyPath, formatKeyFile({ tokens, modelId: r.header.modelId, tiers: r.header.tiers, model: o.out }), { force: o.force });
        try {
          await writeSafetensors(o.out, r.file.tensors, r.file.metadata);
        } catch (e) {
          unlinkSync(keyPath); // keys of a model that was never written are useless
          throw e;
        }
        const selected = r.layers.reduce((n, l) => n + l.selected, 0);
        const total = r.layers.reduce((n, l) => n + l.kernels, 0);
        console.log(`protected ${selected} of ${total} kernels in ${r.layers.length} conv layer${r.layers.length === 1 ? '' : 's'} (ratio ${ratio}, importance ${strategy})`);
        for (let m = 0; m <= r.header.tiers; m++) {
          const restored = r.layers.reduce((n, l) => n + l.perTier[m], 0);
          const metric = r.calibration ? `, ${unit} ${r.calibration.metrics[m].toFixed(4)}` : '';
          console.log(`  tier ${m}: restores ${restored} kernels${m > 0 ? ` (fraction ${r.fractions[m - 1].toFixed(4)})` : ' (no key: the published model)'}${metric}`);
        }
        console.log(`protected model: ${o.out}`);
        console.log(`keys (mode 0600, keep the master key safe): ${keyPath}`);
      } finally {
        model?.dispose();
        model = undefined;
      }
    });
}
