// `nnlock model denoise`: denoise an image or a folder of images (real noisy photos, as they are)
// and write the denoised PNGs; with --add-noise σ, add seeded Gaussian noise to clean images first
// and report PSNR and SSIM against them, per image and on average. (--sigma, which always added
// noise, is kept as the old spelling of --add-noise.)
import type { Command } from 'commander';
import { type CliIO, Output, withOutputFlags } from '../../io.ts';
import { UsageError } from '../../errors.ts';
import { FLAG, deviceOption, option, parse } from '../../options.ts';
import { progress } from '../../progress.ts';
import { type DenoiseReport, type DenoisedImageScore, denoiseImages } from '../../../train/denoise-images.ts';
import { type UnlockFlags, commandWeights, protectionNote, unlockOptions } from './protected-weights.ts';

interface DenoiseFlags extends UnlockFlags {
  weights: string;
  input: string;
  arch?: string;
  module?: string;
  addNoise?: number;
  sigma?: number;
  seed: number;
  device: string;
  out?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerModelDenoise(model: Command, io: CliIO): void {
  const cmd = model
    .command('denoise')
    .description('denoise an image or a folder of images and write PNGs; with --add-noise, score PSNR/SSIM against the clean input')
    .addOption(option(FLAG.weights, 'denoiser weights (safetensors), plain or protected').makeOptionMandatory())
    .addOption(option(FLAG.input, 'a PNG/JPEG image, or a folder of them (noisy photos; clean ones with --add-noise)').makeOptionMandatory())
    .addOption(option(FLAG.arch, 'architecture, when the file does not say (dncnn-17, dncnn-17-c3 for colour)'))
    .addOption(
      option(FLAG.module, 'your own denoiser as a TorchScript file (torch.jit.script(model).save; it outputs the noise residual, as DnCNN), the weights loaded into it; instead of --arch').conflicts(
        'arch',
      ),
    )
    .addOption(option('--add-noise <σ>', 'add Gaussian noise of σ (on the [0, 255] scale) first, and report PSNR/SSIM against the clean input', parse.positiveNumber))
    .addOption(option(FLAG.sigma, 'the old spelling of --add-noise', parse.positiveNumber).hideHelp())
    .addOption(option(FLAG.seed, 'noise seed (image i uses seed + i)', parse.int(), 0))
    .addOption(option(FLAG.out, 'write the denoised (and, with --add-noise, noisy) PNGs into this folder'))
    .addOption(option(FLAG.force, 'replace PNGs that exist in the output folder'))
    .addOption(deviceOption(io.env));
  for (const opt of unlockOptions()) cmd.addOption(opt);
  cmd.addHelpText(
    'after',
    '\nExamples:\n  nnlock model denoise -w dncnn-s-25.safetensors -i photo.jpg -o cleaned\n  nnlock model denoise -w ../shared/data/weights/dncnn-s-25.safetensors -a dncnn-17 -i ../shared/data/images/Set12 --add-noise 25 -o runs/set12',
  );
  withOutputFlags(cmd).action(async (o: DenoiseFlags) => {
    const out = new Output(io, o);
    if (o.sigma !== undefined && o.addNoise !== undefined) throw new UsageError('--sigma is the old spelling of --add-noise: pass one');
    if (o.sigma !== undefined) out.note('`--sigma` of `nnlock model denoise` is now `--add-noise` (it adds noise to clean images)');
    const weights = await commandWeights(o.weights, o, io.env);
    const stream = out.progressStream as NodeJS.WriteStream | null;
    let bar: ReturnType<typeof progress> | undefined;
    const r = await denoiseImages(weights.file, o.input, {
      arch: o.arch,
      module: o.module,
      addNoise: o.addNoise ?? o.sigma,
      seed: o.seed,
      device: o.device,
      out: o.out,
      overwrite: o.force,
      source: o.weights,
      onImage: stream ? (done, total) => (bar ??= progress('denoise', total, { unit: 'img/s', stream })).update(done) : undefined,
    });
    bar?.stop();
    out.result({ ...r, ...weights.protection }, resultLines(r, protectionNote(weights), o.out));
  });
}

function resultLines(r: DenoiseReport, protection: string, folder: string | undefined): string[] {
  const colour = r.colour === 'per-channel' ? ', colour images denoised one channel at a time' : '';
  const written = folder ? [`denoised${r.addedNoise === null ? '' : ' and noisy'} PNGs in ${folder}`] : [];
  if (r.addedNoise === null) {
    return [
      ...r.images.map((s) => `${s.name.padEnd(16)} denoised`),
      `${r.images.length} image(s) denoised as they are (${r.architecture}${protection}${colour}); no PSNR: there is no clean reference (pass --add-noise σ to score on clean images)`,
      ...written,
    ];
  }
  const line = (name: string, s: Pick<DenoisedImageScore, 'psnr' | 'ssim' | 'psnrNoisy'>) =>
    `${name.padEnd(16)} PSNR ${s.psnr!.toFixed(2)} dB  SSIM ${s.ssim!.toFixed(4)}  (noisy ${s.psnrNoisy!.toFixed(2)} dB)`;
  return [...r.images.map((s) => line(s.name, s)), `${line('mean', r)}, σ = ${r.addedNoise}${protection}${colour}`, ...written];
}
