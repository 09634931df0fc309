// `nnlock attack known-plaintext`: recover a key from plaintext images and their ciphertext.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { CIPHER_KINDS, type CipherKind } from '../../../cipher/key.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { type KnownPlaintextSummary, knownPlaintextAttackOnFiles } from '../../../attacks/known-plaintext-files.ts';

interface KnownPlaintextFlags extends OutputFlags {
  plain: string;
  cipher: string;
  kind: CipherKind;
  block: number;
  limit: number;
  blocks?: number;
  trueKey?: string;
  outKey?: string;
  force?: boolean;
}

export function registerKnownPlaintext(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('known-plaintext'))
    .description('recover a key from known plaintext and its ciphertext (files), without the key')
    .requiredOption('--plain <file>', 'plaintext: CIFAR-10 .bin or an image')
    .requiredOption('--cipher <file>', 'its ciphertext as `nnlock cipher encrypt` wrote it (same images, same order)')
    .addOption(option('--kind <kind>', `the cipher's kind: ${CIPHER_KINDS.join(' | ')}`, parse.oneOf(CIPHER_KINDS)).makeOptionMandatory())
    .addOption(option(FLAG.block, 'block size k', parse.positiveInt, 4))
    .addOption(option(FLAG.limit, 'use the first n images', parse.positiveInt, 1))
    .addOption(option('--blocks <n>', 'use only the first n blocks per channel (default: all of those images)', parse.positiveInt))
    .option('--true-key <file>', 'score the result against this key file')
    .option('--out-key <file>', 'write the recovered key (matrices form, mode 0600)')
    .option(FLAG.force, 'overwrite --out-key')
    .action(async (o: KnownPlaintextFlags) => {
      const trueKey = o.trueKey ? await loadKey(o.trueKey) : undefined;
      const r = await knownPlaintextAttackOnFiles({ ...o, k: o.block, trueKey });
      new Output(io, o).result(r, summaryLines(r, o));
    });
}

function summaryLines(r: KnownPlaintextSummary, o: KnownPlaintextFlags): string[] {
  const n = r.k * r.k;
  const lines = [`known-plaintext attack on ${r.kind}, k=${r.k}: ${r.blocksPerChannel} known blocks per channel`];
  for (const ch of r.channels) {
    lines.push(
      `  channel ${ch.channel}: rank ${ch.rank}/${n}, ${ch.determined ? 'key matrix determined' : 'NOT determined (need more or more varied blocks)'}` +
        `, residual ${ch.relativeResidual.toExponential(2)}${ch.maxAbsError !== undefined ? `, max |K̂−K| ${ch.maxAbsError.toExponential(2)}` : ''}`,
    );
  }
  if (o.trueKey) lines.push(r.recovered ? 'the true key was recovered' : 'the true key was NOT recovered');
  if (o.outKey) lines.push(r.keyFile ? `wrote the recovered key to ${r.keyFile} (id ${r.recoveredKeyId})` : 'no key written: not every channel was determined');
  return lines;
}
