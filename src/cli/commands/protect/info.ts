// `nnlock protect info`: the public facts of a protected model (no key needed), and whether it is
// what its owner published: the owner's signature (format version 2) and the digest of its weights
// are checked, and --signer pins the owner.
import type { Command } from 'commander';
import { verifyModel } from '../../../protect/index.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option } from '../../options.ts';
import { readModel } from './args.ts';

export function registerInfoVerb(noun: Command, io: CliIO): void {
  withOutputFlags(
    noun
      .command('info')
      .description("show what a protected model says publicly (tiers, layers, architecture, signer) and check it is the owner's")
      .argument('<protected>', 'protected model (safetensors)')
      .addOption(option(FLAG.signer, "refuse the model unless the owner's signer is this one")),
  ).action(async (path: string, o: { signer?: string; json?: boolean; quiet?: boolean }) => {
    const v = await verifyModel(await readModel(path), { expectedSigner: o.signer });
    const h = v.header;
    new Output(io, o).result({ ...h, signed: v.signed, signerPinned: v.signerPinned, weightsVerified: v.weightsVerified }, [
      `protected model ${h.modelId} (format ${h.format} v${h.version}, ${h.cipher}, ${h.kdf})`,
      v.signed
        ? `signed by ${h.signer}: signature valid${v.signerPinned ? ', the signer you pinned' : ' (pin it with --signer to refuse copies signed by anyone else)'}`
        : 'UNSIGNED (format v1, nnlock 0.2 and before): a key holder could have modified it; ask the owner to protect it again',
      `architecture: ${h.architecture ?? 'not recorded'}`,
      `tiers: ${h.tiers} (tier 0 = the published model, no key)`,
      `protected conv layers (${h.layers.length}): ${h.layers.map((l) => `${l.name} [${l.shape.join('×')}]`).join(', ')}`,
      `weights digest: ${h.weightsDigest} (checked)`,
    ]);
  });
}
