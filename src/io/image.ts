// Image files through sharp. In memory images are CHW (planes), as tensors want them; sharp works
// in HWC (interleaved), so every read and write converts once.
import sharp, { type Metadata } from 'sharp';
import { writeFileAtomic } from './atomic.ts';
import { assertRegularFile, displayPath } from './regular-file.ts';

export type Channels = 1 | 3;

export interface Image {
  /** CHW bytes. */
  data: Uint8Array;
  channels: Channels;
  height: number;
  width: number;
}

export interface ReadImageOptions {
  /** 1 = grayscale, 3 = RGB; the file is converted when it differs. Alpha is always dropped. */
  channels: Channels;
  /** Resize to exactly this size (aspect ratio not kept, as torchvision's Resize((h, w))). */
  resize?: { height: number; width: number; kernel?: 'nearest' | 'linear' | 'cubic' | 'lanczos3' };
  /** Refuse images of more pixels (width × height) than this; default MAX_IMAGE_PIXELS. */
  maxPixels?: number;
}

/**
 * The most pixels an image may have (default of ReadImageOptions.maxPixels): 50 megapixels, more
 * than any camera photo most users have (24–45 MP), and a bound on memory per image: 150 MB of RGB
 * bytes, 600 MB as float32. A PNG or JPEG is compressed, so its file size says nothing about this
 * (a 186 KB all-black PNG can decode to gigabytes): the limit is checked on the header's width and
 * height before decoding, and sharp is told the same limit for the decode itself.
 */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Largest image file read at all (bytes); a compressed image of 50 MP is far smaller. */
const MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024;

export async function readImage(path: string, options: ReadImageOptions): Promise<Image> {
  const { channels } = options;
  if (channels !== 1 && channels !== 3) throw new RangeError(`readImage: channels must be 1 or 3, got ${channels}`);
  const maxPixels = options.maxPixels ?? MAX_IMAGE_PIXELS;
  const name = displayPath(path);
  try {
    // stat, not open: a FIFO must not block, a device must not be read.
    await assertRegularFile(path, { what: 'image', maxBytes: MAX_IMAGE_FILE_BYTES });
  } catch (e) {
    throw new Error(`readImage: ${(e as Error).message}`, { cause: e });
  }
  // The header's size, before any pixel is decoded.
  let meta: Metadata;
  try {
    meta = await sharp(path, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new Error(`readImage: ${name}: not a readable image (${(e as Error).message})`, { cause: e });
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (!(pixels > 0)) throw new Error(`readImage: ${name}: the image does not say its size`);
  if (pixels > maxPixels) {
    throw new Error(
      `readImage: ${name} is ${meta.width}×${meta.height} = ${(pixels / 1e6).toFixed(1)} megapixels, above the limit of ${(maxPixels / 1e6).toFixed(1)} (it would need ${((pixels * channels) / 2 ** 20).toFixed(0)} MiB decoded): refusing to decode it; shrink it first`,
    );
  }
  let pipeline = sharp(path, { limitInputPixels: maxPixels }).removeAlpha();
  if (options.resize) {
    const { height, width, kernel } = options.resize;
    pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: kernel ?? 'lanczos3' });
  }
  // sharp outputs sRGB unless told otherwise, even for grayscale files; 'b-w' gives one channel.
  pipeline = channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  let raw: Awaited<ReturnType<typeof toRaw>>;
  try {
    raw = await toRaw(pipeline);
  } catch (e) {
    throw new Error(`readImage: ${name}: not a readable image (${(e as Error).message})`, { cause: e });
  }
  const { width, height } = raw.info;
  if (raw.info.channels !== channels) {
    throw new Error(`readImage: ${name}: decoded to ${raw.info.channels} channels, expected ${channels}`);
  }
  return { data: hwcToChw(raw.data, channels, height, width), channels, height, width };
}

function toRaw(pipeline: ReturnType<typeof sharp>) {
  // 8 bits per sample even for 16-bit PNGs (sharp would otherwise hand back ushort samples).
  return pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
}

function hwcToChw(src: Uint8Array, channels: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (channels === 1) return Uint8Array.from(src.subarray(0, plane));
  const out = new Uint8Array(channels * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) out[c * plane + p] = src[p * channels + c];
  }
  return out;
}

/** CHW bytes, or CHW floats in [0, 1] (clamped and rounded), to HWC bytes. */
function chwToHwc(src: Uint8Array | Float32Array, channels: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (src.length !== channels * plane) {
    throw new RangeError(`image: ${src.length} values do not hold ${channels}×${height}×${width} (${channels * plane})`);
  }
  // A clamped array rounds and clamps on store (NaN → 0), so floats need only the scaling.
  const out = new Uint8ClampedArray(channels * plane);
  const scale = src instanceof Float32Array ? 255 : 1;
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < plane; p++) out[p * channels + c] = src[c * plane + p] * scale;
  }
  return new Uint8Array(out.buffer);
}

function checkChannels(channels: number, where: string): void {
  if (channels !== 1 && channels !== 3) throw new RangeError(`${where}: channels must be 1 or 3, got ${channels}`);
}

/** Writes a CHW image (bytes, or floats in [0, 1]) as a PNG, atomically. */
export async function writePng(path: string, data: Uint8Array | Float32Array, channels: Channels, height: number, width: number): Promise<void> {
  checkChannels(channels, 'writePng');
  const hwc = chwToHwc(data, channels, height, width);
  const png = await sharp(hwc, { raw: { width, height, channels } }).png().toBuffer();
  await writeFileAtomic(path, png);
}

export interface GridTile {
  data: Uint8Array | Float32Array;
  channels: Channels;
  height: number;
  width: number;
  label?: string;
}

export interface GridOptions {
  /** Tiles per row; default: all in one row. */
  columns?: number;
  /** Pixels between tiles and around the grid; default 4. */
  gap?: number;
  /** Every tile is scaled (nearest neighbour, so pixels stay crisp) to this size; default: the first tile's size. */
  tileHeight?: number;
  tileWidth?: number;
  /** Background and label-strip grey level, 0..255; default 255 (white). */
  background?: number;
}

const LABEL_HEIGHT = 16;

/**
 * Lays several images out in a grid, each with an optional label above it, and writes one PNG.
 * Grayscale tiles are shown as grey in an RGB grid when the tiles mix channel counts.
 */
export async function imageGridPng(path: string, tiles: GridTile[], options: GridOptions = {}): Promise<void> {
  if (tiles.length === 0) throw new RangeError('imageGridPng: no tiles');
  const gap = options.gap ?? 4;
  const columns = Math.min(options.columns ?? tiles.length, tiles.length);
  const rows = Math.ceil(tiles.length / columns);
  const th = options.tileHeight ?? tiles[0].height;
  const tw = options.tileWidth ?? tiles[0].width;
  const channels: Channels = tiles.some((t) => t.channels === 3) ? 3 : 1;
  const labelled = tiles.some((t) => t.label !== undefined && t.label !== '');
  const strip = labelled ? LABEL_HEIGHT : 0;
  const width = gap + columns * (tw + gap);
  const height = gap + rows * (strip + th + gap);
  const canvas = new Uint8Array(width * height * channels).fill(options.background ?? 255);

  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    checkChannels(t.channels, 'imageGridPng');
    let hwc = chwToHwc(t.data, t.channels, t.height, t.width);
    if (t.height !== th || t.width !== tw) {
      const resized = sharp(hwc, { raw: { width: t.width, height: t.height, channels: t.channels } }).resize(tw, th, { fit: 'fill', kernel: 'nearest' });
      // sharp makes a resized one-channel image sRGB (three bytes a pixel) unless kept grey.
      hwc = new Uint8Array(await (t.channels === 1 ? resized.toColourspace('b-w') : resized).raw().toBuffer());
    }
    const x0 = gap + (i % columns) * (tw + gap);
    const y0 = gap + Math.floor(i / columns) * (strip + th + gap) + strip;
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const src = (y * tw + x) * t.channels;
        const dst = ((y0 + y) * width + x0 + x) * channels;
        for (let c = 0; c < channels; c++) canvas[dst + c] = hwc[src + (t.channels === 1 ? 0 : c)];
      }
    }
  }

  let image = sharp(canvas, { raw: { width, height, channels } });
  if (labelled) {
    // Labels as SVG text, rendered by sharp's librsvg; clipped to the tile's width.
    const texts = tiles.map((t, i) => {
      if (!t.label) return '';
      const x = gap + (i % columns) * (tw + gap);
      const y = gap + Math.floor(i / columns) * (strip + th + gap) + strip - 4;
      return `<text x="${x}" y="${y}" clip-path="url(#c${i})">${escapeXml(t.label)}</text>` + `<clipPath id="c${i}"><rect x="${x}" y="${y - strip}" width="${tw}" height="${strip + 4}"/></clipPath>`;
    });
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` + `<g font-family="DejaVu Sans, sans-serif" font-size="11" fill="black">${texts.join('')}</g></svg>`;
    const drawn = await image
      .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
      .raw()
      .toBuffer({ resolveWithObject: true });
    image = sharp(drawn.data, { raw: { width, height, channels: drawn.info.channels } }).removeAlpha();
    image = image.toColourspace(channels === 1 ? 'b-w' : 'srgb');
  }
  await writeFileAtomic(path, await image.png().toBuffer());
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!);
}
