// `nnlock attack er-weights`: the client's key recovered from a trained Encryption-Robust model's
// adaptation network alone (keyFromAdapterFile): a service that trains the network holds a decryptor.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { loadKey } from '../../../cipher/key-file.ts';
import { type ErWeightsAttackReport, keyFromAdapterFile } from '../../../attacks/er-weights-files.ts';

interface ErWeightsFlags extends OutputFlags {
  weights: string;
  std?: number[];
  trueKey?: string;
  images?: string;
  limit: number;
  outKey?: string;
  force?: boolean;
}

export function registerErWeights(attack: Command, io: CliIO): void {
  withOutputFlags(attack.command('er-weights'))
    .description("recover the cipher key from a trained Encryption-Robust model's adaptation network (its weights only: no plaintext, no ciphertext)")
    .addOption(option(FLAG.weights, 'model file from `nnlock er train` (aligned adaptation network)').makeOptionMandatory())
    .addOption(option('--std <r,g,b>', "the backbone's input normalisation std (the service knows it); default 1 (the key then comes out up to one scale per channel)", parse.triple))
    .option('--true-key <file>', 'score the recovered key against this key file')
    .option('--images <file>', 'with --true-key: plaintext images (CIFAR-10 .bin or an image) encrypted with the true key and decrypted with the recovered one (PSNR)')
    .addOption(option(FLAG.limit, 'first n of --images', parse.positiveInt, 1000))
    .option('--out-key <file>', 'write the recovered key (matrices form, mode 0600)')
    .option(FLAG.force, 'overwrite --out-key')
    .addHelpText(
      'after',
      [
        '',
        'Example (the shared ResNet-20 expects std 0.229,0.224,0.225):',
        '  nnlock attack er-weights -w er.safetensors --std 0.229,0.224,0.225 --true-key key.json --images ../shared/data/cifar10/test_batch.bin',
      ].join('\n'),
    )
    .action(async (o: ErWeightsFlags) => {
      const trueKey = o.trueKey ? await loadKey(o.trueKey) : undefined;
      const r = await keyFromAdapterFile(o.weights, { std: o.std, trueKey, images: o.images, limit: o.limit, outKey: o.outKey, force: o.force });
      new Output(io, o).result(r, lines(r));
    });
}

function lines(r: ErWeightsAttackReport): string[] {
  const out = [`adaptation network k=${r.k}, ${r.channels} channels; cross-channel share ${r.crossChannel.toFixed(4)}`];
  if (!r.recoveredKeyId) return [...out, 'no key: a per-channel block of the composite map is singular'];
  out.push(`recovered key ${r.recoveredKeyId}`);
  if (r.relError !== undefined)
    out.push(
      `relative error ${r.relError.toExponential(3)} (after one best scale per channel: ${r.scaleFreeRelError!.toExponential(3)}; of the decryption K̂⁻¹: ${r.inverseRelError!.toExponential(3)})`,
    );
  if (r.decryptedPsnr !== undefined) out.push(`images decrypted with it: ${r.decryptedPsnr.toFixed(2)} dB PSNR (${r.images} images)`);
  if (r.outKey) out.push(`wrote ${r.outKey}`);
  return out;
}
