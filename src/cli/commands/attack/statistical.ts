// `nnlock attack statistical`: ciphertext-only recovery of the decryption from image statistics.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { statisticalAttackOnFiles } from '../../../attacks/statistical-attack.ts';

interface StatisticalFlags extends OutputFlags {
  cipher: string;
  prior: string;
  block: number;
  limit?: number;
  plain?: string;
  grid?: string;
}

export function registerStatistical(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('statistical'))
    .description('ciphertext-only attack: recover the decryption from the statistics of many ciphertexts and of other plaintext images of the same kind (no key, no known plaintext)')
    .requiredOption('--cipher <file>', 'ciphertexts as `nnlock cipher encrypt` wrote them (a real-valued kind: uniform or orthogonal)')
    .requiredOption('--prior <file>', 'plaintext images of the same kind that are NOT the encrypted ones (CIFAR-10 .bin, or an image)')
    .addOption(option(FLAG.block, 'block size k', parse.positiveInt, 4))
    .addOption(option(FLAG.limit, 'use the first n ciphertexts', parse.positiveInt))
    .option('--plain <file>', 'the true plaintext of --cipher (same order), to score the recovered images')
    .option('--grid <file>', 'PNG grid of ciphertext, recovered image (and plaintext) for the first 8')
    .addHelpText(
      'after',
      '\nExample:\n  nnlock attack statistical --cipher runs/train.enc.safetensors --prior ../shared/data/cifar10/data_batch_3.bin --plain ../shared/data/cifar10/data_batch_1.bin --grid runs/recovered.png',
    )
    .action(async (o: StatisticalFlags) => {
      const r = await statisticalAttackOnFiles({ cipher: o.cipher, prior: o.prior, plain: o.plain, limit: o.limit }, { k: o.block, grid: o.grid });
      const lines = [`statistical attack: ${r.cipherImages} ciphertexts, ${r.priorImages} prior images, k=${r.k}, ${r.seconds.toFixed(1)} s`];
      const q = r.recovered;
      if (q) lines.push(`recovered images against the true plaintext (${q.images} images): PSNR ${q.psnr.toFixed(2)} dB, SSIM ${q.ssim.toFixed(4)}`);
      if (r.grid) lines.push(`wrote ${r.grid}`);
      new Output(io, o).result(r, lines);
    });
}
