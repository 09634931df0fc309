// Atomic file replacement: readers of `path` see either the old content or
// the new content, never a half-written file (a crash mid-write, a full disk,
// or a concurrent reader would otherwise observe a truncated file).
//
// Recipe: write a temporary file in the SAME folder (rename is only atomic
// within one file system), fsync it so the data is on disk before the name
// points at it, rename it over the target, then fsync the folder so the rename
// itself survives a power loss. Any failure removes the temporary file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export type AtomicData = Uint8Array | string | Uint8Array[];

export interface AtomicWriteOptions {
  /** File mode for the new file. Default: the mode of the file being
   *  replaced (so a 0600 key file stays 0600), else 0o666 minus the umask. */
  mode?: number;
}

function toChunks(data: AtomicData): Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  if (Array.isArray(data) && data.every((c) => c instanceof Uint8Array)) return data;
  throw new TypeError('writeFileAtomic: data must be a string, a Uint8Array, or an array of Uint8Array');
}

function tempPathFor(target: string): string {
  // Leading dot hides it; pid + random make collisions between concurrent
  // writers (threads, processes) practically impossible; 'wx' catches the rest.
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Mode of the file being replaced, if there is one. */
function existingModeSync(target: string): number | undefined {
  try {
    return fs.statSync(target).mode & 0o7777;
  } catch {
    return undefined;
  }
}

async function existingMode(target: string): Promise<number | undefined> {
  try {
    return (await fs.promises.stat(target)).mode & 0o7777;
  } catch {
    return undefined;
  }
}

/** Turn "the folder is missing" into an error that says so (ENOENT on the
 *  temp file would otherwise name a path the caller never asked for). */
function explainOpenError(err: unknown, target: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' || e?.code === 'ENOTDIR') {
    const wrapped = new Error(`writeFileAtomic: cannot write ${target}: folder ${path.dirname(target)} does not exist`, { cause: err }) as NodeJS.ErrnoException;
    wrapped.code = e.code;
    return wrapped;
  }
  return err;
}

/** Best effort: make the rename durable. Not supported everywhere (Windows),
 *  and the data is already safe in the renamed file, so errors are ignored. */
function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // ignore
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* ignore */
      }
    }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // ignore (see fsyncDirSync)
  } finally {
    await handle?.close().catch(() => {});
  }
}

export async function writeFileAtomic(target: string, data: AtomicData, options: AtomicWriteOptions = {}): Promise<void> {
  const chunks = toChunks(data);
  const tmp = tempPathFor(target);
  const mode = options.mode ?? (await existingMode(target));
  let handle: fs.promises.FileHandle | undefined;
  let created = false;
  try {
    try {
      handle = await fs.promises.open(tmp, 'wx', mode ?? 0o666);
    } catch (err) {
      throw explainOpenError(err, target);
    }
    created = true;
    // open() applies the umask; chmod sets the exact mode we want to keep.
    if (mode !== undefined) await handle.chmod(mode);
    for (const chunk of chunks) {
      // write() may write less than asked; loop until the chunk is done.
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.promises.rename(tmp, target);
    created = false;
  } catch (err) {
    if (handle) await handle.close().catch(() => {});
    if (created) await fs.promises.unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

export function writeFileAtomicSync(target: string, data: AtomicData, options: AtomicWriteOptions = {}): void {
  const chunks = toChunks(data);
  const tmp = tempPathFor(target);
  const mode = options.mode ?? existingModeSync(target);
  let fd: number | undefined;
  let created = false;
  try {
    try {
      fd = fs.openSync(tmp, 'wx', mode ?? 0o666);
    } catch (err) {
      throw explainOpenError(err, target);
    }
    created = true;
    if (mode !== undefined) fs.fchmodSync(fd, mode);
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) {
        off += fs.writeSync(fd, chunk, off, chunk.byteLength - off);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
    created = false;
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    if (created) {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* already failing */
      }
    }
    throw err;
  }
  fsyncDirSync(path.dirname(target));
}
