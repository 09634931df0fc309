// Encrypting and decrypting sets of files: what `nnlock cipher encrypt|decrypt` do with their
// inputs. CIFAR-10 .bin files (or an encrypted dataset) are treated together as one dataset and
// written to one file; images are encrypted one by one, into a folder when there are several.
// Nothing is overwritten unless `force`; every file is written atomically (src/io/atomic.ts).
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import type { CipherKey } from './key.ts';
import { ENCRYPTED_DATASET_FORMAT, decryptDatasetFiles, decryptImageFile, encryptCifarFiles, encryptImageFile, safetensorsFormat } from './data.ts';

export interface FileSetOptions {
  /** Overwrite outputs that exist (default: refuse, before anything is written). */
  force?: boolean;
  /** Called after each image file is written (not for datasets: they are one file). */
  onFile?: (file: TransformedFile) => void;
}

export interface TransformedFile {
  input: string;
  output: string;
  height: number;
  width: number;
}

export interface FileSetResult {
  /** 'dataset': the inputs became one dataset file (`out`); 'images': one output per input. */
  mode: 'dataset' | 'images';
  /** Images encrypted or decrypted. */
  count: number;
  /** The image files, in input order (empty for a dataset). */
  files: TransformedFile[];
  /** The one output of a dataset (`out`); null for images. */
  output: string | null;
  seconds: number;
  /** Decrypting a real-valued dataset: the largest distance of 255·x to its rounded byte (null otherwise). */
  maxPixelError: number | null;
}

/** Refuses (throws) when one of `paths` exists and `force` is not set. */
export function assertWritable(paths: readonly string[], force = false): void {
  if (force) return;
  for (const p of paths) if (existsSync(p)) throw new Error(`${p} exists; pass --force to overwrite it`);
}

/** A path as the file system sees it (symbolic links and `..` resolved), for comparing paths. */
function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * Refuses outputs that would silently destroy something: an output that is one of the inputs
 * (without `force`), and two inputs that would be written to the same output (always).
 */
function assertDistinctOutputs(inputs: readonly string[], outputs: readonly string[], force = false): void {
  const seen = new Map<string, string>();
  outputs.forEach((out, i) => {
    const key = canonical(out);
    const other = seen.get(key);
    if (other !== undefined) throw new Error(`${inputs[i]} and ${other} would both be written to ${out}: rename one of them`);
    seen.set(key, inputs[i]);
  });
  if (force) return;
  const ins = new Set(inputs.map(canonical));
  for (const out of outputs) if (ins.has(canonical(out))) throw new Error(`${out} is also an input: writing it would replace it; pass --force to overwrite it`);
}

/**
 * Claims new output files before any work: each is created empty with O_EXCL, so another process
 * racing for the same name fails instead of both writing it. The atomic write of the real content
 * replaces the claim. Returns a function that removes the claims not yet filled (on failure).
 */
function claimOutputs(paths: readonly string[], force = false): (keep: ReadonlySet<string>) => void {
  const claimed: string[] = [];
  const release = (keep: ReadonlySet<string>) => {
    for (const p of claimed) {
      if (keep.has(p)) continue;
      try {
        if (statSync(p).size === 0) unlinkSync(p);
      } catch {
        /* already gone */
      }
    }
  };
  if (force) return () => {};
  try {
    for (const p of paths) {
      try {
        closeSync(openSync(p, 'wx', 0o666)); // the mode a new file gets; the real write keeps it
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${p} exists; pass --force to overwrite it`);
        throw e;
      }
      claimed.push(p);
    }
  } catch (e) {
    release(new Set());
    throw e;
  }
  return release;
}

const isBin = (p: string) => extname(p).toLowerCase() === '.bin';
const isSafetensors = (p: string) => extname(p).toLowerCase() === '.safetensors';

function checkInputs(inputs: readonly string[]): void {
  if (inputs.length === 0) throw new Error('no input files given');
  for (const p of inputs) if (!existsSync(p)) throw new Error(`${p}: no such file`);
}

async function isDatasetFile(path: string): Promise<boolean> {
  if (isBin(path)) return true;
  return isSafetensors(path) && (await safetensorsFormat(path)) === ENCRYPTED_DATASET_FORMAT;
}

/** Output paths for image inputs: `out` itself for one input, else `out`/<name><ext> (a folder, made). */
function imageOutputs(inputs: readonly string[], out: string, ext: string): string[] {
  if (inputs.length === 1) return [out];
  if (existsSync(out) && !statSync(out).isDirectory()) throw new Error(`with several inputs, the output must be a folder; ${out} is a file`);
  mkdirSync(out, { recursive: true });
  return inputs.map((input) => join(out, basename(input, extname(input)) + ext));
}

async function eachImage(
  inputs: readonly string[],
  outputs: readonly string[],
  o: FileSetOptions,
  transform: (input: string, output: string) => Promise<{ height: number; width: number }>,
): Promise<TransformedFile[]> {
  assertDistinctOutputs(inputs, outputs, o.force);
  assertWritable(outputs, o.force);
  const release = claimOutputs(outputs, o.force);
  const files: TransformedFile[] = [];
  try {
    for (let i = 0; i < inputs.length; i++) {
      const file = { input: inputs[i], output: outputs[i], ...(await transform(inputs[i], outputs[i])) };
      files.push(file);
      o.onFile?.(file);
    }
  } catch (e) {
    release(new Set(files.map((f) => f.output))); // no empty claims left behind
    throw e;
  }
  return files;
}

/**
 * Encrypts files with a key. CIFAR-10 .bin inputs become one encrypted dataset `out` (hill256: a
 * CIFAR-10 .bin file; real kinds: .safetensors). Image inputs (PNG, JPEG, ...) become one file each
 * (hill256: .png; real kinds: .safetensors): `out` for one input, files in the folder `out` for several.
 */
export async function encryptFiles(inputs: readonly string[], out: string, key: CipherKey, o: FileSetOptions = {}): Promise<FileSetResult> {
  checkInputs(inputs);
  const t0 = performance.now();
  if (inputs.every(isBin)) {
    assertDistinctOutputs(inputs, [out], o.force);
    assertWritable([out], o.force);
    const { count } = await encryptCifarFiles([...inputs], out, key);
    return { mode: 'dataset', count, files: [], output: out, seconds: (performance.now() - t0) / 1000, maxPixelError: null };
  }
  if (inputs.some(isBin)) throw new Error('mix of CIFAR-10 .bin files and images: encrypt them separately');
  const outputs = imageOutputs(inputs, out, key.kind === 'hill256' ? '.png' : '.safetensors');
  const files = await eachImage(inputs, outputs, o, (input, output) => encryptImageFile(input, output, key));
  return { mode: 'images', count: files.length, files, output: null, seconds: (performance.now() - t0) / 1000, maxPixelError: null };
}

/**
 * Decrypts what encryptFiles wrote: an encrypted dataset (.bin or .safetensors) to a CIFAR-10 .bin
 * file `out`; encrypted images to .png (or .safetensors for the exact floats of real kinds), `out`
 * for one input, files in the folder `out` for several.
 */
export async function decryptFiles(inputs: readonly string[], out: string, key: CipherKey, o: FileSetOptions = {}): Promise<FileSetResult> {
  checkInputs(inputs);
  const t0 = performance.now();
  const datasets = await Promise.all(inputs.map(isDatasetFile));
  if (datasets.every(Boolean)) {
    assertDistinctOutputs(inputs, [out], o.force);
    assertWritable([out], o.force);
    const { count, maxPixelError } = await decryptDatasetFiles([...inputs], out, key);
    return { mode: 'dataset', count, files: [], output: out, seconds: (performance.now() - t0) / 1000, maxPixelError: key.kind === 'hill256' ? null : maxPixelError };
  }
  if (datasets.some(Boolean)) throw new Error('mix of datasets and images: decrypt them separately');
  const files = await eachImage(inputs, imageOutputs(inputs, out, '.png'), o, (input, output) => decryptImageFile(input, output, key));
  return { mode: 'images', count: files.length, files, output: null, seconds: (performance.now() - t0) / 1000, maxPixelError: null };
}
