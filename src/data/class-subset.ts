// Keeping only some classes of a dataset, relabelled 0..n-1: the disjoint-class experiments
// pretrain a backbone on some classes (e.g. CIFAR-10's 0–4) and train on the others (5–9), each a
// classifier of its own n classes, so the labels must be dense. Label classes[i] becomes i, in the
// order given; the class names follow.
import { type Dataset, InMemoryDataset, storageOf } from './dataset.ts';

/**
 * The items of `ds` whose label is one of `classes`, in the dataset's order, relabelled: label
 * classes[i] becomes i. A copy (one contiguous array, as the loader gathers from). Refuses a
 * repeated class, a label the dataset does not have, or a selection with no items.
 */
export function selectClasses(ds: Dataset, classes: readonly number[]): InMemoryDataset {
  checkClassList(classes, ds.classes?.length);
  const newLabel = new Map(classes.map((c, i) => [c, i]));
  const { data, index } = storageOf(ds);
  const n = index === null ? data.length : index.length;
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (newLabel.has(data.labels[index === null ? i : index[i]])) kept.push(index === null ? i : index[i]);
  if (kept.length === 0) throw new RangeError(`selectClasses: no item has one of the labels ${classes.join(', ')}`);
  const size = data.itemSize;
  const images = new (data.images.constructor as new (b: SharedArrayBuffer) => typeof data.images)(new SharedArrayBuffer(kept.length * size * data.images.BYTES_PER_ELEMENT));
  const labels = new Int32Array(kept.length);
  kept.forEach((j, i) => {
    images.set(data.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = newLabel.get(data.labels[j])!;
  });
  const names = ds.classes ? classes.map((c) => ds.classes![c]) : undefined;
  return new InMemoryDataset(images, labels, ds.shape, names);
}

/**
 * A class list as users write it: comma-separated labels and ranges, "0-4", "5,7,9", "0-2,8".
 * Returns the labels in the order written (that order is the new labelling).
 */
export function parseClassList(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`class list '${spec}': '${part}' is not a label (n) or a range (a-b)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new RangeError(`class list '${spec}': the range '${part}' runs backwards`);
    for (let c = a; c <= b; c++) out.push(c);
  }
  checkClassList(out);
  return out;
}

function checkClassList(classes: readonly number[], count?: number): void {
  if (classes.length === 0) throw new RangeError('a class list needs at least one class');
  const seen = new Set<number>();
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0) throw new RangeError(`class labels are integers ≥ 0, got ${c}`);
    if (count !== undefined && c >= count) throw new RangeError(`class ${c}: the dataset has classes 0..${count - 1}`);
    if (seen.has(c)) throw new RangeError(`class ${c} is listed twice`);
    seen.add(c);
  }
}
