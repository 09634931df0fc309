// `nnlock client denoise`: one image to a denoiser on the server, the answer written as a PNG.
import type { Command } from 'commander';
import { type CliIO, Output, type OutputFlags, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { denoiseFile } from '../../../web/client.ts';
import { type ConnectionFlags, connectionFrom, connectionOptions, serviceFailure } from './connection.ts';

interface DenoiseFlags extends ConnectionFlags, OutputFlags {
  model: string;
  out: string;
  sigma?: number;
  tier?: number;
  force?: boolean;
}

export function registerClientDenoise(client: Command, io: CliIO): void {
  const cmd = client
    .command('denoise')
    .description('denoise an image on the server and write the PNG it answers; with --sigma the server adds noise first and reports PSNR')
    .argument('<image>', 'a PNG/JPEG file')
    .addOption(option('--model <name>', 'the denoiser (nnlock client models lists them)').makeOptionMandatory())
    .addOption(option(FLAG.out, 'the denoised PNG').makeOptionMandatory())
    .addOption(option(FLAG.sigma, 'Gaussian noise σ (0..255 scale) the server adds first, to measure PSNR', parse.nonNegativeNumber))
    .addOption(option(FLAG.tier, 'ask for a lower tier than the credential gives', parse.nonNegativeInt))
    .addOption(option(FLAG.force, 'overwrite the output if it exists'));
  for (const opt of connectionOptions()) cmd.addOption(opt);
  cmd.addHelpText('after', '\nExample:\n  nnlock client denoise --server http://127.0.0.1:8080 --model dncnn --keys dncnn.keys --sigma 25 photo.png -o clean.png');
  withOutputFlags(cmd).action(async (image: string, o: DenoiseFlags) => {
    const out = new Output(io, o);
    const connection = await connectionFrom(o, io.env);
    const r = await denoiseFile({ ...connection, model: o.model, input: image, out: o.out, sigma: o.sigma, tier: o.tier, force: o.force }).catch((e) => {
      throw serviceFailure(e);
    });
    const psnr = r.psnr === null ? '' : `, PSNR ${r.psnr.toFixed(2)} dB at σ = ${r.sigma}`;
    out.result(r, `${r.input} denoised by ${r.model} at tier ${r.tier ?? '?'}${psnr}: ${r.output}`);
  });
}
