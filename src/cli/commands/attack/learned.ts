// `nnlock attack learned`: how much a trained Encryption-Robust model's adaptation network
// decrypts: PSNR/SSIM of its output against the plaintext (raw and after oracle affine fits).
import { basename } from 'node:path';
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { keyId } from '../../../cipher/key.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { loadErModel } from '../../../er/model-file.ts';
import { learnedAttack, learnedMarkdown } from '../../../attacks/learned-attack.ts';
import { writeReportFiles } from '../../../attacks/report.ts';

interface LearnedFlags extends OutputFlags {
  weights: string;
  key: string;
  data: string;
  limit: number;
  device: string;
  out?: string;
  grid?: string;
  force?: boolean;
}

export function registerLearned(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('learned'))
    .description("learned decryption: PSNR/SSIM of a trained model's adaptation output against the plaintext (raw and after oracle affine fits)")
    .requiredOption('-w, --weights <file>', 'Encryption-Robust model file from `nnlock er train`')
    .addOption(option(FLAG.key, 'the cipher key file the model was trained for').makeOptionMandatory())
    .addOption(option(FLAG.data, 'plaintext test images: CIFAR-10 .bin').makeOptionMandatory())
    .addOption(option(FLAG.limit, 'images to score', parse.positiveInt, 1000))
    .option('-o, --out <prefix>', 'also write <prefix>.json and <prefix>.md')
    .option('--grid <file>', 'also write a PNG grid: ciphertext, adaptation output (raw and fitted), plaintext')
    .option(FLAG.force, 'overwrite the report files')
    .addOption(deviceOption(io.env))
    .action(async (o: LearnedFlags) => {
      const out = new Output(io, o);
      const key = await loadKey(o.key);
      const { model, spec } = await loadErModel(o.weights, key);
      try {
        model.to(o.device);
        const report = await learnedAttack(model, key, o.data, { limit: o.limit, grid: o.grid });
        const md = learnedMarkdown(basename(o.weights), spec.adaptation, key, report);
        const value = { model: o.weights, keyId: keyId(key), adaptation: spec.adaptation, ...report };
        if (o.out) out.note(`wrote ${(await writeReportFiles(o.out, value, md, { force: o.force })).join(' and ')}`);
        if (o.grid) out.note(`wrote ${o.grid}`);
        out.result(value, md.trimEnd());
      } finally {
        model.dispose();
      }
    });
}
