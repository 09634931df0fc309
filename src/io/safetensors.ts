// Pure-TypeScript reader and writer for the safetensors format
// (https://github.com/huggingface/safetensors).
//
// Layout of a file:
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   header: UTF-8 JSON object, possibly padded with trailing spaces
//             { "__metadata__"?: {string: string},
//               "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ... }
//   rest      data section: raw little-endian, C-order tensor bytes; offsets are
//             relative to the start of this section.
//
// Files come from untrusted sources (downloaded weights), so the reader checks
// everything the reference implementation checks before handing out views, and
// never allocates based on a size it read from the file.

import { removeStaleTemporaries, writeFileAtomic } from './atomic.ts';
import { displayPath, FileInputError, openRegularFile } from './regular-file.ts';
import type { DType } from '../tensor/dtype.ts';

/**
 * The dtype codes of the safetensors format, as they appear in a file's header. Not a second
 * element-type vocabulary: nnlock's one dtype is DType (src/tensor/dtype.ts); toDType and
 * fromDType convert, and U16/U32/U64 have no DType (they are read but not turned into tensors).
 */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export interface TensorEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Little-endian raw bytes. After parsing: a view into the file buffer (no
   *  copy), so its byteOffset is not necessarily aligned for a typed array
   *  of the dtype; copy (`data.slice()`, which copies: entries are plain Uint8Array views, never Buffers) before viewing as Float32Array etc. */
  data: Uint8Array;
}

/** A safetensors file in memory: raw tensor entries by name, and string metadata. The one file type. */
export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

export type TensorInput = Map<string, TensorEntry> | Record<string, TensorEntry>;

export class SafetensorsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`safetensors: ${message}`, options);
    this.name = 'SafetensorsError';
  }
}

/** Bytes per element. */
const DTYPE_SIZE: ReadonlyMap<SafetensorsDtype, number> = new Map<SafetensorsDtype, number>([
  ['F64', 8],
  ['F32', 4],
  ['F16', 2],
  ['BF16', 2],
  ['I64', 8],
  ['I32', 4],
  ['I16', 2],
  ['I8', 1],
  ['U64', 8],
  ['U32', 4],
  ['U16', 2],
  ['U8', 1],
  ['BOOL', 1],
]);

/** The reference writer orders tensors by this rank descending, then by name
 *  (it is the declaration order of its Dtype enum, "increasing alignment").
 *  Using the same order makes our files byte-identical to the reference's. */
const DTYPE_RANK: ReadonlyMap<SafetensorsDtype, number> = new Map<SafetensorsDtype, number>([
  ['BOOL', 0],
  ['U8', 1],
  ['I8', 2],
  ['I16', 3],
  ['U16', 4],
  ['F16', 5],
  ['BF16', 6],
  ['I32', 7],
  ['U32', 8],
  ['F32', 9],
  ['F64', 10],
  ['I64', 11],
  ['U64', 12],
]);

const TO_NNLOCK: ReadonlyMap<SafetensorsDtype, DType> = new Map<SafetensorsDtype, DType>([
  ['F64', 'float64'],
  ['F32', 'float32'],
  ['F16', 'float16'],
  ['BF16', 'bfloat16'],
  ['I64', 'int64'],
  ['I32', 'int32'],
  ['I16', 'int16'],
  ['I8', 'int8'],
  ['U8', 'uint8'],
  ['BOOL', 'bool'],
]);

const FROM_NNLOCK: ReadonlyMap<DType, SafetensorsDtype> = new Map([...TO_NNLOCK].map(([st, nn]) => [nn, st] as [DType, SafetensorsDtype]));

/** The reference rejects headers above 100 MB; so do we, before allocating. */
export const MAX_HEADER_SIZE = 100_000_000;

const METADATA_KEY = '__metadata__';

/**
 * Tensor names nnlock reserves for its own data in a file, never a model's tensors: a protected
 * model (format version 3, src/protect/format.ts) keeps its sealed sections as `__nnlock__/tier-<m>`
 * U8 tensors. Loading tensors into a model skips them (tensorsFromEntries).
 */
export const RESERVED_TENSOR_PREFIX = '__nnlock__/';

export function isReservedTensorName(name: string): boolean {
  return name.startsWith(RESERVED_TENSOR_PREFIX);
}

export function isSafetensorsDtype(x: unknown): x is SafetensorsDtype {
  return typeof x === 'string' && DTYPE_SIZE.has(x as SafetensorsDtype);
}

export function dtypeSize(dtype: SafetensorsDtype): number {
  const size = DTYPE_SIZE.get(dtype);
  if (size === undefined) throw new SafetensorsError(`unknown dtype ${JSON.stringify(dtype)}`);
  return size;
}

export function toDType(dtype: SafetensorsDtype): DType {
  const nn = TO_NNLOCK.get(dtype);
  if (nn === undefined) {
    throw new SafetensorsError(isSafetensorsDtype(dtype) ? `dtype ${dtype} has no nnlock equivalent (unsigned 16/32/64-bit integers are not supported)` : `unknown dtype ${JSON.stringify(dtype)}`);
  }
  return nn;
}

export function fromDType(dtype: DType): SafetensorsDtype {
  const st = FROM_NNLOCK.get(dtype);
  if (st === undefined) throw new SafetensorsError(`nnlock dtype ${JSON.stringify(dtype)} has no safetensors equivalent`);
  return st;
}

// ---------------------------------------------------------------------------
// Shared validation

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function checkShape(shape: unknown, name: string): number[] {
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new SafetensorsError(`tensor ${JSON.stringify(name)}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape;
}

/** product(shape) * element size, in BigInt so a hostile shape cannot
 *  overflow into a plausible-looking number. */
function byteLengthOf(dtype: SafetensorsDtype, shape: number[]): bigint {
  let n = BigInt(dtypeSize(dtype));
  for (const d of shape) n *= BigInt(d);
  return n;
}

/** Compare names as the reference does (Rust String order = UTF-8 bytes),
 *  which differs from JS's UTF-16 order for some non-BMP characters. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ---------------------------------------------------------------------------
// Reading

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseHeaderJson(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (err) {
    throw new SafetensorsError('header is not valid UTF-8', { cause: err });
  }
  // The reference requires the header to start with '{' (no leading space/BOM).
  if (!text.startsWith('{')) throw new SafetensorsError('header does not start with "{"');
  let json: unknown;
  try {
    json = JSON.parse(text); // trailing padding spaces are legal JSON whitespace
  } catch (err) {
    throw new SafetensorsError(`header is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(json)) throw new SafetensorsError('header is not a JSON object');
  return json;
}

function parseMetadata(value: unknown): Record<string, string> {
  if (!isPlainObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new SafetensorsError(`${METADATA_KEY} must be an object mapping strings to strings`);
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

interface RawEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, value: unknown, dataLength: number): RawEntry {
  const where = `tensor ${JSON.stringify(name)}`;
  if (name === '') throw new SafetensorsError('tensor names must be non-empty');
  if (!isPlainObject(value)) throw new SafetensorsError(`${where}: entry is not an object`);
  const keys = Object.keys(value).sort();
  if (keys.join() !== 'data_offsets,dtype,shape') {
    throw new SafetensorsError(`${where}: entry must have exactly the keys dtype, shape, data_offsets; got ${JSON.stringify(keys)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isSafetensorsDtype(dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
  const dims = checkShape(shape, name);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw new SafetensorsError(`${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new SafetensorsError(`${where}: data_offsets begin ${begin} > end ${end}`);
  if (end > dataLength) {
    throw new SafetensorsError(`${where}: data_offsets end ${end} is beyond the data section (${dataLength} bytes)`);
  }
  const expected = byteLengthOf(dtype, dims);
  if (BigInt(end - begin) !== expected) {
    throw new SafetensorsError(`${where}: ${end - begin} bytes of data but dtype ${dtype} and shape ${JSON.stringify(dims)} need ${expected}`);
  }
  return { name, dtype, shape: dims, begin, end };
}

/** A PyTorch checkpoint's signature: torch.save writes a zip archive (since 1.6; TorchScript too)
 *  or, before, a pickle stream (protocol 2..5 opens with 0x80 and the protocol number). */
export function pytorchFormat(head: Uint8Array): 'zip' | 'pickle' | null {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6)) return 'zip';
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'pickle';
  return null;
}

/** The error for a file that is a PyTorch checkpoint (`name` is the path, or "the file"). */
export function pytorchFileError(name: string, format: 'zip' | 'pickle'): SafetensorsError {
  return new SafetensorsError(
    `${name} is a PyTorch ${format} checkpoint, not a safetensors file: convert it in Python with ` +
      `safetensors.torch.save_file(model.state_dict(), "model.safetensors") (after model.load_state_dict(torch.load(...)))`,
  );
}

/**
 * The header length N from the first 8 bytes, checked against the limit and the file's size. When
 * the bytes cannot be a safetensors header, says whether they are a PyTorch checkpoint instead.
 * Only the first 9 bytes of `head` are looked at (the 9th must open the JSON header).
 */
function headerLength(head: Uint8Array, fileSize: number, name = 'the file'): number {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  // Compare as BigInt: a u64 like 2^60 must not be rounded into a "valid" number.
  const n64 = view.getBigUint64(0, true);
  const torch = pytorchFormat(head);
  const plausible = n64 <= BigInt(MAX_HEADER_SIZE) && 8n + n64 <= BigInt(fileSize) && (head.length < 9 || head[8] === 0x7b);
  if (!plausible && torch) throw pytorchFileError(name, torch);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(`header length ${n64} exceeds the ${MAX_HEADER_SIZE}-byte limit (is this a safetensors file?)`);
  }
  const n = Number(n64);
  if (8 + n > fileSize) {
    throw new SafetensorsError(`header length ${n} runs past the end of the file (${fileSize} bytes; is this a safetensors file?)`);
  }
  return n;
}

/** The data section's length as the header declares it (the largest end offset); validated later. */
function declaredDataLength(header: Record<string, unknown>): number {
  let end = 0;
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY || !isPlainObject(value)) continue;
    const offsets = value.data_offsets;
    if (Array.isArray(offsets) && offsets.length === 2 && isCount(offsets[1])) end = Math.max(end, offsets[1]);
  }
  return end;
}

/** The header's metadata and entries, checked against a data section of `dataLength` bytes as the reference checks them. */
function parseLayout(header: Record<string, unknown>, dataLength: number): { metadata: Record<string, string>; entries: RawEntry[] } {
  let metadata: Record<string, string> = {};
  const entries: RawEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value);
    else entries.push(parseEntry(name, value, dataLength));
  }

  // The reference requires the entries, sorted by offsets, to tile the data
  // section exactly: no overlap, no hole, nothing after the last tensor.
  // (Empty tensors have begin == end and fit anywhere on a boundary.)
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of byOffset) {
    if (e.begin < cursor) {
      throw new SafetensorsError(`tensor ${JSON.stringify(e.name)}: data [${e.begin}, ${e.end}) overlaps the previous tensor, which ends at ${cursor}`);
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(`tensor ${JSON.stringify(e.name)}: hole in the data section: bytes [${cursor}, ${e.begin}) belong to no tensor`);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(`data section is ${dataLength} bytes but the tensors cover only ${cursor}`);
  }
  return { metadata, entries };
}

/** Map in header order, which is what a reader would expect to iterate. */
function tensorsOf(entries: readonly RawEntry[], data: Uint8Array): Map<string, TensorEntry> {
  const tensors = new Map<string, TensorEntry>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: data.subarray(e.begin, e.end) });
  return tensors;
}

/**
 * Parse a whole safetensors file held in memory. The returned tensors' data
 * are views into `bytes` (no copy). Throws SafetensorsError on any defect.
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw new SafetensorsError(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  }
  const n = headerLength(bytes, bytes.byteLength);
  const header = parseHeaderJson(bytes.subarray(8, 8 + n));
  const data = bytes.subarray(8 + n);
  const { metadata, entries } = parseLayout(header, data.byteLength);
  return { tensors: tensorsOf(entries, data), metadata };
}

export interface ReadSafetensorsOptions {
  /**
   * Called for each tensor as soon as its bytes are read, in file order, while the rest of the
   * file is still being read (the next chunk is read while this runs): to hash the weights as they
   * arrive instead of in a second pass. The header (and so every entry) is checked before the first call.
   */
  onTensor?: (name: string, entry: TensorEntry, file: SafetensorsFile) => void;
  /**
   * Tensors to read before all the others (given the file's layout; no tensor's bytes are read
   * yet): e.g. a protected model's sealed sections, opened while the weights are read.
   */
  first?: (layout: SafetensorsFile) => readonly string[];
  /**
   * Called once, when the `first` tensors' bytes are read, while the rest of the file is being
   * read in the thread pool (the other tensors' bytes are not there yet: only their layout is).
   */
  onFirst?: (file: SafetensorsFile) => void;
  /**
   * Chunk reads kept in flight in the thread pool (default READS_AHEAD, 4). A reader whose
   * `onFirst` works for a while (unlock opens the sections there) asks for more, so the pool keeps
   * reading meanwhile instead of idling once the first few chunks are in.
   */
  readsAhead?: number;
}

/** Bytes read at a time when a file is read tensor by tensor (onTensor). */
const READ_CHUNK = 4 << 20;

/**
 * Read and parse a safetensors file. Errors name the path. Only a regular file is opened (a FIFO,
 * a device such as /dev/zero or a folder is refused), and its size must be exactly what its header
 * describes: the header is read and checked first, so a file larger than its header says is refused
 * before its data is read.
 */
export async function readSafetensors(path: string, options: ReadSafetensorsOptions = {}): Promise<SafetensorsFile> {
  const name = displayPath(path);
  let file: Awaited<ReturnType<typeof openRegularFile>>;
  try {
    file = await openRegularFile(path, { what: 'safetensors file' });
  } catch (err) {
    if (err instanceof FileInputError) throw new SafetensorsError(err.message, { cause: err });
    throw err;
  }
  try {
    if (file.size < 8) throw new SafetensorsError(`file is ${file.size} bytes, shorter than the 8-byte header length`);
    if (file.size <= SMALL_FILE) return await readSmall(file, name, options);
    const head = await file.read(0, Math.min(9, file.size));
    const n = headerLength(head, file.size, name);
    const header = parseHeaderJson(await file.read(8, n));
    // Larger than the header says: refused before the rest is read (a shorter file is read, and
    // parseSafetensors says which tensor runs past its end).
    checkNotLonger(file.size, n, header);
    if (!options.onTensor && !options.first && !options.onFirst) {
      const bytes = uninitialized(file.size);
      await file.readInto(bytes, 0, 0, file.size);
      return parseSafetensors(bytes);
    }
    return await readByTensor(file, n, header, options);
  } catch (err) {
    if (err instanceof SafetensorsError && !err.message.startsWith(`safetensors: ${name} `)) {
      throw new SafetensorsError(`${name}: ${err.message.slice('safetensors: '.length)}`, { cause: err });
    }
    throw err;
  } finally {
    await file.close();
  }
}

/** A file larger than its header describes is not a safetensors file (or a damaged one). */
function checkNotLonger(size: number, n: number, header: Record<string, unknown>): void {
  const expected = 8 + n + declaredDataLength(header);
  if (size > expected) {
    throw new SafetensorsError(`file is ${size} bytes, but its header describes only ${expected} (${n}-byte header and ${expected - 8 - n} bytes of tensors): not a safetensors file, or damaged`);
  }
}

/**
 * Memory for bytes that are about to be read over entirely: not zeroed first (zeroing 80 MB costs
 * about as much as reading it from the page cache). Every byte is overwritten by the read, or the
 * read throws and the buffer is dropped unseen.
 */
function uninitialized(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Files up to this size are read in one read call, header and all, then parsed: each read is a
 * round trip to the thread pool, which for a 1 MB model costs as much as the read itself. (Reading
 * up to this much before refusing a file longer than its header says is harmless.)
 */
const SMALL_FILE = READ_CHUNK;

/** A small file (SMALL_FILE) in one read; the callbacks run as readByTensor's would, in its order. */
async function readSmall(file: Awaited<ReturnType<typeof openRegularFile>>, name: string, options: ReadSafetensorsOptions): Promise<SafetensorsFile> {
  const bytes = uninitialized(file.size);
  await file.readInto(bytes, 0, 0, file.size);
  const n = headerLength(bytes.subarray(0, 9), file.size, name);
  const header = parseHeaderJson(bytes.subarray(8, 8 + n));
  checkNotLonger(file.size, n, header);
  const { metadata, entries } = parseLayout(header, file.size - 8 - n);
  const result: SafetensorsFile = { tensors: tensorsOf(entries, bytes.subarray(8 + n)), metadata };
  if (!options.onTensor && !options.first && !options.onFirst) return result;
  for (const t of new Set(options.first?.(result) ?? [])) if (!result.tensors.has(t)) throw new SafetensorsError(`no tensor ${JSON.stringify(t)} to read first`);
  options.onFirst?.(result);
  if (options.onTensor) for (const e of [...entries].sort((x, y) => x.end - y.end)) options.onTensor(e.name, result.tensors.get(e.name)!, result);
  return result;
}

/** Chunk reads kept in flight (the thread pool reads them while the main thread hashes or decrypts). */
const READS_AHEAD = 4;

/**
 * The data section read in chunks into one buffer: the `first` tensors, then the rest, a few
 * chunks in flight at a time; `onFirst` runs once the first are in, and each tensor goes to
 * `onTensor` once its bytes are in, while the next chunks are being read.
 */
async function readByTensor(file: Awaited<ReturnType<typeof openRegularFile>>, n: number, header: Record<string, unknown>, options: ReadSafetensorsOptions): Promise<SafetensorsFile> {
  const { metadata, entries } = parseLayout(header, file.size - 8 - n);
  const bytes = uninitialized(file.size);
  const data = bytes.subarray(8 + n);
  const tensors = tensorsOf(entries, data);
  const result: SafetensorsFile = { tensors, metadata };
  const at = (offset: number) => 8 + n + offset;

  // The first tensors, then the byte ranges between them in chunks, in file order.
  const first = [...new Set(options.first?.(result) ?? [])].map((name) => {
    const e = entries.find((x) => x.name === name);
    if (!e) throw new SafetensorsError(`no tensor ${JSON.stringify(name)} to read first`);
    return e;
  });
  first.sort((x, y) => x.begin - y.begin);
  const chunks: [number, number][] = [];
  let cursor = 0;
  for (const gap of [...first.map((e) => [e.begin, e.end] as const), [data.byteLength, data.byteLength] as const]) {
    for (let c = cursor; c < gap[0]; c += READ_CHUNK) chunks.push([c, Math.min(c + READ_CHUNK, gap[0])]);
    cursor = Math.max(cursor, gap[1]);
  }
  // Everything below `frontier` is read: the chunks done, and the first tensors' ranges they reach.
  const byEnd = [...entries].sort((x, y) => x.end - y.end);
  let next = 0;
  let frontier = 0;
  const advance = (to: number) => {
    frontier = Math.max(frontier, to);
    for (const e of first) if (e.begin <= frontier) frontier = Math.max(frontier, e.end);
    if (!options.onTensor) return;
    for (; next < byEnd.length && byEnd[next].end <= frontier; next++) options.onTensor(byEnd[next].name, tensors.get(byEnd[next].name)!, result);
  };
  const inFlight: Promise<void>[] = [];
  const issue = (read: Promise<void>) => {
    read.catch(() => {}); // awaited in order below; a later read may fail while an earlier one is awaited
    inFlight.push(read);
    return read;
  };
  // The header and the first tensors, then the first chunks, issued at once: the pool reads the
  // chunks while the first tensors are awaited and while onFirst works on them.
  const firstReads = [issue(file.readInto(bytes, 0, 0, 8 + n)), ...first.filter((e) => e.end > e.begin).map((e) => issue(file.readInto(data, e.begin, at(e.begin), e.end - e.begin)))];
  const chunkReads: Promise<void>[] = [];
  const start = (i: number) => {
    if (i < chunks.length) chunkReads.push(issue(file.readInto(data, chunks[i][0], at(chunks[i][0]), chunks[i][1] - chunks[i][0])));
  };
  try {
    const ahead = Math.max(1, Math.floor(options.readsAhead ?? READS_AHEAD));
    for (let i = 0; i < ahead; i++) start(i);
    for (const read of firstReads) await read;
    options.onFirst?.(result);
    advance(0);
    for (let i = 0; i < chunks.length; i++) {
      await chunkReads[i];
      start(i + ahead);
      advance(chunks[i][1]);
    }
    advance(data.byteLength);
  } catch (err) {
    // No read may outlive the file handle (closed by the caller): wait for those in flight.
    await Promise.allSettled(inFlight);
    throw err;
  }
  return result;
}

/** Only the string metadata of a safetensors file (its header is read, its data is not). */
export async function readSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  const name = displayPath(path);
  const file = await openRegularFile(path, { what: 'safetensors file' }).catch((err) => {
    throw err instanceof FileInputError ? new SafetensorsError(err.message, { cause: err }) : err;
  });
  try {
    if (file.size < 8) throw new SafetensorsError(`${name}: file is ${file.size} bytes, shorter than the 8-byte header length`);
    const n = headerLength(await file.read(0, Math.min(9, file.size)), file.size, name);
    const header = parseHeaderJson(await file.read(8, n));
    return header[METADATA_KEY] === undefined ? {} : parseMetadata(header[METADATA_KEY]);
  } finally {
    await file.close();
  }
}

// ---------------------------------------------------------------------------
// Writing

/** Header bytes (length prefix included) followed by each tensor's data, in
 *  file order. Kept as chunks so writing a file does not copy all weights. */
function serializeChunks(tensors: TensorInput, metadata?: Record<string, string>): Uint8Array[] {
  const items: [string, TensorEntry][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);

  for (const [name, t] of items) {
    const where = `tensor ${JSON.stringify(name)}`;
    if (typeof name !== 'string' || name === '') throw new SafetensorsError('tensor names must be non-empty strings');
    if (name === METADATA_KEY) throw new SafetensorsError(`${METADATA_KEY} is reserved and cannot be a tensor name`);
    if (!isPlainObject(t)) throw new SafetensorsError(`${where}: not a {dtype, shape, data} object`);
    if (!isSafetensorsDtype(t.dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    checkShape(t.shape, name);
    if (!(t.data instanceof Uint8Array)) throw new SafetensorsError(`${where}: data must be a Uint8Array`);
    const expected = byteLengthOf(t.dtype, t.shape);
    if (BigInt(t.data.byteLength) !== expected) {
      throw new SafetensorsError(`${where}: ${t.data.byteLength} bytes of data but dtype ${t.dtype} and shape ${JSON.stringify(t.shape)} need ${expected}`);
    }
  }
  let meta: [string, string][] | undefined;
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new SafetensorsError('metadata must be an object mapping strings to strings');
    meta = Object.entries(metadata);
    for (const [k, v] of meta) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata ${JSON.stringify(k)}: value must be a string, got ${typeof v}`);
    }
    meta.sort(([a], [b]) => compareNames(a, b)); // deterministic output
  }

  // Same order as the reference writer: larger-alignment dtypes first (keeps
  // every tensor aligned to its element size, given the 8-byte-padded header),
  // then by name.
  items.sort(([an, a], [bn, b]) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareNames(an, bn));

  // Build the JSON by hand to control key order: __metadata__ first, then
  // tensors in data order, each as dtype, shape, data_offsets (as the reference).
  const parts: string[] = [];
  if (meta) {
    const obj = meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',');
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${obj}}`);
  }
  let offset = 0;
  for (const [name, t] of items) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  // Pad with spaces so the data section starts 8-byte aligned.
  const padded = (json.byteLength + 7) & ~7;
  if (padded > MAX_HEADER_SIZE) throw new SafetensorsError(`header would be ${padded} bytes, above the ${MAX_HEADER_SIZE}-byte limit`);
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);

  return [head, ...items.map(([, t]) => t.data)];
}

/** Serialize tensors (and optional string metadata) to safetensors bytes. */
export function serializeSafetensors(tensors: TensorInput, metadata?: Record<string, string>): Uint8Array {
  const chunks = serializeChunks(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

/** Serialize and write atomically (readers never see a partial file). Temporaries that killed
 *  writers of the same file left behind (weights: up to hundreds of MB) are removed first. */
export async function writeSafetensors(path: string, tensors: TensorInput, metadata?: Record<string, string>): Promise<void> {
  removeStaleTemporaries(path);
  await writeFileAtomic(path, serializeChunks(tensors, metadata));
}
