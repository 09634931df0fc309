// Denoising images with a denoiser from its weights file: a real noisy photo (or a folder of them)
// is cleaned as it is; with `addNoise`, seeded Gaussian noise is added to each (clean) image first,
// and PSNR and SSIM against that clean image say how well the network removed it. Without added
// noise there is no clean reference, so no score: none is made up. The denoised (and noisy) images
// can be written as PNGs.
//
// Channels: a colour image through a grayscale DnCNN is denoised one channel at a time (each
// channel as a grayscale image, as the network was trained); a colour DnCNN (dncnn-N-c3) takes RGB,
// a grayscale image given to it as three equal channels. Images keep their own channel count.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { noGrad, parseDevice, scope, tensor } from '../tensor/index.ts';
import { toDevice } from '../ops/convert.ts';
import { clamp, sub } from '../ops/arithmetic.ts';
import { reshape } from '../ops/shape.ts';
import type { Module } from '../nn/index.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import { type Channels, type Image, readImage, writePng } from '../io/image.ts';
import { openModel } from '../models/load.ts';
import { IMAGE_EXTENSIONS, listImages } from '../data/image-folder.ts';
import { addGaussianNoise } from '../data/denoise-patches.ts';
import { psnrPerImage, ssimPerImage } from './metrics.ts';
import { mean } from './evaluate.ts';

export interface DenoiseImagesOptions {
  /** Architecture when the file does not name it. */
  arch?: string;
  /** A TorchScript file of the user's own denoiser (torch.jit.script(model).save), instead of an architecture. */
  module?: string;
  /**
   * Add Gaussian noise of this σ (on the [0, 255] scale) to each image before denoising it, and
   * score the result against the image (the input is then taken as clean). Default: none, the
   * input is the noisy photo.
   */
  addNoise?: number;
  /** Noise seed: image i gets seed + i (default 0). */
  seed?: number;
  /** Write <name>-denoised.png (and, with addNoise, <name>-noisy.png) into this folder. */
  out?: string;
  /** Replace PNGs that exist in `out` (default false: refused before any work). */
  overwrite?: boolean;
  /** What to call the weights in errors (default: the path). */
  source?: string;
  /** Where the network runs: 'cpu' (default), 'cuda', 'cuda:i'. */
  device?: string;
  /** After every image: images done, of total, and its scores. */
  onImage?: (done: number, total: number, image: DenoisedImageScore) => void;
}

export interface DenoisedImageScore {
  name: string;
  /** The image's channels (1 or 3). */
  channels: Channels;
  /** dB, of the denoised and of the noisy image against the clean one: only with added noise. */
  psnr?: number;
  psnrNoisy?: number;
  ssim?: number;
  /** The PNGs written, with `out`. */
  denoisedFile?: string;
  noisyFile?: string;
}

export interface DenoiseReport {
  architecture: string;
  /** σ of the noise added, or null: the images were denoised as they are. */
  addedNoise: number | null;
  /** 'per-channel': colour images through a grayscale network, one channel at a time. */
  colour: 'per-channel' | 'rgb' | 'none';
  /** Means over the images, with added noise only (without it there is no clean reference). */
  psnr?: number;
  ssim?: number;
  psnrNoisy?: number;
  images: DenoisedImageScore[];
}

/**
 * Denoises the image file `input`, or every PNG/JPEG in the folder `input`, with the denoiser in
 * `weights` (a path, or a file in memory such as an unlocked protected model).
 */
export async function denoiseImages(weights: string | SafetensorsFile, input: string, options: DenoiseImagesOptions = {}): Promise<DenoiseReport> {
  const { addNoise, seed = 0, out } = options;
  const device = parseDevice(options.device ?? 'cpu');
  if (addNoise !== undefined && !(addNoise > 0)) throw new Error(`the added noise σ must be a positive number, got ${addNoise}`);
  const files = await inputImages(input);
  const outputs = files.map((f) => outputNames(f, out, addNoise !== undefined));
  if (out && !options.overwrite) {
    const taken = outputs.flat().find((f) => existsSync(f));
    if (taken) throw new Error(`${taken} exists: pass overwrite (--force) to replace it`);
  }
  const { model, spec } = await openModel(weights, { arch: options.arch, module: options.module, task: 'denoising', source: options.source });
  try {
    if (spec.task !== 'denoising') throw new Error(`${spec.name} is a ${spec.task} model, not a denoiser`);
    if (out) mkdirSync(out, { recursive: true });
    model.to(device).eval();
    const scores: DenoisedImageScore[] = [];
    let colour = false;
    for (const [i, file] of files.entries()) {
      const image = await readInOwnChannels(file, spec.inputChannels as Channels);
      colour ||= image.channels === 3;
      const r = denoiseOne(model, spec.inputChannels, image, addNoise === undefined ? undefined : { sigma: addNoise, seed: seed + i });
      const score: DenoisedImageScore = { name: basename(file), channels: image.channels, ...r.scores };
      if (out) Object.assign(score, await writeImages(r, image, outputs[i]));
      scores.push(score);
      options.onImage?.(i + 1, files.length, score);
    }
    const report: DenoiseReport = {
      architecture: spec.name,
      addedNoise: addNoise ?? null,
      colour: !colour ? 'none' : spec.inputChannels === 1 ? 'per-channel' : 'rgb',
      images: scores,
    };
    if (addNoise !== undefined) {
      report.psnr = mean(scores.map((s) => s.psnr!));
      report.ssim = mean(scores.map((s) => s.ssim!));
      report.psnrNoisy = mean(scores.map((s) => s.psnrNoisy!));
    }
    return report;
  } finally {
    model.dispose();
  }
}

/** The one image `input` names, or the images of the folder it names. */
async function inputImages(input: string): Promise<string[]> {
  if (!existsSync(input)) throw new Error(`${input}: no such file or folder`);
  if (statSync(input).isFile()) {
    if (!IMAGE_EXTENSIONS.includes(extname(input).toLowerCase())) throw new Error(`${input}: not a PNG or JPEG image (${IMAGE_EXTENSIONS.join(', ')})`);
    return [input];
  }
  const files = await listImages(input);
  if (files.length === 0) throw new Error(`${input}: no PNG or JPEG images`);
  return files;
}

/**
 * The image in its own channel count: read as RGB, and taken as grayscale when its three planes
 * are equal (a grayscale file, or a grey photo stored as RGB). A colour network gets RGB always.
 */
async function readInOwnChannels(file: string, networkChannels: Channels): Promise<Image> {
  const rgb = await readImage(file, { channels: 3 });
  if (networkChannels === 3) return rgb;
  const plane = rgb.height * rgb.width;
  const d = rgb.data;
  for (let j = 0; j < plane; j++) if (d[j] !== d[j + plane] || d[j] !== d[j + 2 * plane]) return rgb;
  return { data: d.slice(0, plane), channels: 1, height: rgb.height, width: rgb.width };
}

interface Denoised {
  /** Denoised image in [0, 1], C×H×W. */
  output: Float32Array;
  /** The noisy input, C×H×W (with added noise only). */
  noisy?: Float32Array;
  scores: Pick<DenoisedImageScore, 'psnr' | 'psnrNoisy' | 'ssim'>;
}

/**
 * clamp(noisy − net(noisy), 0, 1), noisy = the image (+ noise when asked). A grayscale network
 * takes a colour image as a batch of its channels.
 */
function denoiseOne(model: Module, networkChannels: number, img: Image, noise?: { sigma: number; seed: number }): Denoised {
  return noGrad(() =>
    scope(() => {
      const shape = [1, img.channels, img.height, img.width];
      const cleanF = Float32Array.from(img.data, (v) => v / 255);
      const noisyF = noise ? addGaussianNoise(cleanF, noise.sigma, noise.seed) : cleanF;
      const noisy = toDevice(tensor(noisyF, shape), model.device);
      const batch = networkChannels === 1 && img.channels === 3 ? reshape(noisy, [3, 1, img.height, img.width]) : noisy;
      const residual = reshape(model.forward(batch), shape);
      const out = clamp(sub(noisy, residual), 0, 1);
      const output = out.toTypedArray() as Float32Array;
      if (!noise) return { output, scores: {} };
      const clean = toDevice(tensor(cleanF, shape), model.device);
      return {
        output,
        noisy: noisyF,
        scores: { psnr: psnrPerImage(out, clean)[0], psnrNoisy: psnrPerImage(clamp(noisy, 0, 1), clean)[0], ssim: ssimPerImage(out, clean)[0] },
      };
    }),
  );
}

function outputNames(file: string, out: string | undefined, noisy: boolean): string[] {
  if (!out) return [];
  const stem = basename(file, extname(file));
  return [join(out, `${stem}-denoised.png`), ...(noisy ? [join(out, `${stem}-noisy.png`)] : [])];
}

async function writeImages(r: Denoised, image: Image, [denoisedFile, noisyFile]: string[]): Promise<Pick<DenoisedImageScore, 'denoisedFile' | 'noisyFile'>> {
  if (!denoisedFile) return {};
  const { channels, height, width } = image;
  await writePng(denoisedFile, r.output, channels, height, width);
  if (!noisyFile || !r.noisy) return { denoisedFile };
  await writePng(
    noisyFile,
    r.noisy.map((v) => Math.min(1, Math.max(0, v))),
    channels,
    height,
    width,
  );
  return { denoisedFile, noisyFile };
}
