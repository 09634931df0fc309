// Data augmentation on CHW typed arrays: random crop with zero padding, horizontal flip, and the
// eight flips/rotations of a square patch. Pure JavaScript, driven by a seeded Rng, so the loader's
// workers run it and a batch is the same whichever thread builds it.
import type { Pixels } from './dataset.ts';
import type { Rng } from './rng.ts';

export interface AugmentOptions {
  /**
   * Random crop after zero padding (torchvision's RandomCrop(size, padding)): pad every side by
   * `padding` pixels of value 0, then cut `height`×`width` (default: the input size) at a uniformly
   * random offset.
   */
  crop?: { padding: number; height?: number; width?: number };
  /** Mirror left-right with probability 1/2. */
  hflip?: boolean;
}

/** The CHW shape augment() produces from `shape`. */
export function augmentedShape(shape: readonly number[], options: AugmentOptions): [number, number, number] {
  const [c, h, w] = shape;
  return [c, options.crop?.height ?? h, options.crop?.width ?? w];
}

/**
 * Copies the window of src (C×H×W) whose top-left corner is at (top - padding, left - padding),
 * mirrored left-right when `flip`, into out (C×outH×outW). Outside src reads as 0.
 */
function cropInto<T extends Pixels>(src: Pixels, shape: readonly number[], top: number, left: number, padding: number, outH: number, outW: number, flip: boolean, out: T): T {
  const [c, h, w] = shape;
  if (out.length !== c * outH * outW) throw new RangeError(`cropInto: out has ${out.length} values, ${c}×${outH}×${outW} needs ${c * outH * outW}`);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < outH; y++) {
      const sy = y + top - padding;
      const row = (ch * outH + y) * outW;
      if (sy < 0 || sy >= h) {
        out.fill(0, row, row + outW);
        continue;
      }
      const srcRow = (ch * h + sy) * w;
      for (let x = 0; x < outW; x++) {
        const sx = (flip ? outW - 1 - x : x) + left - padding;
        out[row + x] = sx >= 0 && sx < w ? src[srcRow + sx] : 0;
      }
    }
  }
  return out;
}

/** Mirrors left-right into a new array. */
export function hflip<T extends Pixels>(src: T, shape: readonly number[]): T {
  const [, h, w] = shape;
  const out = new (src.constructor as new (n: number) => T)(src.length);
  return cropInto(src, shape, 0, 0, 0, h, w, true, out);
}

/** Zero-pads by `padding` and crops height×width at (top, left) of the padded image, into a new array. */
export function padCrop<T extends Pixels>(src: T, shape: readonly number[], padding: number, top: number, left: number, height: number, width: number): T {
  const out = new (src.constructor as new (n: number) => T)(shape[0] * height * width);
  return cropInto(src, shape, top, left, padding, height, width, false, out);
}

/**
 * Random crop and flip of one image into out (shape augmentedShape(shape, options)). The draws,
 * in order: crop top, crop left, flip; none when the option is off.
 */
export function augmentInto<T extends Pixels>(src: Pixels, shape: readonly number[], options: AugmentOptions, rng: Rng, out: T): T {
  const [, h, w] = shape;
  const [, outH, outW] = augmentedShape(shape, options);
  const pad = options.crop?.padding ?? 0;
  let top = pad;
  let left = pad;
  if (options.crop) {
    const spanY = h + 2 * pad - outH;
    const spanX = w + 2 * pad - outW;
    if (pad < 0 || spanY < 0 || spanX < 0) throw new RangeError(`augment: cannot crop ${outH}×${outW} from ${h}×${w} padded by ${pad}`);
    top = rng.int(spanY + 1);
    left = rng.int(spanX + 1);
  }
  const flip = options.hflip === true && rng.nextU32() >= 0x80000000;
  return cropInto(src, shape, top, left, pad, outH, outW, flip, out);
}

/**
 * One of the eight symmetries of a square C×S×S image (DnCNN's augmentation). Mode bits:
 * 1 = transpose, 2 = flip top-bottom, 4 = flip left-right (applied in that order); 0 is identity.
 * `out`, when given, must not be `src`.
 */
export function dihedral<T extends Pixels>(src: T, shape: readonly number[], mode: number, out?: T): T {
  const [c, h, w] = shape;
  if (h !== w) throw new RangeError(`dihedral: needs a square image, got ${h}×${w}`);
  if (!Number.isInteger(mode) || mode < 0 || mode > 7) throw new RangeError(`dihedral: mode must be 0..7, got ${mode}`);
  const s = h;
  const dst = out ?? new (src.constructor as new (n: number) => T)(src.length);
  const transpose = (mode & 1) !== 0;
  const flipY = (mode & 2) !== 0;
  const flipX = (mode & 4) !== 0;
  for (let ch = 0; ch < c; ch++) {
    const base = ch * s * s;
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        let u = transpose ? x : y;
        let v = transpose ? y : x;
        if (flipY) u = s - 1 - u;
        if (flipX) v = s - 1 - v;
        dst[base + y * s + x] = src[base + u * s + v];
      }
    }
  }
  return dst;
}
