// `nnlock protect keys`: derive lower-tier key tokens from a key of a protected model (the chain
// only goes down), e.g. to hand a user the key of their tier.
import type { Command } from 'commander';
import { deriveKeys, formatKeyFile, inspectProtected } from '../../../protect/index.ts';
import { writeFileAtomic } from '../../../io/atomic.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { plural, readModel, refuseOverwrite, tokenFrom } from './args.ts';

interface KeysFlags {
  keys?: string;
  token?: string;
  tier?: number;
  out?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerKeysVerb(noun: Command, io: CliIO): void {
  withOutputFlags(
    noun
      .command('keys')
      .description('derive the key tokens of lower tiers from a key of a protected model')
      .argument('<protected>', 'the protected model the key belongs to (its model id salts the key chain)')
      .addOption(option(FLAG.keys, 'key file (its highest tier is used)'))
      .addOption(option(FLAG.token, 'key token (visible to other local users: prefer --keys or NNLOCK_KEY)'))
      .addOption(option(FLAG.tier, "derive only this tier (default: the key's tier and every tier below)", parse.positiveInt))
      .addOption(option(FLAG.out, 'write the tokens to this key file (mode 0600) instead of printing them'))
      .addOption(option(FLAG.force, 'overwrite --out')),
  )
    .addHelpText(
      'after',
      `
Example (give a user tier 1 only):
  nnlock protect keys model.protected.safetensors --keys ~/private/model.keys --tier 1 -o user.keys`,
    )
    .action(async (path: string, o: KeysFlags) => {
      const out = new Output(io, o);
      refuseOverwrite([o.out], o.force);
      const header = inspectProtected(await readModel(path));
      const derived = await deriveKeys(header, await tokenFrom(o, io), o.tier !== undefined ? [o.tier] : undefined);
      const tiers = derived.map((d) => d.tier);
      if (o.out) {
        // Exclusive without --force: a key file that appeared meanwhile is never replaced.
        const text = formatKeyFile({ tokens: derived.map((d) => d.token), modelId: header.modelId, tiers: header.tiers, model: path, signer: header.signer });
        await writeFileAtomic(o.out, text, { mode: 0o600, exclusive: !o.force });
        out.result({ out: o.out, tiers }, `${plural(tiers.length, 'key')} of tier${tiers.length === 1 ? '' : 's'} ${tiers.join(', ')} written to ${o.out} (mode 0600)`);
      } else {
        out.result(
          { keys: derived },
          [...derived].reverse().map((d) => `tier ${d.tier}: ${d.token}`),
        );
      }
    });
}
