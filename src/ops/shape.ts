// Shape and layout ops: views, joins, splits, padding, pixel (un)shuffle. Views share storage
// with their input, as in PyTorch; each still returns a new Tensor the caller owns.
import type { Tensor } from '../tensor/index.ts';
import { callTensor, callTensors, op } from './dispatch.ts';

const reshapeOp = op('aten::reshape');
const viewOp = op('aten::view');
const permuteOp = op('aten::permute');
const transposeOp = op('aten::transpose', 'int');
const flattenOp = op('aten::flatten', 'using_ints');
const unsqueezeOp = op('aten::unsqueeze');
const squeezeOp = op('aten::squeeze');
const squeezeDimOp = op('aten::squeeze', 'dim');
const catOp = op('aten::cat');
const stackOp = op('aten::stack');
const narrowOp = op('aten::narrow');
const sliceOp = op('aten::slice', 'Tensor');
const selectOp = op('aten::select', 'int');
const indexSelectOp = op('aten::index_select');
const chunkOp = op('aten::chunk');
const splitOp = op('aten::split', 'Tensor');
const splitWithSizesOp = op('aten::split_with_sizes');
const expandOp = op('aten::expand');
const repeatOp = op('aten::repeat');
const contiguousOp = op('aten::contiguous');
const padOp = op('aten::pad');
const pixelShuffleOp = op('aten::pixel_shuffle');
const pixelUnshuffleOp = op('aten::pixel_unshuffle');
const flipOp = op('aten::flip');

/** A view when the layout allows, else a copy; one entry may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return callTensor(reshapeOp, [x, shape]);
}

/** Always a view: fails on layouts that need a copy (use reshape or contiguous first). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  return callTensor(viewOp, [x, shape]);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  return callTensor(permuteOp, [x, dims]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  return callTensor(transposeOp, [x, dim0, dim1]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  return callTensor(flattenOp, [x, startDim, endDim]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  return callTensor(unsqueezeOp, [x, dim]);
}

/** Drops size-1 dims: all of them, one, or several (libtorch 1.13 squeezes one dim per call). */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  if (dim === undefined) return callTensor(squeezeOp, [x]);
  if (typeof dim === 'number') return callTensor(squeezeDimOp, [x, dim]);
  const n = x.ndim;
  // Highest dim first so the remaining indices stay valid; intermediates are freed at once.
  const dims = [...new Set(dim.map((d) => (d < 0 ? d + n : d)))].sort((a, b) => b - a);
  let out: Tensor | null = null;
  for (const d of dims) {
    const next: Tensor = callTensor(squeezeDimOp, [out ?? x, d]);
    out?.dispose();
    out = next;
  }
  return out ?? callTensor(viewOp, [x, x.shape]);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return callTensor(catOp, [tensors, dim]);
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return callTensor(stackOp, [tensors, dim]);
}

/** `length` entries of dim from `start` (a view). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  return callTensor(narrowOp, [x, dim, start, length]);
}

/** x[start:end:step] along dim (a view); omitted bounds mean the whole dim, as in Python. */
export function slice(x: Tensor, dim = 0, start?: number, end?: number, step = 1): Tensor {
  return callTensor(sliceOp, [x, dim, start ?? null, end ?? null, step]);
}

/** Entry `index` of dim, which is removed (a view). */
export function select(x: Tensor, dim: number, index: number): Tensor {
  return callTensor(selectOp, [x, dim, index]);
}

/** Entries of dim at the positions in a 1-D int64 tensor (a copy). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  return callTensor(indexSelectOp, [x, dim, index]);
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  return callTensors(chunkOp, [x, chunks, dim]);
}

/** Pieces of `splitSize` along dim (the last may be smaller), or pieces of the given sizes. */
export function split(x: Tensor, splitSize: number | readonly number[], dim = 0): Tensor[] {
  if (typeof splitSize === 'number') return callTensors(splitOp, [x, splitSize, dim]);
  return callTensors(splitWithSizesOp, [x, splitSize, dim]);
}

/** Broadcasts size-1 dims to `shape` without copying; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  return callTensor(expandOp, [x, shape]);
}

/** Tiles x (a copy), as torch.Tensor.repeat. */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  return callTensor(repeatOp, [x, repeats]);
}

export function contiguous(x: Tensor): Tensor {
  return callTensor(contiguousOp, [x, 'contiguous']);
}

export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

export interface PadOptions {
  mode?: PadMode;
  /** Fill value for constant mode (default 0). */
  value?: number;
}

/**
 * F.pad: `pad` lists (before, after) pairs starting from the LAST dim, e.g. [left, right, top,
 * bottom] for an image. Non-constant modes pad the trailing 1–3 dims of a batched input.
 */
export function pad(x: Tensor, padding: readonly number[], o: PadOptions = {}): Tensor {
  const mode = o.mode ?? 'constant';
  if (padding.length % 2 !== 0) throw new RangeError(`pad: the pad list needs (before, after) pairs, got ${padding.length} entries`);
  if (mode !== 'constant' && o.value !== undefined && o.value !== 0) throw new RangeError(`pad: mode '${mode}' takes no fill value`);
  return callTensor(padOp, [x, padding, mode, mode === 'constant' ? (o.value ?? 0) : null]);
}

/** [N, C·r², H, W] → [N, C, H·r, W·r]. */
export function pixelShuffle(x: Tensor, upscaleFactor: number): Tensor {
  return callTensor(pixelShuffleOp, [x, upscaleFactor]);
}

/** [N, C, H·r, W·r] → [N, C·r², H, W]. */
export function pixelUnshuffle(x: Tensor, downscaleFactor: number): Tensor {
  return callTensor(pixelUnshuffleOp, [x, downscaleFactor]);
}

export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  return callTensor(flipOp, [x, typeof dims === 'number' ? [dims] : dims]);
}
