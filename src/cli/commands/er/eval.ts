// `nnlock er eval`: test accuracy of a trained Encryption-Robust model on encrypted images, and
// optionally how well its adaptation network decrypts (decryptionDiagnostics).
import { basename } from 'node:path';
import type { Command } from 'commander';
import { keyId } from '../../../cipher/key.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { BlockCipher } from '../../../cipher/hill.ts';
import { checkErClasses, loadErModel } from '../../../er/model-file.ts';
import { encryptedBatches, plaintextImagesTensor } from '../../../er/data.ts';
import { decryptionDiagnostics } from '../../../er/diagnostics.ts';
import { learnedMarkdown } from '../../../attacks/learned-attack.ts';
import { evaluateAccuracy } from '../../../train/evaluate.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { UsageError } from '../../errors.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { erData } from './data-args.ts';

interface EvalFlags {
  weights: string;
  key?: string;
  data?: string;
  encryptedData?: string;
  limit?: number;
  device: string;
  classes?: number[];
  decryption?: boolean;
  mean?: number[];
  std?: number[];
  json?: boolean;
  quiet?: boolean;
}

export function registerErEval(er: Command, io: CliIO): void {
  const cmd = er
    .command('eval')
    .description('test accuracy of a trained model on encrypted images; optionally how well its adaptation network decrypts')
    .requiredOption('-w, --weights <file>', 'model file from `nnlock er train`')
    .addOption(option(FLAG.key, 'the cipher key file it was trained for (omit for a plaintext model)'))
    .addOption(option(FLAG.data, 'plaintext test images, encrypted on the fly: CIFAR-10 file(s) or folder, or an image folder of class subfolders'))
    .option('--encrypted-data <files>', 'instead of --data: an encrypted dataset')
    .addOption(option(FLAG.limit, 'first n images', parse.positiveInt))
    .addOption(option(FLAG.classes, 'evaluate on these classes only, relabelled 0..n-1 in this order (as the model was trained with `er train --classes`)', parse.classList))
    .option('--decryption', 'also score the adaptation output against the plaintext (PSNR/SSIM, first 1000 images)')
    .addOption(option('--mean <r,g,b>', 'plaintext normalisation of a plaintext model', parse.triple))
    .addOption(option('--std <r,g,b>', 'plaintext normalisation std', parse.triple))
    .addOption(deviceOption(io.env));
  withOutputFlags(cmd).action(async (o: EvalFlags) => {
    const out = new Output(io, o);
    const key = o.key ? await loadKey(o.key) : null;
    if (o.decryption && (!key || !o.data)) throw new UsageError('--decryption needs --key and plaintext --data');
    const { model, spec } = await loadErModel(o.weights, key);
    const cipher = key ? new BlockCipher(key) : null;
    try {
      model.to(o.device);
      // An image folder is labelled with the model's class names (a folder it does not know is refused).
      const data = (await erData({ plain: o.data, encrypted: o.encryptedData, name: 'data', required: true, classes: spec.classes, classSubset: o.classes }, 'test', key, o.limit))!;
      checkErClasses(spec, data.dataset.classes, o.data ?? o.encryptedData!, o.weights);
      const classes = data.dataset.classes?.length ?? 0;
      if (classes > spec.numClasses) throw new Error(`${o.data}: ${classes} classes, but ${o.weights} tells ${spec.numClasses} apart`);
      const source = encryptedBatches(data.dataset, cipher, { batch: 500, shuffle: false, encrypted: data.encrypted, ...(key ? {} : { mean: o.mean, std: o.std }) });
      const t0 = performance.now();
      const { accuracy, count } = await evaluateAccuracy(model, source);
      const seconds = (performance.now() - t0) / 1000;
      const result: Record<string, unknown> = { model: o.weights, accuracy, images: count, seconds, adaptation: spec.adaptation, keyId: key ? keyId(key) : 'none', classes: spec.classes ?? null };
      const text = [`accuracy ${accuracy.toFixed(4)} on ${count} ${key ? 'encrypted ' : ''}images (${spec.architecture}, adaptation ${spec.adaptation}; ${seconds.toFixed(1)} s)`];
      if (spec.classes) text.push(`classes: ${spec.classes.join(', ')}`);
      if (o.decryption) {
        if (!model.adaptation) throw new Error(`${o.weights} has no adaptation network: --decryption scores one`);
        const x = await plaintextImagesTensor(o.data!, { split: 'test', limit: 1000, ...(o.classes ? { classSubset: o.classes } : { classes: spec.classes }) });
        const { report } = await decryptionDiagnostics(model, cipher!, x).finally(() => x.dispose());
        result.decryption = report;
        text.push('', learnedMarkdown(basename(o.weights), spec.adaptation, key!, report!));
      }
      out.result(result, text);
    } finally {
      cipher?.dispose();
      model.dispose();
    }
  });
}
