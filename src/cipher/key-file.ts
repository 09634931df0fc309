// Key files: JSON, written atomically with mode 0600 (the file holds a secret). Normative
// specification: docs/FORMAT.md §3.2 (fingerprint = SHA-256 of "nnlock-cipher-key v1" 0x00 kind
// 0x00 k 0x00 channels 0x00 (1|0 shuffle) 0x00, then each matrix as float64 little-endian, then the
// shuffle key when shuffled).
//
//   {
//     "format": "nnlock-cipher-key", "version": 1,
//     "kind": "uniform" | "orthogonal" | "hill256",
//     "k": 4, "channels": 3, "shuffle": false, "maxCondition": 500,
//     "secret": "<64 hex digits>",            ← form "secret" (what keygen writes): the matrices
//                                                are re-derived from it on load
//     "matrices": [[k⁴ numbers], ...],          ← form "matrices" instead of "secret": one row-major
//     "shuffleKey": "<64 hex digits>",             k²×k² matrix per channel (keys not derived from a
//                                                secret, e.g. recovered by an attack); shuffleKey
//                                                only when shuffle is true
//     "fingerprint": "<64 hex digits>"         ← SHA-256 of the key material (see key.ts)
//   }
//
// The secret form is compact (a few hundred bytes for any k) and is the default. On load the key is
// rebuilt and its fingerprint must equal the stored one: a damaged or edited file, or one from an
// incompatible derivation, fails with a clear error instead of silently giving another key.
import { removeStaleTemporaries, writeFileAtomic } from '../io/atomic.ts';
import { FileInputError, displayPath, readRegularTextFile } from '../io/regular-file.ts';
import {
  type CipherKey,
  CipherKeyError,
  type KeyOptions,
  MAX_BLOCK_SIZE,
  MAX_CHANNELS,
  MAX_MAX_CONDITION,
  assertKind,
  deriveKey,
  keyFromMatrices,
  minMaxCondition,
  parseSecretHex,
  randomSecret,
  toHex,
} from './key.ts';
import { assertWritable } from './files.ts';

export const KEY_FILE_FORMAT = 'nnlock-cipher-key';
export const KEY_FILE_VERSION = 1;

export type KeyFileForm = 'secret' | 'matrices';

/** The largest key file read: the matrices form of k = 16 with 16 channels is about 25 MB. */
export const MAX_KEY_FILE_BYTES = 64 * 1024 * 1024;
/** A secret file holds 64 hex digits and white space. */
const MAX_SECRET_FILE_BYTES = 4096;

/** The JSON text of a key file. */
export function serializeKey(key: CipherKey, form: KeyFileForm = key.secret ? 'secret' : 'matrices'): string {
  const head = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    kind: key.kind,
    k: key.k,
    channels: key.channels,
    shuffle: key.shuffle,
    maxCondition: key.maxCondition,
  };
  if (form === 'secret') {
    if (!key.secret) throw new CipherKeyError('this key was not derived from a secret: save it in the "matrices" form');
    return `${JSON.stringify({ ...head, secret: toHex(key.secret), fingerprint: key.fingerprint }, null, 2)}\n`;
  }
  const body = {
    ...head,
    matrices: key.matrices.map((m) => Array.from(m)),
    ...(key.shuffleKey ? { shuffleKey: toHex(key.shuffleKey) } : {}),
    fingerprint: key.fingerprint,
  };
  // One matrix per line keeps a k=8 file readable (4096 numbers a line) without a line per number.
  return `${JSON.stringify(body, null, 2).replace(/\[\s+([-+\d.e,\s]+?)\s+\]/g, (_m, inner: string) => `[${inner.replace(/\s+/g, '')}]`)}\n`;
}

/**
 * Writes a key file atomically, readable by its owner only (mode 0600). With `exclusive`, an
 * existing file is never replaced (FileExistsError), also when another process creates it meanwhile.
 */
export async function saveKey(key: CipherKey, path: string, form?: KeyFileForm, options: { exclusive?: boolean } = {}): Promise<void> {
  removeStaleTemporaries(path);
  await writeFileAtomic(path, serializeKey(key, form), { mode: 0o600, exclusive: options.exclusive });
}

/**
 * Derives a key from a 256-bit secret (a fresh random one unless given) and writes it as a NEW key
 * file, readable by its owner only; an existing file is refused unless `force`. Returns the key.
 */
export async function createKeyFile(path: string, o: KeyOptions & { secret?: Uint8Array; form?: KeyFileForm; force?: boolean }): Promise<CipherKey> {
  assertWritable([path], o.force); // early, before the derivation's work
  const key = deriveKey(o.secret ?? randomSecret(), o);
  // Exclusive: of two keygens racing for the same new file, exactly one succeeds.
  await saveKey(key, path, o.form ?? 'secret', { exclusive: !o.force });
  return key;
}

/** Reads a secret file: 64 hex digits (256 bits), surrounding white space ignored. */
export async function loadSecret(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await readRegularTextFile(path, { what: 'secret file', maxBytes: MAX_SECRET_FILE_BYTES });
  } catch (e) {
    if (e instanceof FileInputError) throw new CipherKeyError(e.message);
    throw e;
  }
  return parseSecretHex(text);
}

function corrupt(where: string, why: string): CipherKeyError {
  return new CipherKeyError(`corrupt key file ${where}: ${why}`);
}

/** Parses the JSON text of a key file; `where` names it in errors. */
export function parseKey(text: string, where = '(key)'): CipherKey {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw corrupt(where, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw corrupt(where, 'expected a JSON object');
  const o = j as Record<string, unknown>;
  if (o.format !== KEY_FILE_FORMAT) throw corrupt(where, `not an nnlock cipher key (format is ${JSON.stringify(o.format)}, expected "${KEY_FILE_FORMAT}")`);
  if (o.version !== KEY_FILE_VERSION) throw corrupt(where, `unsupported version ${JSON.stringify(o.version)} (this nnlock reads version ${KEY_FILE_VERSION})`);
  if (typeof o.kind !== 'string') throw corrupt(where, '"kind" is missing');
  let kind: ReturnType<typeof assertKind>;
  try {
    kind = assertKind(o.kind);
  } catch (e) {
    throw corrupt(where, (e as Error).message);
  }
  // Every field is checked before any work: deriving a k = 16 key costs up to seconds, so a file
  // that cannot give a usable key must fail here, not after the derivation.
  if (typeof o.k !== 'number' || !Number.isInteger(o.k) || o.k < 1 || o.k > MAX_BLOCK_SIZE) throw corrupt(where, `"k" must be an integer in 1..${MAX_BLOCK_SIZE}, got ${JSON.stringify(o.k)}`);
  if (typeof o.channels !== 'number' || !Number.isInteger(o.channels) || o.channels < 1 || o.channels > MAX_CHANNELS) {
    throw corrupt(where, `"channels" must be an integer in 1..${MAX_CHANNELS}, got ${JSON.stringify(o.channels)}`);
  }
  if (typeof o.shuffle !== 'boolean') throw corrupt(where, `"shuffle" must be true or false, got ${JSON.stringify(o.shuffle)}`);
  if (typeof o.maxCondition !== 'number' || !(o.maxCondition >= 1)) throw corrupt(where, `"maxCondition" must be a number ≥ 1, got ${JSON.stringify(o.maxCondition)}`);
  if (o.secret !== undefined) {
    // The secret form is derived on load: the limit must be one a derivation can meet.
    if (!(o.maxCondition <= MAX_MAX_CONDITION)) throw corrupt(where, `"maxCondition" must be at most ${MAX_MAX_CONDITION} to derive a key, got ${JSON.stringify(o.maxCondition)}`);
    const floor = minMaxCondition(kind, o.k);
    if (o.maxCondition < floor) throw corrupt(where, `"maxCondition" ${o.maxCondition} is below ${floor}, the least a ${kind} key with k=${o.k} can meet: no key could be derived`);
  }
  if (typeof o.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(o.fingerprint)) throw corrupt(where, '"fingerprint" must be 64 hex digits');
  const hasSecret = o.secret !== undefined;
  const hasMatrices = o.matrices !== undefined;
  if (hasSecret === hasMatrices) throw corrupt(where, 'give exactly one of "secret" and "matrices"');
  if (hasSecret && (typeof o.secret !== 'string' || !/^[0-9a-f]{64}$/i.test(o.secret.trim()))) throw corrupt(where, '"secret" must be 64 hex digits');
  if (hasMatrices) {
    const entries = o.k ** 4;
    if (!Array.isArray(o.matrices)) throw corrupt(where, '"matrices" must be an array of number arrays');
    if (o.matrices.length !== o.channels) throw corrupt(where, `${o.matrices.length} matrices for ${o.channels} channels`);
    o.matrices.forEach((m: unknown, c: number) => {
      if (!Array.isArray(m) || m.length !== entries || !m.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw corrupt(where, `"matrices"[${c}] must be ${entries} finite numbers (k²×k² for k=${o.k})`);
      }
    });
    if (o.shuffle && (typeof o.shuffleKey !== 'string' || !/^[0-9a-f]{64}$/i.test(o.shuffleKey.trim()))) throw corrupt(where, '"shuffle" is true but "shuffleKey" is not 64 hex digits');
    if (!o.shuffle && o.shuffleKey !== undefined) throw corrupt(where, '"shuffleKey" is given but "shuffle" is false');
  }
  let key: CipherKey;
  try {
    if (hasSecret) {
      if (typeof o.secret !== 'string') throw corrupt(where, '"secret" must be a hex string');
      key = deriveKey(parseSecretHex(o.secret), { kind, k: o.k, channels: o.channels, shuffle: o.shuffle, maxCondition: o.maxCondition });
    } else {
      if (!Array.isArray(o.matrices) || !o.matrices.every((m) => Array.isArray(m) && m.every((v) => typeof v === 'number'))) {
        throw corrupt(where, '"matrices" must be an array of number arrays');
      }
      if (o.matrices.length !== o.channels) throw corrupt(where, `${o.matrices.length} matrices for ${o.channels} channels`);
      let shuffleKey: Uint8Array | null = null;
      if (o.shuffle) {
        if (typeof o.shuffleKey !== 'string') throw corrupt(where, '"shuffle" is true but "shuffleKey" is missing');
        shuffleKey = parseSecretHex(o.shuffleKey);
      }
      key = keyFromMatrices(kind, o.k, o.matrices as number[][], { shuffleKey, maxCondition: o.maxCondition });
    }
  } catch (e) {
    if (e instanceof CipherKeyError && !e.message.startsWith('corrupt key file')) throw corrupt(where, e.message);
    throw e;
  }
  if (key.fingerprint !== o.fingerprint) {
    throw corrupt(where, 'fingerprint mismatch: the key material does not match the stored fingerprint (the file was edited or damaged)');
  }
  return key;
}

/** Reads a key file: a regular file of at most MAX_KEY_FILE_BYTES, validated before any derivation. */
export async function loadKey(path: string): Promise<CipherKey> {
  let text: string;
  try {
    text = await readRegularTextFile(path, { what: 'key file', maxBytes: MAX_KEY_FILE_BYTES });
  } catch (e) {
    if (e instanceof FileInputError) throw new CipherKeyError(e.message);
    throw e;
  }
  return parseKey(text, displayPath(path));
}
