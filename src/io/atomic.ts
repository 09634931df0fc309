// Atomic file replacement: readers of `path` see either the old content or
// the new content, never a half-written file (a crash mid-write, a full disk,
// or a concurrent reader would otherwise observe a truncated file).
//
// Recipe: write a temporary file in the SAME folder (rename is only atomic
// within one file system), fsync it so the data is on disk before the name
// points at it, rename it over the target, then fsync the folder so the rename
// itself survives a power loss. Any failure removes the temporary file.
//
// Temporary files are named `.<name>.nnlock-tmp-<pid>-<random>`: a leftover (the writer was killed,
// which no cleanup can catch) is recognisable, and removeStaleTemporaries() deletes the ones whose
// process is gone. With `exclusive`, the new file is linked into place (link(2) fails when the name
// exists, atomically), so two writers racing for a new file cannot both succeed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export type AtomicData = Uint8Array | string | Uint8Array[];

export interface AtomicWriteOptions {
  /** File mode for the new file. Default: the mode of the file being
   *  replaced (so a 0600 key file stays 0600), else 0o666 minus the umask. */
  mode?: number;
  /** Never replace an existing file: fail with code EEXIST instead, also when another writer
   *  creates it meanwhile (the check and the creation are one atomic step). */
  exclusive?: boolean;
}

/** An existing file that an exclusive write refused to replace. */
export class FileExistsError extends Error {
  readonly code = 'EEXIST';
  constructor(readonly path: string) {
    super(`${path} exists; pass --force to overwrite it`);
    this.name = 'FileExistsError';
  }
}

/** Where a write can be made to fail in tests (a full disk, a kill): called at each step. */
export type WriteFaultHook = (step: 'write' | 'rename' | 'committed', target: string) => void;
let faultHook: WriteFaultHook | null = null;
/** Tests only: make writes fail (e.g. throw an ENOSPC error) at a step; null removes the hook. */
export function setWriteFaultForTesting(hook: WriteFaultHook | null): void {
  faultHook = hook;
}
/** Tests only: runs the hook of setWriteFaultForTesting (for writers that compose atomic steps). */
export function writeFault(step: 'write' | 'rename' | 'committed', target: string): void {
  faultHook?.(step, target);
}

const TEMP_MARK = '.nnlock-tmp-';

function toChunks(data: AtomicData): Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  if (Array.isArray(data) && data.every((c) => c instanceof Uint8Array)) return data;
  throw new TypeError('writeFileAtomic: data must be a string, a Uint8Array, or an array of Uint8Array');
}

/** The temporary file for `target`: hidden, marked as nnlock's, with the writer's pid (so a stale one
 *  can be told from a live one) and random bytes (so concurrent writers never collide; 'wx' catches the rest). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}${TEMP_MARK}${process.pid}-${randomBytes(6).toString('hex')}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Removes the temporary files that killed writers left beside `target` (those whose process no
 * longer runs); returns their paths. Best effort: errors are ignored.
 */
export function removeStaleTemporaries(target: string): string[] {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}${TEMP_MARK}`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return removed;
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-[0-9a-f]{12}$/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    try {
      fs.unlinkSync(path.join(dir, name));
      removed.push(path.join(dir, name));
    } catch {
      /* gone already, or not ours to remove */
    }
  }
  return removed;
}

/** Puts the finished temporary file at `target`: rename (replaces), or link (never replaces). */
async function publish(tmp: string, target: string, exclusive: boolean): Promise<void> {
  faultHook?.('rename', target);
  if (!exclusive) {
    await fs.promises.rename(tmp, target);
    return;
  }
  try {
    await fs.promises.link(tmp, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(target);
    // File systems without hard links: an exclusive create and a copy (not atomic, still no clobber).
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    try {
      await fs.promises.copyFile(tmp, target, fs.constants.COPYFILE_EXCL);
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(target);
      throw e2;
    }
  }
  await fs.promises.unlink(tmp);
}

function publishSync(tmp: string, target: string, exclusive: boolean): void {
  faultHook?.('rename', target);
  if (!exclusive) {
    fs.renameSync(tmp, target);
    return;
  }
  try {
    fs.linkSync(tmp, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(target);
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    try {
      fs.copyFileSync(tmp, target, fs.constants.COPYFILE_EXCL);
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(target);
      throw e2;
    }
  }
  fs.unlinkSync(tmp);
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

/** Makes renames in `dir` durable (best effort; see fsyncDirSync). For writers that rename themselves. */
export async function fsyncDir(dir: string): Promise<void> {
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
      faultHook?.('write', target);
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
    await publish(tmp, target, options.exclusive ?? false);
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
      faultHook?.('write', target);
      let off = 0;
      while (off < chunk.byteLength) {
        off += fs.writeSync(fd, chunk, off, chunk.byteLength - off);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    publishSync(tmp, target, options.exclusive ?? false);
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
