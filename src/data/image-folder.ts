// Folders of images with one subfolder per class (torchvision's ImageFolder layout):
// root/<class>/<image>.png|jpg|jpeg. Class index = position of the subfolder name in sorted order,
// or in the class list the caller gives (a model's classes: labels then mean the model's labels).
// A folder may instead hold splits, root/train/<class>/..., root/val/<class>/... (or test/): see
// imageFolderSplits; such a parent folder is never read as classes named train, test, ...
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { type Channels, type Image, type ReadImageOptions, readImage } from '../io/image.ts';
import { InMemoryDataset, sharedBytes } from './dataset.ts';

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

export interface ImageFolderOptions {
  channels: Channels;
  /** Resize every image to this size (a number = square); without it all images must share one size. */
  size?: number | { height: number; width: number };
  /**
   * The class names, label i = classes[i] (default: the subfolders, sorted). A subfolder that is
   * not among them is refused; a class without a subfolder simply has no images.
   */
  classes?: readonly string[];
}

/** Subfolder names that mark a split rather than a class, by split. */
export const SPLIT_FOLDER_NAMES = {
  train: ['train', 'training'],
  val: ['val', 'valid', 'validation'],
  test: ['test', 'testing'],
} as const;

export type FolderSplit = keyof typeof SPLIT_FOLDER_NAMES;

/**
 * The split subfolders of `root` (train/, val/, test/ and their usual spellings), or null when it
 * has none: then its subfolders are classes. Other subfolders beside the splits are ignored.
 */
export function imageFolderSplits(root: string): Partial<Record<FolderSplit, string>> | null {
  if (!existsSync(root) || !statSync(root).isDirectory()) return null;
  const dirs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  const found: Partial<Record<FolderSplit, string>> = {};
  for (const split of Object.keys(SPLIT_FOLDER_NAMES) as FolderSplit[]) {
    const name = dirs.find((d) => (SPLIT_FOLDER_NAMES[split] as readonly string[]).includes(d.toLowerCase()));
    if (name) found[split] = join(root, name);
  }
  return Object.keys(found).length > 0 ? found : null;
}

export class ImageFolderDataset extends InMemoryDataset {
  constructor(
    images: Uint8Array,
    labels: Int32Array,
    shape: number[],
    classes: string[],
    readonly files: readonly string[],
  ) {
    super(images, labels, shape, classes);
  }
}

/** Image files directly in `dir`, sorted by name (byte order, so the result is locale-independent). */
export async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(byteOrder)
    .map((name) => join(dir, name));
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reads files a few at a time, in order, handing each to `use` (sharp decodes on libuv's pool;
 * reading all at once would hold every decoded file in memory).
 */
export async function forEachImage(files: string[], options: ReadImageOptions, use: (image: Image, index: number) => void, concurrency = 8): Promise<void> {
  for (let i = 0; i < files.length; i += concurrency) {
    const chunk = files.slice(i, i + concurrency);
    const images = await Promise.all(chunk.map((f) => readImage(f, options)));
    images.forEach((img, j) => use(img, i + j));
  }
}

export async function loadImageFolder(root: string, options: ImageFolderOptions): Promise<ImageFolderDataset> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    throw new Error(`loadImageFolder: ${root}: no such folder`);
  }
  const folders = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(byteOrder);
  if (folders.length === 0) throw new Error(`loadImageFolder: ${root}: no class subfolders`);
  const classes = options.classes ? [...options.classes] : folders;
  const stray = folders.filter((f) => !classes.includes(f));
  if (stray.length > 0) {
    throw new Error(
      `${root}: its class folders (${folders.join(', ')}) do not match the model's classes (${classes.join(', ')}): ${stray.map((f) => `'${f}'`).join(', ')} ${stray.length === 1 ? 'is' : 'are'} not among them`,
    );
  }
  const files: string[] = [];
  const labels: number[] = [];
  for (const folder of folders) {
    for (const f of await listImages(join(root, folder))) {
      files.push(f);
      labels.push(classes.indexOf(folder));
    }
  }
  if (files.length === 0) throw new Error(`loadImageFolder: ${root}: no images (${IMAGE_EXTENSIONS.join(', ')}) in its class subfolders`);

  const size = typeof options.size === 'number' ? { height: options.size, width: options.size } : options.size;
  let pixels: Uint8Array | null = null;
  let first: Image | null = null;
  await forEachImage(files, { channels: options.channels, resize: size }, (img, i) => {
    first ??= img;
    if (img.height !== first.height || img.width !== first.width) {
      throw new Error(`loadImageFolder: ${files[i]} is ${img.height}×${img.width} but ${files[0]} is ${first.height}×${first.width}; pass size to resize them all`);
    }
    pixels ??= sharedBytes(files.length * img.data.length);
    pixels.set(img.data, i * img.data.length);
  });
  const { height, width } = first!;
  return new ImageFolderDataset(pixels!, Int32Array.from(labels), [options.channels, height, width], classes, files);
}
