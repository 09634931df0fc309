// Reading files that come from users: only regular files, of a size that makes sense for what they
// claim to be, are read. Everything else is refused before a byte is read, because
//   - a FIFO (named pipe) blocks open() and read() forever when nobody writes to it,
//   - /dev/zero and /dev/urandom never end: readFile() grows its buffer until memory runs out,
//   - a folder fails with EISDIR deep inside a reader, naming nothing useful.
// The file is opened with O_NONBLOCK, so even opening a FIFO returns at once, and is then checked
// with fstat on the same descriptor (no gap between the check and the read).
//
// Error messages name the path, unless the "path" looks like a secret (a key token or 64 hex
// digits given to a flag that expects a file): secrets are never echoed.
import * as fs from 'node:fs';

export class FileInputError extends Error {
  readonly code: 'ENOENT' | 'NOT_REGULAR' | 'TOO_LARGE' | 'UNREADABLE';
  constructor(code: FileInputError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FileInputError';
    this.code = code;
  }
}

/** A key token (`nnlock1-…`) or a bare 256-bit hex secret: what must never appear in a message. */
export function looksLikeSecret(text: string): boolean {
  const s = text.trim();
  return /nnlock1-/i.test(s) || /^[0-9a-f]{64}$/i.test(s);
}

/** The path as it may be shown in a message: itself, or a placeholder when it looks like a secret. */
export function displayPath(path: string): string {
  return looksLikeSecret(path) ? '(a key token or secret given where a file path was expected; not shown)' : path;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export interface RegularFileOptions {
  /** What the file should be, for messages ("key file", "safetensors file"). Default "file". */
  what?: string;
  /** Refuse files larger than this many bytes (default: no limit beyond the regular-file check). */
  maxBytes?: number;
}

function notFound(path: string, what: string, err: unknown): FileInputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileInputError('ENOENT', `${what} ${displayPath(path)}: no such file`, { cause: err });
  return new FileInputError('UNREADABLE', `${what} ${displayPath(path)}: cannot read it (${code ?? (err as Error).message})`, { cause: err });
}

function checkStats(st: fs.Stats, path: string, what: string, maxBytes: number | undefined): void {
  if (!st.isFile()) throw new FileInputError('NOT_REGULAR', `${what} ${displayPath(path)} is ${kindOf(st)}, not a regular file: refusing to read it`);
  if (maxBytes !== undefined && st.size > maxBytes) {
    throw new FileInputError('TOO_LARGE', `${what} ${displayPath(path)} is ${st.size} bytes, more than the ${maxBytes} a ${what} can be: refusing to read it`);
  }
}

/** Checks (without opening it, so a FIFO cannot block) that `path` is a regular file of sane size. */
export async function assertRegularFile(path: string, options: RegularFileOptions = {}): Promise<{ size: number }> {
  const what = options.what ?? 'file';
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
  } catch (err) {
    throw notFound(path, what, err);
  }
  checkStats(st, path, what, options.maxBytes);
  return { size: st.size };
}

/**
 * An open, checked regular file: read parts of it (`read`) or all of it (`readAll`), then close it.
 * The size is the one fstat reported when it was opened; reads never go past it.
 */
export interface CheckedFile {
  readonly size: number;
  /** Exactly `length` bytes from `position` (throws when the file is shorter than it said). */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Exactly `length` bytes from `position` into `target` at `offset` (no allocation). */
  readInto(target: Uint8Array, offset: number, position: number, length: number): Promise<void>;
  close(): Promise<void>;
}

export async function openRegularFile(path: string, options: RegularFileOptions = {}): Promise<CheckedFile> {
  const what = options.what ?? 'file';
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    handle = await fs.promises.open(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw notFound(path, what, err);
  }
  try {
    const st = await handle.stat();
    checkStats(st, path, what, options.maxBytes);
    const readInto = async (target: Uint8Array, offset: number, position: number, length: number): Promise<void> => {
      if (position + length > st.size) throw new FileInputError('UNREADABLE', `${what} ${displayPath(path)}: asked for bytes past its end`);
      if (offset + length > target.byteLength) throw new RangeError('readInto: the target is too small');
      let off = 0;
      while (off < length) {
        const { bytesRead } = await handle.read(target, offset + off, length - off, position + off);
        if (bytesRead === 0) throw new FileInputError('UNREADABLE', `${what} ${displayPath(path)} became shorter while it was read`);
        off += bytesRead;
      }
    };
    return {
      size: st.size,
      async read(position, length) {
        // A plain Uint8Array, not a Buffer: Buffer#slice() returns a view where Uint8Array#slice() copies.
        const out = new Uint8Array(length);
        await readInto(out, 0, position, length);
        return out;
      },
      readInto,
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** The whole content of a regular file of at most `maxBytes` (see openRegularFile). */
export async function readRegularFile(path: string, options: RegularFileOptions = {}): Promise<Uint8Array> {
  const file = await openRegularFile(path, options);
  try {
    return await file.read(0, file.size);
  } finally {
    await file.close();
  }
}

/** The whole content of a regular text file of at most `maxBytes`, as UTF-8. */
export async function readRegularTextFile(path: string, options: RegularFileOptions = {}): Promise<string> {
  return Buffer.from(await readRegularFile(path, options)).toString('utf8');
}
