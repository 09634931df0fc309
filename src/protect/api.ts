// The protection feature as functions: protect a model, unlock it with a tier token, derive lower
// tiers' tokens, score kernels. This is what `nnlock protect <verb>`, the experiments and the
// benches call; the files beside it are the parts (selection, decoys, tiers, format, sealing).
//
// Keys cross this API only as tokens (`nnlock1-t<m>-…` strings, src/crypto/tier-keys.ts): the
// master key's bytes are made, used and wiped (fill(0)) inside protectModel, on success and on
// failure alike, so no caller ever holds raw key material it would have to wipe itself.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Module } from '../nn/index.ts';
import { parseDevice } from '../tensor/index.ts';
import type { BatchSource, TaskKind } from '../data/batch-source.ts';
import { type SafetensorsFile, readSafetensors } from '../io/safetensors.ts';
import { modelSpec } from '../models/registry.ts';
import { loadWeightsSync } from '../models/weights.ts';
import { KeyError, decodeKeyToken, encodeKeyToken, formatSigner, ownerSigningKey, parseSigner, sameSigner, tierKey, verifyKeyCheck } from '../crypto/index.ts';
import { type LayerDiscovery, type ModuleTypes, architectureModuleTypes, discoverLayers, moduleTypesOf, resolveLayers } from './layers.ts';
import { type ImportanceMap, type Strategy, assertStrategy } from './importance/scores.ts';
import type { ImportanceFile } from './importance/io.ts';
import { type ComputeImportanceOptions, type ImportanceStep, computeImportance, isWeightOnly } from './importance/compute.ts';
import type { CalibrationResult } from './tiers.ts';
import type { DecoyMode } from './decoys.ts';
import { type ProtectMode, type SelectionMode, frontLayers } from './selection.ts';
import { PROTECT_METADATA_KEY, ProtectError, type ProtectHeader, weightsDigest } from './format.ts';
import { type LayerProgress, type LayerSummary, protect, tierTokens } from './protect.ts';
import { type UnlockResult, type Verification, applyUnlock, inspectProtected, openUnlock, unlock, verifyProtected } from './unlock.ts';
import { type WriteProtectedOptions, writeProtectedPair } from './write.ts';
import { type ReadProtected, readProtectedFile } from './read.ts';
import { type VerifiedProtected, verifyForUnlock } from './verified.ts';

export type { WriteProtectedOptions } from './write.ts';

/** A model to protect or unlock: a safetensors path, or a file already in memory. */
export type ModelSource = string | SafetensorsFile;

async function fileOf(source: ModelSource): Promise<SafetensorsFile> {
  if (typeof source !== 'string') return source;
  if (!existsSync(source)) throw new Error(`${source}: no such file`);
  return readSafetensors(source);
}

function isImportanceFile(x: ImportanceMap | ImportanceFile): x is ImportanceFile {
  return !(x instanceof Map);
}

export interface ProtectModelOptions {
  /**
   * Which kernels matter: a strategy name computed now (default 'l1'), or scores computed before
   * (computeImportance's result or loadImportance's, checked to be of these weights; or a bare
   * ImportanceMap). Saved scores of some layers only protect those layers unless `layers` says.
   */
  importance?: Strategy | ImportanceMap | ImportanceFile;
  /** Fraction of each layer's kernels to protect: ⌊N·ratio⌋ + 1 of N (default 0.08; 1 = every kernel). */
  ratio?: number;
  /** Conv layers to protect (weight or module names); default every conv layer. */
  layers?: readonly string[];
  /**
   * 'sparse' (default: `ratio` of each of `layers`) or 'dense-front' (every kernel of the first
   * layers holding `frontShare` of the conv weights: no head start for a thief who fine-tunes; see
   * ProtectMode). 'dense-front' picks the layers and the ratio itself: give neither.
   */
  mode?: ProtectMode;
  /** 'dense-front': the share of the conv weights protected (default 0.25). */
  frontShare?: number;
  /** Number of tiers M (default 3; with `targets`, targets.length + 1). */
  tiers?: number;
  /** f_1..f_M: share of each layer's selected kernels tier m restores, rising to 1. */
  fractions?: readonly number[];
  /**
   * Calibrate the tiers instead: the metric (higher is better) tiers 1..M−1 must reach, measured
   * by `evaluate` on the partially restored model. Exclusive with `fractions`.
   */
  targets?: readonly number[];
  /** The owner's metric of a model (accuracy, PSNR), for `targets`. */
  evaluate?: (model: Module) => Promise<number> | number;
  /**
   * Architecture name (resnet20, vgg16-bn, dncnn-17), recorded in the protected file. When given,
   * the weights must load into it; it builds the model that pss, taylor and `targets` run, unless
   * `model` is given. Default: the file's `architecture` metadata.
   */
  architecture?: string;
  /**
   * A model of the architecture to run (its weights are overwritten), e.g. a user's own model as a
   * TorchScriptModel with these weights loaded; default one built here. Its module types decide
   * the conv layers (see discoverLayers).
   */
  model?: Module;
  /** The model's module types, when no model is given (default: those of `model` or of the architecture built). */
  modules?: ModuleTypes;
  /** Training data for the pss and taylor strategies. */
  data?: BatchSource;
  /** Where pss, taylor and calibration run the model: 'cpu' (default), 'cuda', 'cuda:i'. */
  device?: string;
  /** The model's task (default: the architecture's). */
  task?: TaskKind;
  /** Seed of the random strategy and of PSS (default 0). */
  seed?: number;
  /** Settings of a strategy computed now: pss, batches (taylor), settings. */
  strategy?: Pick<ComputeImportanceOptions, 'pss' | 'batches'>;
  /** Use saved scores computed on other weights (refused by default). */
  allowOtherImportance?: boolean;
  /**
   * The owner's master key as a token of tier M, to protect reproducibly (experiments, tests);
   * default a fresh random key. A real model should always get a fresh key.
   */
  masterToken?: string;
  /** 16 bytes (or 32 hex characters) naming the model; default random. */
  modelId?: Uint8Array | string;
  /** How decoys are drawn (decoys.ts): 'matched' (the default), 'resample', 'context', 'joint' or 'position' (0.1's). */
  decoys?: DecoyMode;
  /** How kernels are picked from the ranking: 'top' (default) or 'balanced' across rows and columns (selection.ts). */
  selection?: SelectionMode;
  /** After each layer's decoys are drawn. */
  onLayer?: (info: LayerProgress) => void;
  /** After each PSS step. */
  onStep?: (step: ImportanceStep) => void;
  /** After each calibration evaluation: the fraction restored and the metric it gave. */
  onEvaluate?: (fraction: number, metric: number) => void;
}

/** A protected model in memory, with its keys as tokens. */
export interface ProtectedModel {
  /** The protected file: the original tensors with decoys, the sealed tiers in its metadata. */
  file: SafetensorsFile;
  /** Its public header. */
  header: ProtectHeader;
  /** Key tokens of tiers 1..M (tokens[m − 1]); the last is the master key. */
  tokens: string[];
  /** f_1..f_M. */
  fractions: number[];
  /** Per protected layer: kernels, selected, restored at tiers 0..M. */
  layers: LayerSummary[];
  /** The scores' strategy, when known. */
  strategy?: Strategy;
  calibration?: CalibrationResult;
  /** How the conv layers were found (by module type, or by name and shape) and what was skipped, with why. */
  discovery: LayerDiscovery;
  /**
   * Writes the model and its key file as a pair (src/protect/write.ts): both change or neither,
   * also over an existing pair with force. The key file goes outside the model's folder unless
   * `keys` says where. Refuses existing files without force. Resolves to both paths.
   */
  write(path: string, options?: WriteProtectedOptions): Promise<{ model: string; keys: string }>;
}

/** Whether a file is a protected model (it has the protection header). */
export function isProtected(file: SafetensorsFile): boolean {
  return file.metadata[PROTECT_METADATA_KEY] !== undefined;
}

/** Builds the architecture and loads the weights strictly: a wrong architecture fails here. */
function buildModel(architecture: string, file: SafetensorsFile): Module {
  const model = modelSpec(architecture).create();
  try {
    loadWeightsSync(model, file, { source: `the weights (as ${architecture})` });
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  return model;
}

function modelIdBytes(id: Uint8Array | string | undefined): Uint8Array {
  if (id === undefined) return new Uint8Array(randomBytes(16));
  const bytes = typeof id === 'string' ? new Uint8Array(Buffer.from(id, 'hex')) : new Uint8Array(id);
  if (bytes.length !== 16) throw new RangeError('modelId must be 16 bytes (32 hex characters)');
  return bytes;
}

/**
 * Protects a model with tiered keys: scores its kernels (or takes saved scores), replaces the
 * ⌊N·ratio⌋ + 1 most important kernels of each conv layer with decoys, and seals the originals in
 * M nested tiers. Returns the protected file in memory and the tier keys as tokens; `write()` puts
 * both on disk. The master key never leaves this function as bytes.
 */
export async function protectModel(source: ModelSource, options: ProtectModelOptions = {}): Promise<ProtectedModel> {
  const o = options;
  const device = parseDevice(o.device ?? 'cpu');
  const file = await fileOf(source);
  if (isProtected(file)) throw new ProtectError('ALREADY_PROTECTED', `${typeof source === 'string' ? source : 'this model'} is already protected: protect the original model`);
  if (o.fractions && o.targets) throw new RangeError('give tier fractions or calibration targets, not both');
  const architecture = o.architecture ?? file.metadata.architecture;
  const importance = o.importance ?? 'l1';
  const saved = typeof importance === 'string' ? undefined : importance;
  const strategy = typeof importance === 'string' ? assertStrategy(importance) : isImportanceFile(importance) ? importance.strategy : undefined;
  const needsModel = (typeof importance === 'string' && !isWeightOnly(strategy!)) || o.targets !== undefined;
  if (needsModel && !o.model && !architecture) {
    throw new Error(
      `${o.targets ? 'calibrating to targets' : `strategy ${strategy}`} runs the model, and the file does not say its architecture: give it (e.g. resnet20, vgg16-bn, dncnn-17), or your own model as a TorchScript module`,
    );
  }
  // An architecture named explicitly must fit, even when nothing runs the model.
  const model = o.model ?? (needsModel || o.architecture ? buildModel(architecture!, file) : undefined);
  try {
    if (needsModel) model?.to(device);
    const modules = o.modules ?? (model ? moduleTypesOf(model) : architectureModuleTypes(architecture));
    const discovery = discoverLayers(file.tensors, modules);
    const dense = (o.mode ?? 'sparse') === 'dense-front';
    if (dense && (o.layers !== undefined || o.ratio !== undefined)) throw new RangeError("mode 'dense-front' chooses the layers and the ratio itself: give neither");
    if (!dense && o.frontShare !== undefined) throw new RangeError("frontShare is for mode 'dense-front'");
    const named = resolveLayers(file.tensors, o.layers ?? (saved ? [...(isImportanceFile(saved) ? saved.scores : saved).keys()] : undefined), modules);
    const layers = (dense ? frontLayers(named, o.frontShare) : named).map((l) => l.name);
    let scores: ImportanceMap;
    if (saved) {
      if (isImportanceFile(saved)) {
        const digest = Buffer.from(weightsDigest(file.tensors)).toString('hex');
        if (saved.source && saved.source !== digest && !o.allowOtherImportance) throw new Error("the importance scores were computed on other weights than this model's");
        scores = saved.scores;
      } else scores = saved;
    } else {
      const task = o.task ?? (architecture && needsModel ? modelSpec(architecture).task : undefined);
      const computed = await computeImportance(strategy!, isWeightOnly(strategy!) ? file : model!, o.data, {
        ...o.strategy,
        layers,
        modules,
        seed: o.seed,
        task,
        architecture,
        device,
        onStep: o.onStep,
      });
      scores = computed.scores;
    }
    if (o.targets && !o.evaluate) throw new Error('calibrating to targets needs an evaluate function (the metric of a model)');
    const key = o.masterToken !== undefined ? decodeKeyToken(o.masterToken) : undefined;
    if (key && o.tiers !== undefined && key.tier !== o.tiers) {
      key.key.fill(0);
      throw new RangeError(`the master token is of tier ${key.tier}, but ${o.tiers} tiers were asked for`);
    }
    let r: Awaited<ReturnType<typeof protect>> | undefined;
    try {
      r = await protect(file, {
        importance: scores,
        ratio: dense ? 1 : (o.ratio ?? 0.08),
        layers,
        modules,
        tiers: o.tiers ?? key?.tier,
        fractions: o.fractions,
        architecture,
        masterKey: key?.key,
        modelId: modelIdBytes(o.modelId),
        decoys: o.decoys,
        selection: o.selection,
        onLayer: o.onLayer,
        calibrate: o.targets ? { targets: o.targets, model: model!, evaluate: o.evaluate!, onEvaluate: o.onEvaluate } : undefined,
      });
      if (key && key.tier !== r.header.tiers) throw new RangeError(`the master token is of tier ${key.tier}, but the model has ${r.header.tiers} tiers`);
      const tokens = tierTokens(r.masterKey, r.modelId, r.header.tiers);
      const { file: out, header, fractions, layers: summary, calibration } = r;
      return {
        file: out,
        header,
        tokens,
        fractions,
        layers: summary,
        calibration,
        strategy,
        discovery,
        write: (path, w) => writeProtected(path, { file: out, header, tokens }, w),
      };
    } finally {
      r?.masterKey.fill(0);
      key?.key.fill(0);
    }
  } finally {
    if (model && !o.model) model.dispose();
  }
}

/** Writes a protected model and its key file (see ProtectedModel.write and src/protect/write.ts). */
export async function writeProtected(path: string, p: Pick<ProtectedModel, 'file' | 'header' | 'tokens'>, options: WriteProtectedOptions = {}): Promise<{ model: string; keys: string }> {
  return writeProtectedPair(path, p, options);
}

export interface UnlockModelOptions {
  /** Tier to restore (default: the token's tier; 0 checks the key and restores nothing). */
  tier?: number;
  /** A model to load the restored weights into (strictly), instead of returning them. */
  into?: Module;
  /**
   * Pin the owner's signer, `ed25519:<64 hex>` (as `protect info` shows it): a model signed by
   * anyone else, or unsigned, is refused. A token that carries the signer pins it already (the
   * tokens protectModel and deriveKeys make do).
   */
  expectedSigner?: string;
  /**
   * Recompute the digest of all the published weights (default true). false only for a file this
   * process verified already (verifyModel) and holds in memory since: unlock then touches only the
   * sections it opens and the kernels it restores. openProtected does the same with a handle that
   * records the verification, so that it cannot be skipped by mistake on an unverified file.
   */
  verifyWeights?: boolean;
}

/** What an unlock reached, and what it verified. */
export interface UnlockSummary {
  /** The tier restored. */
  tier: number;
  /** The model's tier count M. */
  tiers: number;
  /** The token's tier. */
  keyTier: number;
  /** Kernels put back. */
  restored: number;
  header: ProtectHeader;
  /** The file's format version: 1 is unsigned (nnlock 0.2 and before), 2 is signed by the owner. */
  version: number;
  /** Whether the owner's signature was checked and holds (false: a version 1 file, unsigned). */
  signed: boolean;
  /** The owner's signer, `ed25519:<64 hex>` (signed files). */
  signer?: string;
  /** Whether a signer was pinned (expectedSigner or the token) and matched. */
  signerPinned: boolean;
  /** Whether the digest of all published weights was recomputed. */
  weightsVerified: boolean;
}

/** An unlock's result with the restored file (original tensors up to the tier, original metadata). */
export interface UnlockedModel extends UnlockSummary {
  file: SafetensorsFile;
}

/**
 * Checks a tier token against a protected model and restores its tier in memory (nothing is
 * written). With `into`, the restored weights are loaded into that model and only the summary
 * comes back, so no plaintext copy of the weights outlives the call; without it, the restored
 * file is returned too. Wrong keys, too high a tier and modified files fail before anything is
 * restored (KeyError, ProtectError).
 */
export async function unlockModel(file: ModelSource, token: string, options: UnlockModelOptions & { into: Module }): Promise<UnlockSummary>;
export async function unlockModel(file: ModelSource, token: string, options?: Omit<UnlockModelOptions, 'into'>): Promise<UnlockedModel>;
export async function unlockModel(file: ModelSource, token: string, options: UnlockModelOptions = {}): Promise<UnlockSummary | UnlockedModel> {
  // A file read here is ours alone: its kernels are restored in place, without copying the layers,
  // and its weights are hashed while they are read (read.ts), not in a second pass.
  // The sections are opened (every check but the weights digest) while the weights are still read.
  const unlockOptions = { tier: options.tier, expectedSigner: options.expectedSigner, verifyWeights: options.verifyWeights, inPlace: typeof file === 'string' };
  let r: UnlockResult;
  if (typeof file === 'string') {
    if (!existsSync(file)) throw new Error(`${file}: no such file`);
    const read = await readProtectedFile(file, {
      hash: options.verifyWeights !== false,
      prepare: (f) => openUnlock(f, token, unlockOptions, 'later'),
      discard: (o) => o.discard(),
      settled: (o, name, f) => o.restoreLayerInPlace(f, name),
    });
    r = applyUnlock(read.file, read.prepared!, unlockOptions, read.hashed);
  } else r = unlock(file, token, unlockOptions);
  const { tier, tiers, keyTier, restored, header, version, signed, signer, signerPinned, weightsVerified } = r;
  const summary: UnlockSummary = { tier, tiers, keyTier, restored, header, version, signed, signerPinned, weightsVerified, ...(signer ? { signer } : {}) };
  if (!options.into) return { ...summary, file: r.file };
  loadWeightsSync(options.into, r.file, { source: 'the unlocked weights' });
  return summary;
}

/** What verifyModel established: see Verification in unlock.ts. */
export type ModelVerification = Verification & { header: ProtectHeader };

/**
 * Checks a protected model without a key: the owner's signature over its header, metadata and
 * sections (format version 2), the pinned signer, and the digest of all its published weights. A
 * version 1 file (unsigned) passes with `signed: false`, unless a signer is pinned.
 */
export async function verifyModel(file: ModelSource, options: Pick<UnlockModelOptions, 'expectedSigner'> = {}): Promise<ModelVerification> {
  const read = typeof file === 'string' ? await readProtected(file, true) : { file, hashed: undefined };
  return verifyProtected(read.file, { expectedSigner: options.expectedSigner }, read.hashed);
}

/**
 * Opens a protected model to unlock it, perhaps many times, as keys arrive (a service, an app that
 * loads its model at start): every check a key does not need runs now, once (the header, the
 * owner's signature, the pinned signer, the digest of all published weights, each sealed section
 * against its signed digest; from a path, the weights hashed as they are read), and the handle's
 * `unlock(token, { tier, inPlace })` then only checks the key and the AEAD tag of each section it
 * opens before putting kernels back. The handle holds the file's buffers: see src/protect/verified.ts for what
 * the caller must not change afterwards. A file read from a path is the handle's alone.
 */
export async function openProtected(file: ModelSource, options: Pick<UnlockModelOptions, 'expectedSigner'> = {}): Promise<VerifiedProtected> {
  const read = typeof file === 'string' ? await readProtected(file, true) : { file, hashed: undefined };
  return verifyForUnlock(read.file, { expectedSigner: options.expectedSigner }, read.hashed);
}

/** A protected model read from a path (see read.ts), with "no such file" for a missing one. */
async function readProtected(path: string, hash: boolean): Promise<ReadProtected> {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  return readProtectedFile(path, { hash });
}

/** One tier's token. */
export interface TierToken {
  tier: number;
  token: string;
}

/**
 * Tokens of lower tiers from a token of a protected model, down the one-way chain (a token never
 * gives a higher tier). The chain is salted by the model's id, so the model (its file or header)
 * is needed; the token is checked against it first. Default: every tier from the token's down to
 * 1. Ascending by tier.
 */
export async function deriveKeys(model: ModelSource | ProtectHeader, token: string, tiers?: readonly number[]): Promise<TierToken[]> {
  const header = typeof model === 'object' && 'keyChecks' in model ? model : inspectProtected(await fileOf(model));
  const key = decodeKeyToken(token);
  try {
    const modelId = new Uint8Array(Buffer.from(header.modelId, 'hex'));
    if (key.tier < 1 || key.tier > header.tiers) throw new KeyError('WRONG_KEY', `wrong key: it is a tier-${key.tier} key, but this model has tiers 1..${header.tiers}`);
    verifyKeyCheck(key.key, modelId, key.tier, header.keyChecks[key.tier - 1]);
    const signer = header.signer ? parseSigner(header.signer) : undefined;
    if (key.signer && (!signer || !sameSigner(key.signer, signer))) {
      throw new ProtectError(
        signer ? 'WRONG_SIGNER' : 'UNSIGNED',
        `the model is ${header.signer ? `signed by ${header.signer}` : 'unsigned'}, not by the owner ${formatSigner(key.signer)} this key names`,
      );
    }
    // The master key derives the signer: a header that names another is not the owner's file.
    if (signer && key.tier === header.tiers && !sameSigner(ownerSigningKey(key.key, modelId, header.tiers).publicKey, signer)) {
      throw new ProtectError('WRONG_SIGNER', `the model says it is signed by ${header.signer}, but this master key's signer is another: it is not your file`);
    }
    const wanted = [...(tiers ?? Array.from({ length: key.tier }, (_, i) => i + 1))].sort((a, b) => a - b);
    return wanted.map((tier) => {
      if (!Number.isInteger(tier) || tier < 1) throw new RangeError(`tier must be an integer ≥ 1, got ${tier}`);
      const k = tierKey(key.key, key.tier, tier, modelId);
      try {
        // Lower tiers' tokens carry the signer, so their holders pin the owner's model.
        return { tier, token: encodeKeyToken({ tier, key: k, ...(signer ? { signer } : {}) }) };
      } finally {
        k.fill(0);
      }
    });
  } finally {
    key.key.fill(0);
  }
}
