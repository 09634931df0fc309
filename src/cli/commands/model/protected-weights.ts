// The weights a model command runs: a plain file, or a protected one unlocked in memory with the
// key given by --keys (a key file), --token (one tier token) or $NNLOCK_KEY, to the key's tier or
// --tier. A protected file without a key runs as published (tier 0: decoys in place), once its
// owner's signature and weights digest are checked. Nothing unlocked touches the disk.
import type { SafetensorsFile } from '../../../io/safetensors.ts';
import { readModelFile } from '../../../models/load.ts';
import { PROTECT_METADATA_KEY, recoverInterruptedWrite, unlockModel, verifyProtected } from '../../../protect/index.ts';
import { tokenFromFlags } from '../../key-flags.ts';
import { UsageError } from '../../errors.ts';
import { FLAG, option, parse } from '../../options.ts';
import type { Option } from 'commander';
import type { SignatureFacts } from '../../signature-note.ts';

export interface UnlockFlags {
  keys?: string;
  token?: string;
  tier?: number;
  signer?: string;
}

export interface CommandWeights {
  file: SafetensorsFile;
  /** For a protected file: the tier it runs at, of how many. */
  protection?: { tier: number; tiers: number };
  /** For a protected file unlocked with a key: whose signature it carries (src/cli/signature-note.ts). */
  signature?: SignatureFacts;
}

/** The --keys, --token and --tier options of a command that runs a possibly protected model. */
export function unlockOptions(): Option[] {
  return [
    option(FLAG.keys, 'key file of a protected model: unlocked in memory, nothing is written'),
    option(FLAG.token, 'one tier token of a protected model (visible to other local users: prefer --keys)'),
    option(FLAG.tier, "with a key: restore this tier (default: the key's own)", parse.nonNegativeInt),
    option(FLAG.signer, "refuse a protected model unless the owner's signer is this one (a key from the owner pins it already)"),
  ];
}

async function keyOf(o: UnlockFlags, env: Record<string, string | undefined>): Promise<string | undefined> {
  const token = await tokenFromFlags(o, env);
  if (token === undefined && o.tier !== undefined) throw new UsageError('--tier needs a key: pass --keys <file> or --token <token>');
  return token;
}

/**
 * Reads `path` and, when it is protected and a key is given, unlocks it in memory. A protected
 * write of `path` that was interrupted (killed between renaming its key file and the model) is
 * finished or undone first, as the protect commands do, so the model read matches its key file.
 */
export async function commandWeights(path: string, o: UnlockFlags, env: Record<string, string | undefined>): Promise<CommandWeights> {
  const key = await keyOf(o, env);
  await recoverInterruptedWrite(path);
  const file = await readModelFile(path);
  if (file.metadata[PROTECT_METADATA_KEY] === undefined) {
    if (key) throw new Error(`${path} is not a protected model: it needs no key`);
    return { file };
  }
  if (!key) {
    // Tier 0 users rely on the published weights and metadata (normalisation, class names) too.
    const v = verifyProtected(file, { expectedSigner: o.signer });
    return { file, protection: { tier: 0, tiers: v.header.tiers }, signature: { signed: v.signed, signer: v.signer, signerPinned: v.signerPinned } };
  }
  const r = await unlockModel(file, key, { tier: o.tier, expectedSigner: o.signer });
  return { file: r.file, protection: { tier: r.tier, tiers: r.tiers }, signature: { signed: r.signed, signer: r.signer, signerPinned: r.signerPinned } };
}

/** ", protected model at tier t/M" for a result line, or nothing for a plain model. */
export function protectionNote(w: CommandWeights): string {
  return w.protection ? `, protected model at tier ${w.protection.tier}/${w.protection.tiers}` : '';
}
