// Images for the attacks, in as many channels as the key (or, without a key, the file) has. Image
// files are read through src/cipher's readImagesTensor, which makes every PNG/JPEG RGB unless told
// otherwise; a grayscale file read so has three equal planes, which a one-channel key cannot be
// compared with ("Cannot read properties of undefined" once). So: with a key, read its channel
// count; without one, a file whose three planes are equal is the grayscale image it is.
import { type Tensor, noGrad, scope, tensor } from '../tensor/index.ts';
import type { Dataset } from '../data/dataset.ts';
import { equal } from '../ops/compare.ts';
import { contiguous, narrow } from '../ops/shape.ts';
import { readImagesTensor, readPixels } from '../cipher/data.ts';
import type { Channels } from '../io/image.ts';

const IMAGE_FILE = /\.(png|jpe?g|webp|tiff?|gif|avif)$/i;

/** readImagesTensor in `channels` (1 or 3) or, without, the file's own: [N, C, H, W]. */
export async function readAttackImages(path: string, o: { limit?: number; channels?: number } = {}): Promise<{ x: Tensor; labels: Int32Array | null }> {
  const channels = imageChannels(o.channels);
  const r = await readImagesTensor(path, { limit: o.limit, channels });
  if (channels === undefined && IMAGE_FILE.test(path)) return { ...r, x: grayWhenEqualPlanes(r.x) };
  return r;
}

/** readPixels (bytes made [0, 1] floats) in `channels` or the file's own. */
export async function readAttackPixels(path: string, o: { limit?: number; channels?: number } = {}): Promise<Tensor> {
  const channels = imageChannels(o.channels);
  const x = await readPixels(path, { limit: o.limit, channels });
  return channels === undefined && IMAGE_FILE.test(path) ? grayWhenEqualPlanes(x) : x;
}

/** That images of `what` have the channel count a key of `keyChannels` encrypts, or a clear error. */
export function assertKeyChannels(x: Tensor, keyChannels: number, what: string): void {
  const c = x.shape[1];
  if (c !== keyChannels) {
    throw new Error(
      `${what} has ${c} channel${c === 1 ? '' : 's'} but the key has ${keyChannels}: use a ${keyChannels === 1 ? 'grayscale' : `${keyChannels}-channel`} image or a key made with --channels ${c}`,
    );
  }
}

function imageChannels(channels: number | undefined): Channels | undefined {
  if (channels === undefined) return undefined;
  // Keys of other channel counts cannot encrypt image files; say so where the counts are compared.
  return channels === 1 ? 1 : 3;
}

/** x [N, 3, H, W] with three equal planes as [N, 1, H, W] (x is disposed); anything else unchanged. */
function grayWhenEqualPlanes(x: Tensor): Tensor {
  if (x.ndim !== 4 || x.shape[1] !== 3) return x;
  const gray = noGrad(() =>
    scope(() => {
      const [r, g, b] = [0, 1, 2].map((c) => narrow(x, 1, c, 1));
      return equal(r, g) && equal(r, b) ? contiguous(r) : null;
    }),
  );
  if (gray === null) return x;
  x.dispose();
  return gray;
}

/**
 * The first `limit` images of a dataset (all without a limit) as pixels in [0, 1], [N, C, H, W]
 * float32 (bytes divided by 255; float datasets as they are). The caller disposes it.
 */
export function datasetPixels(ds: Dataset, limit = ds.length): Tensor {
  const n = Math.min(limit, ds.length);
  const size = ds.shape.reduce((a, b) => a * b, 1);
  const pixels = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const { image } = ds.get(i);
    if (image instanceof Uint8Array) for (let j = 0; j < size; j++) pixels[i * size + j] = image[j] / 255;
    else pixels.set(image, i * size);
  }
  return tensor(pixels, [n, ...ds.shape]);
}
