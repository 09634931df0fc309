// Kept only for the 0.1 `eval` and `denoise` commands (the model part moves them to
// src/cli/commands/model/ and their key flags to --keys/--token): delete with them. The protection
// commands read keys through src/cli/commands/protect/args.ts `tokenFrom`.
import { type DecodedKeyToken, decodeKeyToken } from '../../crypto/index.ts';
import { readKeyToken } from '../../protect/index.ts';

/** The key when one is given (--key, --key-file or $NNLOCK_KEY), else undefined. */
export async function optionalKey(o: { key?: string; keyFile?: string }): Promise<DecodedKeyToken | undefined> {
  if (o.key !== undefined) return decodeKeyToken(o.key);
  if (o.keyFile !== undefined) return decodeKeyToken(await readKeyToken(o.keyFile));
  return process.env.NNLOCK_KEY ? decodeKeyToken(process.env.NNLOCK_KEY) : undefined;
}
