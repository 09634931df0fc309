// `nnlock er fold`: a plaintext ConvMixer model file turned into one that reads images encrypted
// with a key of its patch size, exactly and without training (foldModelFile).
import type { Command } from 'commander';
import { loadKey } from '../../../cipher/key-file.ts';
import { describeKey } from '../../../cipher/key.ts';
import { foldModelFile } from '../../../er/fold-file.ts';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option } from '../../options.ts';

interface FoldFlags {
  weights: string;
  key: string;
  out: string;
  arch?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerErFold(er: Command, io: CliIO): void {
  const cmd = er
    .command('fold')
    .description('fold a cipher key into a plaintext model whose first layer is a k×k, stride-k patch embedding (ConvMixer): the result reads ciphertext, with the same accuracy, no training')
    .addOption(option(FLAG.weights, 'plaintext model file (a convmixer-DIMxDEPTH-pK, e.g. from `nnlock model train -a convmixer-128x4-p4`)').makeOptionMandatory())
    .addOption(option(FLAG.key, 'cipher key file: uniform or orthogonal, block size = the patch size, no shuffle').makeOptionMandatory())
    .addOption(option(FLAG.out, 'folded model file to write').makeOptionMandatory())
    .addOption(option(FLAG.arch, 'architecture, when the weights file does not record it'))
    .option(FLAG.force, 'overwrite --out if it exists');
  withOutputFlags(cmd)
    .addHelpText(
      'after',
      ['', 'Example:', '  nnlock er fold -w mixer.safetensors -K key.json -o mixer-cipher.safetensors', '', 'Anyone holding both files recovers the key (see experiments/results/er).'].join('\n'),
    )
    .action(async (o: FoldFlags) => {
      const out = new Output(io, o);
      const key = await loadKey(o.key);
      out.note(`folding the ${describeKey(key)} into ${o.weights}`);
      const r = await foldModelFile(o.weights, key, o.out, { arch: o.arch, force: o.force });
      out.result(r, [`wrote ${r.out}: ${r.architecture} reading images encrypted with key ${r.keyId} (normalisation folded in; feed it ciphertext as it is)`]);
    });
}
