// `nnlock attack decoys`: the decoy detector suite on a protected model. Without a key: the
// attacker's view (each layer's suspected decoys). With a key of the top tier (--keys, --token,
// $NNLOCK_KEY): the owner's audit, every detector's ROC AUC against the true decoys.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { tokenFromFlags } from '../../key-flags.ts';
import { DECOY_MODES, DEFAULT_DECOY_MODE, type DecoyMode } from '../../../protect/index.ts';
import { auditDecoys } from '../../../audit/index.ts';
import { readModel } from '../protect/args.ts';

interface DecoysFlags extends OutputFlags {
  keys?: string;
  token?: string;
  decoys: DecoyMode;
  ratio: number;
  detector: string;
  seed: number;
}

export function registerDecoys(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('decoys'))
    .description(
      "find a protected model's decoys from the file alone (norms, moments, autocorrelation, Mahalanobis, neighbours, a learned classifier); with the master key, score every detector's ROC AUC",
    )
    .argument('<model>', 'protected model (safetensors)')
    .addOption(option(FLAG.keys, 'key file: with the top tier, score the detectors against the true decoys'))
    .addOption(option(FLAG.token, 'a top-tier token instead of --keys'))
    .addOption(option('--decoys <mode>', 'the decoy mode the attacker simulates', parse.oneOf(DECOY_MODES), DEFAULT_DECOY_MODE))
    .addOption(option('-r, --ratio <x>', 'without a key: the protected share of each layer assumed', parse.fraction, 0.08))
    .addOption(option('--detector <name>', 'the detector whose suspects are listed', undefined, 'classifier'))
    .addOption(option(FLAG.seed, "seed of the attacker's own decoys", parse.int(), 0))
    .addHelpText('after', '\nExamples:\n  nnlock attack decoys model.protected.safetensors --json\n  nnlock attack decoys model.protected.safetensors --keys ~/.nnlock/keys/model.protected.keys')
    .action(async (path: string, o: DecoysFlags) => {
      const token = await tokenFromFlags(o, io.env);
      const r = await auditDecoys(await readModel(path), { token, mode: o.decoys, ratio: o.ratio, detector: o.detector, seed: o.seed });
      const lines = [`decoy detectors on ${path} (simulated decoys: ${r.mode})`];
      if (r.reports) {
        lines.push('detector                      pooled AUC  max(AUC,1-AUC)  precision@S  worst layer (≥20 decoys)  layers above chance (95%)');
        for (const d of [...r.reports].sort((a, b) => b.pooledSeparability - a.pooledSeparability)) {
          lines.push(
            `${d.detector.padEnd(30)}${d.pooledAuc.toFixed(3).padStart(10)}${d.pooledSeparability.toFixed(3).padStart(16)}${d.pooledPrecision.toFixed(3).padStart(13)}${(Number.isFinite(d.maxLayerSeparability) ? d.maxLayerSeparability.toFixed(3) : '–').padStart(26)}${`${d.layersAboveChance} / ${d.layers.length}`.padStart(27)}`,
          );
        }
        lines.push('(a layer is above chance when its separability exceeds what a useless detector reaches 19 times in 20 at its size: about 1 layer in 20 is, by chance)');
      } else {
        for (const l of r.layers) lines.push(`  ${l.name}: ${l.decoys} suspects of ${l.kernels} kernels (by ${r.detector})`);
        lines.push('(no key given: pass the master key with --keys to score the detectors against the true decoys)');
      }
      new Output(io, o).result(r, lines);
    });
}
