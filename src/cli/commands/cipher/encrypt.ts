// `nnlock cipher encrypt`: images or CIFAR-10 files, encrypted with a key file. Inputs are
// positional (like cp: the files to transform, then -o where they go).
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option } from '../../options.ts';
import { describeKey, keyId } from '../../../cipher/key.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { encryptFiles } from '../../../cipher/files.ts';
import { fileSetLines } from './output.ts';

export interface CipherFileFlags extends OutputFlags {
  key: string;
  out: string;
  force?: boolean;
}

export function registerEncrypt(cipher: Command, io: CliIO): void {
  withOutputFlags(cipher.command('encrypt'))
    .description('encrypt images (PNG/JPEG) or CIFAR-10 .bin files with a key')
    .argument('<inputs...>', 'image files, or CIFAR-10 .bin files (encrypted together into one dataset)')
    .addOption(option(FLAG.key, 'cipher key file (nnlock cipher keygen)').makeOptionMandatory())
    .addOption(option(FLAG.out, 'output file (a folder for several images)').makeOptionMandatory())
    .option(FLAG.force, 'overwrite outputs that exist')
    .addHelpText(
      'after',
      [
        '',
        'Outputs: hill256 keeps the format (PNG → PNG, CIFAR-10 .bin → CIFAR-10 .bin, bytes 0..255);',
        'uniform/orthogonal ciphertexts are real-valued: a .safetensors file (float32 "image" [C,H,W], or',
        '"images" [N,C,H,W] + "labels" [N] for a dataset) recording the key id.',
        '',
        'Examples:',
        '  nnlock cipher encrypt -K key.json photo.png -o photo.enc.png',
        '  nnlock cipher encrypt -K key.json data_batch_1.bin data_batch_2.bin -o train.enc.safetensors',
      ].join('\n'),
    )
    .action(async (inputs: string[], o: CipherFileFlags) => {
      const out = new Output(io, o);
      const key = await loadKey(o.key);
      const r = await encryptFiles(inputs, o.out, key, { force: o.force, onFile: (f) => out.note(`encrypted ${f.input}`) });
      out.result({ keyId: keyId(key), ...r }, fileSetLines('encrypted', r, ` (${describeKey(key)})`));
    });
}
