// Datasets held in memory as typed arrays. Everything here is pure JavaScript (no tensors), so the
// loader's worker threads can use it without loading the native addon.
//
// Images are CHW. Uint8Array pixels are bytes 0..255; Float32Array pixels are values in [0, 1].
// One contiguous array holds every image of a dataset, so a batch is gathered with plain subarray
// copies, and a SharedArrayBuffer-backed array reaches loader workers without a copy.

export type Pixels = Uint8Array | Float32Array;
export type Labels = Uint8Array | Uint16Array | Int32Array;

export interface Item {
  /** One image, CHW (a view into the dataset's storage: copy it before writing to it). */
  image: Pixels;
  label: number;
}

export interface Dataset {
  readonly length: number;
  /** Shape of one item, CHW. */
  readonly shape: readonly number[];
  /** Class names, when the dataset has them (label i names classes[i]). */
  readonly classes?: readonly string[];
  get(i: number): Item;
}

function itemSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A dataset over one contiguous N×C×H×W pixel array and N labels. */
export class InMemoryDataset implements Dataset {
  readonly length: number;
  readonly shape: readonly number[];
  readonly itemSize: number;

  constructor(
    readonly images: Pixels,
    readonly labels: Labels,
    shape: readonly number[],
    readonly classes?: readonly string[],
  ) {
    if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new RangeError(`InMemoryDataset: item shape must be [C, H, W] with positive integers, got [${shape.join(', ')}]`);
    }
    this.shape = Object.freeze([...shape]);
    this.itemSize = itemSize(shape);
    this.length = labels.length;
    if (images.length !== this.length * this.itemSize) {
      throw new RangeError(`InMemoryDataset: ${images.length} pixels do not hold ${this.length} images of [${shape.join(', ')}] (${this.length * this.itemSize} expected)`);
    }
  }

  get(i: number): Item {
    checkIndex(i, this.length);
    const n = this.itemSize;
    return { image: this.images.subarray(i * n, (i + 1) * n), label: this.labels[i] };
  }
}

/** A view of some items of another dataset, in the given order (repeats allowed). */
export class Subset implements Dataset {
  readonly indices: Int32Array;

  constructor(
    readonly base: Dataset,
    indices: ArrayLike<number>,
  ) {
    this.indices = Int32Array.from(indices);
    for (const i of this.indices) checkIndex(i, base.length);
  }

  get length(): number {
    return this.indices.length;
  }

  get shape(): readonly number[] {
    return this.base.shape;
  }

  get classes(): readonly string[] | undefined {
    return this.base.classes;
  }

  get(i: number): Item {
    checkIndex(i, this.indices.length);
    return this.base.get(this.indices[i]);
  }
}

export function subset(ds: Dataset, indices: ArrayLike<number>): Subset {
  return new Subset(ds, indices);
}

/**
 * The storage behind a dataset plus the index map into it: what the loader gathers batches from.
 * Subsets of in-memory datasets resolve to their base storage (no copy); any other dataset is
 * materialised once through get().
 */
export function storageOf(ds: Dataset): { data: InMemoryDataset; index: Int32Array | null } {
  if (ds instanceof InMemoryDataset) return { data: ds, index: null };
  if (ds instanceof Subset) {
    const inner = storageOf(ds.base);
    const index = inner.index === null ? ds.indices : ds.indices.map((i) => inner.index![i]);
    return { data: inner.data, index };
  }
  return { data: materialise(ds), index: null };
}

/** Copies any dataset into one InMemoryDataset. */
export function materialise(ds: Dataset): InMemoryDataset {
  const n = itemSize(ds.shape);
  const first = ds.length > 0 ? ds.get(0).image : new Uint8Array(0);
  const images = first instanceof Float32Array ? new Float32Array(ds.length * n) : new Uint8Array(ds.length * n);
  const labels = new Int32Array(ds.length);
  for (let i = 0; i < ds.length; i++) {
    const { image, label } = ds.get(i);
    if (image.length !== n) throw new RangeError(`materialise: item ${i} has ${image.length} values, shape [${ds.shape.join(', ')}] needs ${n}`);
    images.set(image, i * n);
    labels[i] = label;
  }
  return new InMemoryDataset(images, labels, ds.shape, ds.classes);
}

/** How many items carry each label (index = label). */
export function labelCounts(ds: Dataset): number[] {
  const counts: number[] = [];
  const { data, index } = storageOf(ds);
  const n = index === null ? data.length : index.length;
  for (let i = 0; i < n; i++) {
    const label = data.labels[index === null ? i : index[i]];
    while (counts.length <= label) counts.push(0);
    counts[label]++;
  }
  return counts;
}

/** A zeroed Uint8Array on shared memory: loader workers read it without a copy. */
export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

function checkIndex(i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new RangeError(`dataset index ${i} out of range 0..${length - 1}`);
}
