// `nnlock er show`: a PNG grid of a few test images as the model sees and undoes them
// (decryptionDiagnostics): ciphertext, adaptation output (raw, min–max, affine-fitted), plaintext.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadKey } from '../../../cipher/key-file.ts';
import { BlockCipher } from '../../../cipher/hill.ts';
import { plaintextImagesTensor } from '../../../er/data.ts';
import { loadErModel } from '../../../er/model-file.ts';
import { decryptionDiagnostics } from '../../../er/diagnostics.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';

interface ShowFlags {
  weights: string;
  key: string;
  data: string;
  count: number;
  out: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerErShow(er: Command, io: CliIO): void {
  const cmd = er
    .command('show')
    .description('PNG grid of a few test images: ciphertext, adaptation output (raw, min-max scaled, affine-fitted), plaintext')
    .requiredOption('-w, --weights <file>', 'model file from `nnlock er train`')
    .addOption(option(FLAG.key, 'the cipher key file it was trained for').makeOptionMandatory())
    .addOption(option(FLAG.data, 'plaintext images: a CIFAR-10 .bin file or folder (its test file), an image folder of class subfolders, or one image').makeOptionMandatory())
    .addOption(option('--count <n>', 'images (rows)', parse.positiveInt, 8))
    .addOption(option(FLAG.out, 'PNG to write').makeOptionMandatory())
    .option(FLAG.force, 'overwrite --out if it exists');
  withOutputFlags(cmd).action(async (o: ShowFlags) => {
    const out = new Output(io, o);
    if (existsSync(o.out) && !o.force) throw new Error(`${o.out} exists; pass --force to overwrite it`);
    const key = await loadKey(o.key);
    const { model, spec } = await loadErModel(o.weights, key);
    const cipher = new BlockCipher(key);
    try {
      // The affine fit of the "adapted (fit)" column is estimated over at least 256 images.
      const x = await plaintextImagesTensor(o.data, { split: 'test', limit: Math.max(o.count, 256), classes: spec.classes });
      const rows = Math.min(o.count, x.shape[0]);
      await decryptionDiagnostics(model, cipher, x, { grid: { path: o.out, rows } }).finally(() => x.dispose());
      out.result(
        { out: o.out, rows, columns: model.adaptation ? 5 : 2, classes: spec.classes ?? null },
        `wrote ${o.out}${model.adaptation ? '' : ' (the model has no adaptation network: ciphertext and plaintext only)'}`,
      );
    } finally {
      cipher.dispose();
      model.dispose();
    }
  });
}
