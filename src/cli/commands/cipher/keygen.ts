// `nnlock cipher keygen`: derive a block-cipher key from a 256-bit secret and write its key file.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { UsageError } from '../../errors.ts';
import { CIPHER_KINDS, type CipherKind, DEFAULT_MAX_CONDITION, describeKey, keyId, parseSecretHex } from '../../../cipher/key.ts';
import { createKeyFile, loadSecret } from '../../../cipher/key-file.ts';

interface KeygenFlags extends OutputFlags {
  kind: CipherKind;
  block: number;
  channels: number;
  shuffle?: boolean;
  secret?: string;
  secretFile?: string;
  maxCondition: number;
  form: 'secret' | 'matrices';
  out: string;
  force?: boolean;
}

export function registerKeygen(cipher: Command, io: CliIO): void {
  withOutputFlags(cipher.command('keygen'))
    .description('derive a key from a 256-bit secret (random unless given) and write it as a key file (mode 0600)')
    .addOption(option('--kind <kind>', `key kind: ${CIPHER_KINDS.join(' | ')}`, parse.oneOf(CIPHER_KINDS)).makeOptionMandatory())
    .addOption(option(FLAG.block, 'block size k (4 for 32×32 images, 8 for 224×224)', parse.positiveInt, 4))
    .addOption(option('--channels <n>', 'image channels (one matrix each)', parse.positiveInt, 3))
    .option('--shuffle', 'also permute block positions (key-driven)')
    .option('--secret-file <file>', 'read the 256-bit secret (64 hex digits) from a file')
    .option('--secret <hex>', 'the secret as 64 hex digits (visible to other users in the process list: prefer --secret-file)')
    .addOption(option('--max-condition <x>', 'reject real keys whose condition number exceeds this', parse.positiveNumber, DEFAULT_MAX_CONDITION))
    .addOption(option('--form <form>', 'key file form: secret (compact; matrices re-derived on load) | matrices', parse.oneOf(['secret', 'matrices'] as const), 'secret'))
    .addOption(option(FLAG.out, 'key file to write (JSON)').makeOptionMandatory())
    .option(FLAG.force, 'overwrite an existing key file')
    .addHelpText(
      'after',
      '\nExamples:\n  nnlock cipher keygen --kind orthogonal --block 4 -o key.json\n  nnlock cipher keygen --kind hill256 --block 8 --shuffle --secret-file secret.hex -o key224.json',
    )
    .action(async (o: KeygenFlags) => {
      if (o.secret && o.secretFile) throw new UsageError('give --secret or --secret-file, not both');
      const secret = o.secret ? parseSecretHex(o.secret) : o.secretFile ? await loadSecret(o.secretFile) : undefined;
      const key = await createKeyFile(o.out, {
        kind: o.kind,
        k: o.block,
        channels: o.channels,
        shuffle: !!o.shuffle,
        maxCondition: o.maxCondition,
        secret,
        form: o.form,
        force: o.force,
      });
      new Output(io, o).result(
        { keyFile: o.out, keyId: keyId(key), kind: key.kind, k: key.k, channels: key.channels, shuffle: key.shuffle, form: o.form },
        `wrote ${o.out} (mode 0600): ${describeKey(key)}`,
      );
    });
}
