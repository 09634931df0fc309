// `nnlock protect unlock`: check a key against a protected model and restore its tier in memory;
// write the unlocked model only with --out, and optionally measure it on validation data.
import type { Command } from 'commander';
import { writeSafetensors } from '../../../io/safetensors.ts';
import { unlockModel } from '../../../protect/index.ts';
import { signatureNote } from '../../signature-note.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { evaluator, measure, readModel, refuseOverwrite, requireSpec, specOf, tokenFrom } from './args.ts';

interface UnlockFlags {
  keys?: string;
  token?: string;
  tier?: number;
  signer?: string;
  out?: string;
  arch?: string;
  evalData?: string;
  evalImages?: number;
  sigma: number;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerUnlockVerb(noun: Command, io: CliIO): void {
  withOutputFlags(
    noun
      .command('unlock')
      .description("restore a protected model's tier with a key (in memory; written only with --out)")
      .argument('<protected>', 'protected model (safetensors)')
      .addOption(option(FLAG.keys, 'key file (its highest tier is used)'))
      .addOption(option(FLAG.token, 'key token (visible to other local users: prefer --keys or NNLOCK_KEY)'))
      .addOption(option(FLAG.tier, "tier to restore (default: the key's tier; 0 = the published model)", parse.nonNegativeInt))
      .addOption(option(FLAG.signer, "refuse the model unless the owner's signer is this one (a key from the owner pins it already)"))
      .addOption(option(FLAG.out, 'write the unlocked model here (safetensors)'))
      .addOption(option(FLAG.arch, 'architecture for --eval-data, when the file does not say'))
      .addOption(option('--eval-data <path>', 'measure the unlocked model: CIFAR-10 folder or test .bin; for denoisers a folder of images'))
      .addOption(option('--eval-images <n>', 'validation images used (default all)', parse.positiveInt))
      .addOption(option(FLAG.sigma, 'denoisers: noise σ on the 0..255 scale', parse.nonNegativeNumber, 25))
      .addOption(option(FLAG.force, 'overwrite --out')),
  )
    .addHelpText(
      'after',
      `
Examples:
  nnlock protect unlock model.protected.safetensors --keys ~/private/model.keys -o model.safetensors
  NNLOCK_KEY=nnlock1-t1-… nnlock protect unlock model.protected.safetensors --eval-data ../shared/data/cifar10`,
    )
    .action(async (path: string, o: UnlockFlags) => {
      const out = new Output(io, o);
      refuseOverwrite([o.out], o.force);
      const file = await readModel(path);
      const r = await unlockModel(file, await tokenFrom(o, io), { tier: o.tier, expectedSigner: o.signer });
      out.note(`key accepted (tier ${r.keyTier} of ${r.tiers}); tier ${r.tier} restores ${r.restored} kernels in ${r.header.layers.length} conv layers`);
      signatureNote(out, r);
      let metric: { unit: string; value: number; images: number } | undefined;
      if (o.evalData) {
        const spec = requireSpec(specOf(o.arch ?? r.header.architecture, file.metadata), path, 'evaluating it');
        const ev = await evaluator(spec, o.evalData, r.file.metadata, { images: o.evalImages, sigma: o.sigma, seed: 0 });
        metric = { unit: ev.unit, value: (await measure(spec, r.file, ev))!, images: ev.count };
      }
      if (o.out) await writeSafetensors(o.out, r.file.tensors, r.file.metadata);
      const { tier, tiers, keyTier, restored, signed, signerPinned } = r;
      out.result({ tier, tiers, keyTier, restored, signed, signer: r.signer ?? null, signerPinned, out: o.out ?? null, metric: metric ?? null }, [
        `key accepted (tier ${keyTier} of ${tiers}); tier ${tier} restores ${restored} kernels`,
        ...(metric ? [`tier ${tier}: ${metric.unit} ${metric.value.toFixed(4)} on ${metric.images} images`] : []),
        o.out ? `unlocked model${tier < tiers ? ` (tier ${tier} of ${tiers}: still holds decoys)` : ''}: ${o.out}` : 'nothing written (pass --out to write the unlocked model)',
      ]);
    });
}
