// `nnlock cipher decrypt`: what `nnlock cipher encrypt` wrote, back to images or CIFAR-10 files.
import type { Command } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option } from '../../options.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { decryptFiles } from '../../../cipher/files.ts';
import type { CipherFileFlags } from './encrypt.ts';
import { fileSetLines } from './output.ts';

export function registerDecrypt(cipher: Command, io: CliIO): void {
  withOutputFlags(cipher.command('decrypt'))
    .description('decrypt what `nnlock cipher encrypt` wrote')
    .argument('<inputs...>', 'encrypted images (.png for hill256, .safetensors otherwise) or an encrypted dataset (.bin / .safetensors)')
    .addOption(option(FLAG.key, 'cipher key file').makeOptionMandatory())
    .addOption(option(FLAG.out, 'output: .png (or .safetensors for exact floats) for images, CIFAR-10 .bin for datasets; a folder for several images').makeOptionMandatory())
    .option(FLAG.force, 'overwrite outputs that exist')
    .action(async (inputs: string[], o: CipherFileFlags) => {
      const out = new Output(io, o);
      const key = await loadKey(o.key);
      const r = await decryptFiles(inputs, o.out, key, { force: o.force, onFile: (f) => out.note(`decrypted ${f.input}`) });
      const exactness = key.kind === 'hill256' ? ' (exact)' : r.maxPixelError === null ? '' : ` (largest pixel error before rounding: ${r.maxPixelError.toExponential(2)} of 255)`;
      out.result(r, fileSetLines('decrypted', r, exactness));
    });
}
