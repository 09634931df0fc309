// Writing a protected model and its key file as a pair: they change together or not at all.
//
// A protected model is useless without its keys (the master key cannot be recovered), and keys of
// another model are useless with it. Two atomic renames cannot be one atomic step, so the pair is
// written in an order that every interruption can be undone from, with a journal that says how:
//
//   1. Both new files are written in full to temporaries beside their targets (fsynced). A full
//      disk (ENOSPC) or any other failure here removes the temporaries: nothing else was touched.
//   2. A journal `.<model>.nnlock-pair` is written (atomically) naming the new model's id, the key
//      file, its temporaries and the backup of the old key file.
//   3. The old key file, if any, is kept under a second name (a hard link, `.<keys>.nnlock-previous`).
//   4. The new key file is renamed into place, then 5. the new model.
//   6. The backup and the journal are removed.
//
// Recovery rule (recoverInterruptedWrite, run before any write of the same model and before the
// CLI reads a model): when a journal is left, the process was killed between 2 and 6. If the model
// on disk carries the journal's new model id, step 5 happened: the new pair is complete, and only
// the backup and temporaries are removed. Otherwise the old model is still in place: the old key
// file is put back from the backup (or, when there was none, the new key file, which belongs to a
// model that was never written, is removed). Either way the model and key file on disk match.
//
// Keys are written outside the published model's folder by default (defaultKeysPath): publishing
// the folder must never publish the master key.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir, removeStaleTemporaries, tempPathFor, writeFault, writeFileAtomic } from '../io/atomic.ts';
import { readSafetensorsMetadata, type SafetensorsFile, writeSafetensors } from '../io/safetensors.ts';
import { type ProtectHeader, parseHeader } from './format.ts';
import { formatKeyFile } from './keys.ts';

export interface WriteProtectedOptions {
  /** The key file; default defaultKeysPath(model), outside the model's folder. Mode 0600. */
  keys?: string;
  /** Folder of default key files (default $NNLOCK_KEYS_DIR, else ~/.nnlock/keys). */
  keysDir?: string;
  /** Overwrite existing files (the old pair is replaced as a pair, see above). */
  force?: boolean;
}

/** The folder default key files go to: $NNLOCK_KEYS_DIR, else ~/.nnlock/keys. */
export function defaultKeysDir(env: Record<string, string | undefined> = process.env): string {
  return env.NNLOCK_KEYS_DIR || join(homedir(), '.nnlock', 'keys');
}

/**
 * Where a model's key file goes by default: `<keysDir>/<model name>.<8 hex of its absolute path>.keys`,
 * outside the folder the protected model is published from (the hash keeps models of the same
 * name in different folders apart).
 */
export function defaultKeysPath(model: string, keysDir = defaultKeysDir()): string {
  const where = createHash('sha256').update(resolve(model)).digest('hex').slice(0, 8);
  return join(keysDir, `${basename(model)}.${where}.keys`);
}

/** Whether `keys` would be written in the folder of `model` (or below it). */
export function keysBesideModel(model: string, keys: string): boolean {
  const folder = resolve(dirname(model));
  const k = resolve(keys);
  return k.startsWith(`${folder}/`) || dirname(k) === folder;
}

interface Journal {
  format: 'nnlock-pair-write';
  modelId: string;
  keys: string;
  keysTmp: string;
  modelTmp: string;
  backup: string | null;
}

const journalPath = (model: string) => join(dirname(model), `.${basename(model)}.nnlock-pair`);
const backupPath = (keys: string) => join(dirname(keys), `.${basename(keys)}.nnlock-previous`);

async function modelIdOnDisk(model: string): Promise<string | null> {
  try {
    return parseHeader(await readSafetensorsMetadata(model)).modelId;
  } catch {
    return null;
  }
}

function sameFile(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  return sa.ino === sb.ino && sa.dev === sb.dev;
}

async function removeIfPresent(path: string | null): Promise<void> {
  if (path) await fs.rm(path, { force: true });
}

/** What recoverInterruptedWrite did: nothing to do, completed the new pair, or restored the old. */
export type Recovery = 'none' | 'completed' | 'rolled-back';

/** Applies the recovery rule (see the top of this file) to an interrupted write of `model`. */
export async function recoverInterruptedWrite(model: string): Promise<Recovery> {
  const jp = journalPath(model);
  if (!existsSync(jp)) return 'none';
  let j: Journal;
  try {
    j = JSON.parse(readFileSync(jp, 'utf8')) as Journal;
    if (j.format !== 'nnlock-pair-write') throw new Error('not a journal');
  } catch {
    throw new Error(`${jp}: an interrupted write left a damaged journal; check ${model} and its key file by hand, then remove it`);
  }
  let outcome: Recovery;
  if ((await modelIdOnDisk(model)) === j.modelId) {
    outcome = 'completed';
    await removeIfPresent(j.backup);
  } else {
    outcome = 'rolled-back';
    if (j.backup && existsSync(j.backup)) {
      // rename() between two links of one file does nothing: then the old keys are in place already.
      if (existsSync(j.keys) && sameFile(j.backup, j.keys)) await fs.rm(j.backup);
      else await fs.rename(j.backup, j.keys);
    } else if (!j.backup && existsSync(j.keys) && readFileSync(j.keys, 'utf8').includes(`# model ${j.modelId}`)) await fs.rm(j.keys);
  }
  await removeIfPresent(j.keysTmp);
  await removeIfPresent(j.modelTmp);
  await fs.rm(jp, { force: true });
  return outcome;
}

/** Writes a protected model and its key file as a pair (see the top of this file). */
export async function writeProtectedPair(
  path: string,
  p: { file: SafetensorsFile; header: ProtectHeader; tokens: readonly string[] },
  options: WriteProtectedOptions = {},
): Promise<{ model: string; keys: string }> {
  const keys = options.keys ?? defaultKeysPath(path, options.keysDir);
  await recoverInterruptedWrite(path);
  removeStaleTemporaries(path);
  removeStaleTemporaries(keys);
  if (!options.force) for (const f of [path, keys]) if (existsSync(f)) throw new Error(`${f} exists (use --force to overwrite)`);
  if (!existsSync(dirname(path))) throw new Error(`cannot write ${path}: folder ${dirname(path)} does not exist`);
  if (options.keys === undefined) mkdirSync(dirname(keys), { recursive: true, mode: 0o700 });
  else if (!existsSync(dirname(keys))) throw new Error(`cannot write the key file ${keys}: folder ${dirname(keys)} does not exist`);

  // 1. Both files complete, beside their targets.
  const keysTmp = tempPathFor(keys);
  const modelTmp = tempPathFor(path);
  const journal: Journal = { format: 'nnlock-pair-write', modelId: p.header.modelId, keys, keysTmp, modelTmp, backup: existsSync(keys) ? backupPath(keys) : null };
  try {
    await writeFileAtomic(keysTmp, formatKeyFile({ tokens: p.tokens, modelId: p.header.modelId, tiers: p.header.tiers, model: path, signer: p.header.signer }), { mode: 0o600, exclusive: true });
    await writeSafetensors(modelTmp, p.file.tensors, p.file.metadata);
    // 2. The journal, 3. the old keys kept.
    await writeFileAtomic(journalPath(path), `${JSON.stringify(journal)}\n`, { exclusive: true });
  } catch (e) {
    await removeIfPresent(keysTmp);
    await removeIfPresent(modelTmp);
    throw e;
  }
  try {
    if (journal.backup) {
      await fs.rm(journal.backup, { force: true });
      await fs.link(keys, journal.backup);
    }
    // 4. keys, 5. model: the order the recovery rule assumes.
    writeFault('rename', keys);
    await fs.rename(keysTmp, keys);
    writeFault('rename', path);
    await fs.rename(modelTmp, path);
    await fsyncDir(dirname(keys)); // the renames survive a power loss before the journal goes
    await fsyncDir(dirname(path));
    writeFault('committed', path); // both renames done, the cleanup not yet
  } catch (e) {
    await recoverInterruptedWrite(path); // the old pair back, as after a kill
    throw e;
  }
  // 6. Done: the backup and the journal go.
  await recoverInterruptedWrite(path);
  return { model: path, keys };
}
