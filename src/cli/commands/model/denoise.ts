// `nnlock model denoise`: add seeded Gaussian noise to a folder of images, denoise them, report
// PSNR and SSIM per image and on average, and write the denoised (and noisy) PNGs.
import type { Command } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { FLAG, option, parse } from '../../options.ts';
import { progress } from '../../progress.ts';
import { denoiseImages } from '../../../train/denoise-images.ts';
import { type UnlockFlags, commandWeights, protectionNote, unlockOptions } from './protected-weights.ts';

interface DenoiseFlags extends UnlockFlags {
  weights: string;
  input: string;
  arch?: string;
  sigma: number;
  seed: number;
  out?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerModelDenoise(model: Command, io: CliIO): void {
  const cmd = model
    .command('denoise')
    .description('add Gaussian noise to images, denoise them, report PSNR/SSIM and write PNGs')
    .addOption(option(FLAG.weights, 'denoiser weights (safetensors), plain or protected').makeOptionMandatory())
    .addOption(option(FLAG.input, 'folder of clean PNG/JPEG images').makeOptionMandatory())
    .addOption(option(FLAG.arch, 'architecture, when the file does not say (dncnn-17)'))
    .addOption(option(FLAG.sigma, 'noise level on the [0, 255] scale', parse.positiveNumber, 25))
    .addOption(option(FLAG.seed, 'noise seed (image i uses seed + i)', parse.int(), 0))
    .addOption(option(FLAG.out, 'write the denoised and noisy PNGs into this folder'))
    .addOption(option(FLAG.force, 'replace PNGs that exist in the output folder'));
  for (const opt of unlockOptions()) cmd.addOption(opt);
  cmd.addHelpText('after', '\nExample:\n  nnlock model denoise -w ../shared/data/weights/dncnn-s-25.safetensors -a dncnn-17 -i ../shared/data/images/Set12 -o runs/set12');
  withOutputFlags(cmd).action(async (o: DenoiseFlags) => {
    const out = new Output(io, o);
    const weights = await commandWeights(o.weights, o, io.env);
    const stream = out.progressStream as NodeJS.WriteStream | null;
    let bar: ReturnType<typeof progress> | undefined;
    const r = await denoiseImages(weights.file, o.input, {
      arch: o.arch,
      sigma: o.sigma,
      seed: o.seed,
      out: o.out,
      overwrite: o.force,
      source: o.weights,
      onImage: stream ? (done, total) => (bar ??= progress('denoise', total, { unit: 'img/s', stream })).update(done) : undefined,
    });
    bar?.stop();
    const line = (name: string, s: { psnr: number; ssim: number; psnrNoisy: number }) =>
      `${name.padEnd(16)} PSNR ${s.psnr.toFixed(2)} dB  SSIM ${s.ssim.toFixed(4)}  (noisy ${s.psnrNoisy.toFixed(2)} dB)`;
    out.result({ ...r, ...weights.protection }, [
      ...r.images.map((s) => line(s.name, s)),
      `${line('mean', r)}, σ = ${r.sigma}${protectionNote(weights)}`,
      ...(o.out ? [`denoised and noisy PNGs in ${o.out}`] : []),
    ]);
  });
}
