// `nnlock keys`: derive lower-tier key tokens from a key of a protected model (the chain only goes
// down), e.g. to hand a user the key of their tier.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { deriveTierToken, formatKeyFile, inspectProtected, writeKeyFile } from '../../protect/index.ts';
import { keyFrom, positiveInt, readModelFile } from './protect-args.ts';

interface KeysCliOptions {
  key?: string;
  keyFile?: string;
  tier?: string;
  out?: string;
  force?: boolean;
}

export function registerKeys(program: Command): void {
  program
    .command('keys')
    .description('derive the key tokens of lower tiers from a key of a protected model')
    .argument('<protected>', 'the protected model the key belongs to (its model id salts the key chain)')
    .option('-k, --key-file <file>', 'key file (its highest tier is used)')
    .option('--key <token>', 'key token (visible to other local users: prefer --key-file or NNLOCK_KEY)')
    .option('-t, --tier <m>', 'derive only this tier (default: the key\'s tier and every tier below)')
    .option('-o, --out <file>', 'write the tokens to this key file (mode 0600) instead of printing them')
    .option('--force', 'overwrite --out')
    .addHelpText('after', `
Example (give a user tier 1 only):
  nnlock keys model.protected.safetensors -k model.protected.safetensors.keys -t 1 -o user.keys`)
    .action(async (path: string, o: KeysCliOptions) => {
      if (o.out && !o.force && existsSync(o.out)) throw new Error(`${o.out} exists (use --force to overwrite)`);
      const header = inspectProtected(await readModelFile(path));
      const key = await keyFrom(o);
      const wanted = o.tier !== undefined ? [positiveInt(o.tier, '--tier')] : Array.from({ length: Math.min(key.tier, header.tiers) }, (_, i) => i + 1);
      const tokens = wanted.map((t) => deriveTierToken(header, key, t));
      key.key.fill(0);
      if (o.out) {
        await writeKeyFile(o.out, formatKeyFile({ tokens, modelId: header.modelId, tiers: header.tiers, model: path }), { force: o.force });
        console.log(`key${tokens.length === 1 ? '' : 's'} of tier${wanted.length === 1 ? '' : 's'} ${wanted.join(', ')} written to ${o.out} (mode 0600)`);
      } else {
        for (let i = wanted.length - 1; i >= 0; i--) console.log(`tier ${wanted[i]}: ${tokens[i]}`);
      }
    });
}
