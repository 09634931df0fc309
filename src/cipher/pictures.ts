// Pictures of the cipher at work: a PNG grid with one row per image and one column per view
// (ciphertext, a decryption or reconstruction, the plaintext). Real-valued ciphertexts are not
// images: they are shown min–max scaled per image and channel; hill256 ones as the bytes they are.
// Here, below src/attacks and src/er, so that both draw their pictures the same way.
import { type Tensor, noGrad, scope } from '../tensor/index.ts';
import { amin, amax } from '../ops/reduction.ts';
import { imageGridPng, type GridTile, type Channels } from '../io/image.ts';
import { narrow } from '../ops/shape.ts';
import { clamp, div, sub, add } from '../ops/arithmetic.ts';

/** Scales each image and channel of [N, C, H, W] to [0, 1] by its own min and max. */
export function minMaxScale(x: Tensor): Tensor {
  return noGrad(() =>
    scope(() => {
      const lo = amin(x, [2, 3], true);
      const hi = amax(x, [2, 3], true);
      return clamp(div(sub(x, lo), add(sub(hi, lo), 1e-12)), 0, 1);
    }),
  );
}

export interface GridColumn {
  title: string;
  /** [N, C, H, W] float pixels in [0, 1]. */
  images: Tensor;
}

/** Writes a grid: one row per image (the first `count`), one column per entry of `columns`. */
export async function writeImageGrid(path: string, columns: GridColumn[], o: { count?: number; tileSize?: number } = {}): Promise<void> {
  if (columns.length === 0) throw new RangeError('writeImageGrid: no columns');
  const [n, c, h, w] = columns[0].images.shape;
  if (c !== 1 && c !== 3) throw new RangeError(`writeImageGrid: images need 1 or 3 channels, got ${c}`);
  const count = Math.min(o.count ?? 8, n);
  const tiles: GridTile[] = [];
  for (let i = 0; i < count; i++) {
    for (const col of columns) {
      const data = scope(() => narrow(col.images, 0, i, 1).toTypedArray() as Float32Array);
      tiles.push({ data, channels: c as Channels, height: h, width: w, label: i === 0 ? col.title : undefined });
    }
  }
  const scale = o.tileSize ?? Math.max(h, Math.min(128, 4 * h));
  await imageGridPng(path, tiles, { columns: columns.length, tileHeight: Math.round((scale * h) / Math.max(h, w)), tileWidth: Math.round((scale * w) / Math.max(h, w)) });
}

/**
 * Builds the grid's columns inside a scope, writes the grid and frees the columns: the usual way to
 * draw one (`columns` makes [N, C, H, W] tensors; only the first `count` rows are drawn).
 */
export async function drawImageGrid(path: string, columns: () => GridColumn[], o: { count?: number; tileSize?: number } = {}): Promise<void> {
  const cols = noGrad(() => scope(columns));
  try {
    await writeImageGrid(path, cols, o);
  } finally {
    for (const c of cols) c.images.dispose();
  }
}
