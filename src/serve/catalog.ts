// The served models: what each is (classifier, denoiser, encrypted classifier), its tiers and input
// spec, and the tier weights the workers hold. A protected model's key file, when the config gives
// one, is read once at start: each tier to serve is unlocked in memory and only the kernels it puts
// back go to the workers (every other tensor is there once, from the published weights). A tier
// a client unlocks with its own token is unlocked once too and cached by tier; the token is used
// for that unlock and dropped. The file is verified with every check once, at the first unlock
// (src/protect/verified.ts); each unlock then checks only its key and the sections it opens.
import { createHash } from 'node:crypto';
import type { SafetensorsFile, TensorEntry } from '../io/safetensors.ts';
import { readModelFile, classNamesOf, architectureOf, requireArchitecture } from '../models/load.ts';
import { modelSpec } from '../models/registry.ts';
import { CIFAR10_CLASSES } from '../data/cifar10.ts';
import { normalisationFrom } from '../data/normalisation.ts';
import { type ProtectHeader, type RestoredKernels, type VerifiedProtected, inspectProtected, isProtected, readKeyToken, verifyForUnlock } from '../protect/index.ts';
import { KeyError, decodeKeyToken, verifyKeyCheck } from '../crypto/index.ts';
import { ER_MODEL_FORMAT, type ErModelSpec } from '../er/model-file.ts';
import type { ModelConfig } from './config.ts';
import type { InferencePool } from './pool.ts';
import type { TierLayer } from './worker-protocol.ts';
import { pixelTable } from './pixel-table.ts';
import { ServeError } from './errors.ts';

// What GET /v1/models says of a model: the wire type the page and `nnlock client` read, defined
// once beside them (a type-only import: nothing of the browser code loads here).
import type { ModelInfo, ModelKind } from '../web/browser/api.ts';
export type { ModelInfo, ModelKind };

/** Most tier tokens a served model remembers as checked (by their SHA-256). */
const CHECKED_TOKENS = 1024;

export class ServedModel {
  readonly info: ModelInfo;
  /** The model's top tier M (0 when it is not protected). */
  readonly topTier: number;
  /** Resize uploads to the input size. */
  readonly resize: boolean;
  /** Tiers the workers hold. */
  private readonly ready = new Set<number>([0]);
  private readonly unlocking = new Map<number, Promise<void>>();
  /** The owner's key (from the config's key file) and its tier: unlocks what is not held yet. */
  private owner: { token: string; tier: number } | null = null;
  /** Tier tokens that passed tokenTier's check: SHA-256 (base64) → tier, least recently used first. */
  private readonly checkedTokens = new Map<string, number>();
  /**
   * The published file verified with every check (the owner's signature, the digest of all its
   * weights), once, when the first tier is unlocked: later tiers only check their key and sections.
   * The server never changes the file's bytes, which is what the handle relies on.
   */
  private verified: VerifiedProtected | null = null;

  constructor(
    readonly name: string,
    info: Omit<ModelInfo, 'name'>,
    private readonly pool: InferencePool,
    private readonly file: SafetensorsFile,
    readonly header: ProtectHeader | null,
    o: { resize: boolean },
  ) {
    this.info = { name, ...info };
    this.topTier = header?.tiers ?? 0;
    this.resize = o.resize;
  }

  get task(): 'classify' | 'denoise' {
    return this.info.kind === 'denoiser' ? 'denoise' : 'classify';
  }

  /** Whether the workers hold tier m now. */
  holds(tier: number): boolean {
    return this.ready.has(tier);
  }

  /**
   * The tier a client's tier token gives (its own tier), checked against the model: a token of
   * another model, a damaged one or an unprotected model fail with a 401.
   */
  tokenTier(token: string): number {
    if (!this.header) throw new ServeError('unauthorized', `model ${this.name} is not protected: it has no tier tokens`);
    // A client sends its token with every request; checking it (decode, checksum, key check) was
    // about 7 % of the main thread's CPU per request. Tokens that passed are remembered by their
    // SHA-256 (never the token itself), most recently used last, at most CHECKED_TOKENS of them.
    const digest = createHash('sha256').update(token).digest('base64');
    const known = this.checkedTokens.get(digest);
    if (known !== undefined) {
      this.checkedTokens.delete(digest);
      this.checkedTokens.set(digest, known);
      return known;
    }
    const tier = this.checkToken(token);
    if (this.checkedTokens.size >= CHECKED_TOKENS) this.checkedTokens.delete(this.checkedTokens.keys().next().value!);
    this.checkedTokens.set(digest, tier);
    return tier;
  }

  private checkToken(token: string): number {
    const header = this.header!;
    let decoded: ReturnType<typeof decodeKeyToken>;
    try {
      decoded = decodeKeyToken(token);
    } catch {
      throw new ServeError('unauthorized', 'malformed tier token');
    }
    try {
      if (decoded.tier < 1 || decoded.tier > header.tiers) throw new ServeError('unauthorized', `wrong key: a tier-${decoded.tier} token, but model ${this.name} has tiers 1..${header.tiers}`);
      verifyKeyCheck(decoded.key, new Uint8Array(Buffer.from(header.modelId, 'hex')), decoded.tier, header.keyChecks[decoded.tier - 1]);
      return decoded.tier;
    } catch (e) {
      if (e instanceof KeyError) throw new ServeError('unauthorized', `wrong key: the token is not a key of model ${this.name}`);
      throw e;
    } finally {
      decoded.key.fill(0);
    }
  }

  /**
   * Makes sure the workers hold tier m, unlocking it with `token` (a key of tier ≥ m) when they do
   * not. Concurrent calls for one tier share one unlock.
   */
  async ensureTier(tier: number, clientToken?: string): Promise<void> {
    if (this.ready.has(tier)) return;
    let p = this.unlocking.get(tier);
    if (!p) {
      const token = this.owner && this.owner.tier >= tier ? this.owner.token : clientToken;
      if (token === undefined) throw new ServeError('forbidden-tier', `tier ${tier} of model ${this.name} is not unlocked on this server: present a tier token of tier ≥ ${tier}`);
      p = this.unlockTier(tier, token).finally(() => this.unlocking.delete(tier));
      this.unlocking.set(tier, p);
    }
    await p;
  }

  /** Keeps the key file's token (the server holds the key file) to unlock tiers on first use. */
  holdOwnerKey(token: string): number {
    const tier = this.tokenTier(token);
    this.owner = { token, tier };
    return tier;
  }

  private async unlockTier(tier: number, token: string): Promise<void> {
    // A file that fails verification is not kept: it fails again at the next try.
    this.verified ??= verifyForUnlock(this.file);
    // Only the kernels the tier puts back, with their published values: no copy of any layer.
    const layers = this.verified.restoredKernels(token, { tier }).map((k) => tierLayer(k, this.file.tensors.get(k.name)!));
    await this.pool.addTier(this.name, tier, layers);
    this.ready.add(tier);
  }
}

/** A tier's kernels of one conv weight [A, B, kh, kw] as the workers take them. */
function tierLayer(k: RestoredKernels, weight: TensorEntry): TierLayer {
  const [, , kh, kw] = weight.shape;
  const entry = (data: Uint8Array): TensorEntry => ({ dtype: weight.dtype, shape: [k.kernels.length, kh * kw], data });
  return { name: k.name, kernels: Array.from(k.kernels), restored: entry(k.restored), published: entry(k.published) };
}

const CIFAR_INPUT = { height: 32, width: 32 };

function classNames(config: ModelConfig, metadata: Record<string, string>, count: number): string[] {
  const names = config.classes ?? classNamesOf(metadata) ?? (count === 10 ? [...CIFAR10_CLASSES] : Array.from({ length: count }, (_, i) => String(i)));
  if (names.length !== count) throw new Error(`model ${config.name}: ${names.length} class names for ${count} classes`);
  return names;
}

/** Outputs of a classifier's head: the shape of its last 2-D weight. */
function headSize(file: SafetensorsFile): number {
  let out = 0;
  for (const e of file.tensors.values()) if (e.shape.length === 2) out = e.shape[0];
  if (!out) throw new Error('cannot tell the number of classes: the weights have no linear layer');
  return out;
}

/**
 * Reads one configured model, loads it into every worker and, with a key file, unlocks the tiers
 * to serve. Throws with the model's name on any problem (a missing file, a wrong key file).
 */
export async function loadServedModel(config: ModelConfig, pool: InferencePool): Promise<ServedModel> {
  const where = `model ${config.name} (${config.weights})`;
  let file: SafetensorsFile;
  try {
    file = await readModelFile(config.weights);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
  const tensors = [...file.tensors.entries()];
  if (file.metadata.format === ER_MODEL_FORMAT) {
    if (config.keys) throw new Error(`${where}: an Encryption-Robust model is not protected; it takes no key file`);
    const m = file.metadata;
    const spec: ErModelSpec = { architecture: m.architecture, adaptation: m.adaptation as ErModelSpec['adaptation'], k: Number(m.k), channels: Number(m.channels), numClasses: Number(m.numClasses) };
    await pool.load({ name: config.name, build: { kind: 'er', spec }, task: 'classify', tensors, pixelTable: pixelTable(null, spec.channels) });
    const plaintext = m.kind === 'none';
    return new ServedModel(
      config.name,
      {
        kind: plaintext ? 'classifier' : 'encrypted-classifier',
        tiers: [0],
        input: { channels: spec.channels, ...(config.input ?? CIFAR_INPUT) },
        classes: classNames(config, m, spec.numClasses),
        cipher: plaintext ? null : { kind: m.kind, block: spec.k, channels: spec.channels, keyId: m.keyId },
      },
      pool,
      file,
      null,
      { resize: config.resize ?? false },
    );
  }
  const header = isProtected(file) ? inspectProtected(file) : null;
  if (config.keys && !header) throw new Error(`${where} is not protected: it takes no key file`);
  const spec = requireArchitecture(architectureOf(config.arch, file.metadata), where, 'serving it');
  const classifier = spec.task === 'classification';
  const count = classifier ? headSize(file) : 0;
  const normalisation = classifier ? normalisationFrom(file.metadata) : null;
  await pool.load({
    name: config.name,
    build: { kind: 'registry', architecture: spec.name, numClasses: classifier ? count : undefined },
    task: classifier ? 'classify' : 'denoise',
    tensors,
    pixelTable: classifier ? pixelTable(normalisation, spec.inputChannels) : undefined,
  });
  const M = header?.tiers ?? 0;
  const served = new ServedModel(
    config.name,
    {
      kind: classifier ? 'classifier' : 'denoiser',
      tiers: Array.from({ length: M + 1 }, (_, i) => i),
      input: classifier ? { channels: spec.inputChannels, ...(config.input ?? CIFAR_INPUT) } : { channels: modelSpec(spec.name).inputChannels, height: null, width: null },
      classes: classifier ? classNames(config, file.metadata, count) : null,
      cipher: null,
    },
    pool,
    file,
    header,
    { resize: config.resize ?? false },
  );
  if (config.keys) {
    let token: string;
    try {
      token = await readKeyToken(config.keys);
    } catch (e) {
      throw new Error(`${where}: key file ${config.keys}: ${(e as Error).message}`, { cause: e });
    }
    let reach: number;
    try {
      reach = served.holdOwnerKey(token);
    } catch (e) {
      throw new Error(`${where}: the key file ${config.keys} does not fit: ${(e as Error).message}`);
    }
    const tiers = config.tiers ?? Array.from({ length: reach }, (_, i) => i + 1);
    for (const t of tiers) {
      if (t > M) throw new Error(`${where}: tier ${t} does not exist (the model has tiers 0..${M})`);
      if (t > reach) throw new Error(`${where}: the key file reaches tier ${reach}, not ${t}`);
      if (t > 0) await served.ensureTier(t, token);
    }
  } else if (config.tiers?.some((t) => t > 0)) {
    throw new Error(`${where}: tiers above 0 need the model's key file ("keys")`);
  }
  return served;
}
