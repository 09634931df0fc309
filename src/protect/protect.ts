// Protecting a model: select kernels by importance, put DPRM decoys in their place, split the
// originals into nested tiers, seal each tier under its own key, and publish the result as an
// ordinary safetensors file (format.ts). The owner keeps the master key (the top tier's key);
// every lower tier's key derives from it.
import { randomBytes } from 'node:crypto';
import type { SafetensorsFile, TensorEntry } from '../io/safetensors.ts';
import { loadWeightsSync } from '../models/weights.ts';
import { KEY_BYTES, encodeKeyToken, generateMasterKey, ownerSigningKey, tierKey } from '../crypto/index.ts';
import type { Module } from '../nn/index.ts';
import { type ConvLayer, type ModuleTypes, copyBytes, resolveLayers } from './layers.ts';
import type { ImportanceMap } from './importance/scores.ts';
import { type LayerSelection, type SelectionMode, selectKernels } from './selection.ts';
import { type DecoyMode, decoyLayer } from './decoys.ts';
import { type CalibrationResult, calibrateFractions, checkFractions, checkStrictTiers, defaultFractions, prefixCount, tierCounts } from './tiers.ts';
import { PROTECT_METADATA_KEY, ProtectError, type ProtectHeader, type SectionLayer, isProtectMetadataKey, weightsDigest } from './format.ts';
import { sealAndSign } from './sign.ts';

export interface CalibrateOptions {
  /** Targets of tiers 1..M−1 (or 1..M), higher is better; see calibrateFractions. */
  targets: readonly number[];
  /** A model of the right architecture; its weights are overwritten during calibration. */
  model: Module;
  /** The metric of a model on the owner's validation data (accuracy, PSNR). */
  evaluate: (model: Module) => Promise<number> | number;
  onEvaluate?: (fraction: number, metric: number) => void;
}

export interface ProtectOptions {
  /** Per-kernel importance of (at least) every protected layer. */
  importance: ImportanceMap;
  /** Fraction of each layer's kernels to protect: ⌊N·ratio⌋ + 1 of N. */
  ratio: number;
  /** Conv layers to protect (weight or module names); default every conv layer. */
  layers?: readonly string[];
  /** The model's module types: conv layers are then its Conv2d weights, not every 4-D tensor (see discoverLayers). */
  modules?: ModuleTypes;
  /** Number of tiers M (default 3). */
  tiers?: number;
  /** f_1..f_M, rising strictly to 1; default 0.6 + 0.4·m/M. Exclusive with calibrate. */
  fractions?: readonly number[];
  /** Calibrate the fractions to target metrics instead. */
  calibrate?: CalibrateOptions;
  architecture?: string;
  /** The owner's master key (tier M); default a fresh random one. */
  masterKey?: Uint8Array;
  /** Default 16 fresh random bytes. */
  modelId?: Uint8Array;
  /** How kernels are picked from the ranking (selection.ts; default 'top'). */
  selection?: SelectionMode;
  /** How decoys are drawn (decoys.ts). Unlocking does not depend on it. */
  decoys?: DecoyMode;
  /** Called after each layer's decoys are drawn. */
  onLayer?: (info: LayerProgress) => void;
}

/** What onLayer reports: one protected layer done. */
export interface LayerProgress {
  layer: string;
  /** 0-based position among the protected layers. */
  index: number;
  count: number;
  kernels: number;
  selected: number;
}

export interface LayerSummary {
  name: string;
  kernels: number;
  selected: number;
  /** Kernels restored at tiers 0..M. */
  perTier: number[];
}

export interface ProtectResult {
  file: SafetensorsFile;
  header: ProtectHeader;
  masterKey: Uint8Array;
  modelId: Uint8Array;
  fractions: number[];
  layers: LayerSummary[];
  calibration?: CalibrationResult;
}

/** The layer's bytes with the first `count` ranked kernels taken from `original`. */
function restorePrefix(decoyed: Uint8Array, original: Uint8Array, s: LayerSelection, count: number): Uint8Array {
  const out = copyBytes(decoyed);
  const kb = s.layer.kernelBytes;
  for (let j = 0; j < count; j++) {
    const at = s.ranked[j] * kb;
    out.set(original.subarray(at, at + kb), at);
  }
  return out;
}

/** Loads the protected model with prefix fraction f of every layer restored into `model`. */
function loadFraction(model: Module, selections: readonly LayerSelection[], decoyed: Map<string, Uint8Array>, original: Map<string, TensorEntry>, f: number): void {
  const entries = new Map<string, TensorEntry>();
  for (const s of selections) {
    const e = original.get(s.layer.name)!;
    entries.set(s.layer.name, { ...e, data: restorePrefix(decoyed.get(s.layer.name)!, e.data, s, prefixCount(s.ranked.length, f)) });
  }
  loadWeightsSync(model, { tensors: entries, metadata: {} }, { strict: false, source: 'the partially restored protected weights' });
}

/**
 * Protects an in-memory file. The lower level of protectModel (api.ts): it returns the master key's
 * bytes, which the caller must wipe; on failure it wipes the key itself.
 */
export async function protect(source: SafetensorsFile, o: ProtectOptions): Promise<ProtectResult> {
  if (source.metadata[PROTECT_METADATA_KEY] !== undefined) {
    throw new ProtectError('ALREADY_PROTECTED', 'this model is already protected: protect the original file instead');
  }
  if (o.fractions && o.calibrate) throw new RangeError('give tier fractions or calibration targets, not both');
  const M = o.fractions?.length ?? o.tiers ?? 3;
  if (o.tiers !== undefined && o.fractions && o.fractions.length !== o.tiers) {
    throw new RangeError(`${o.fractions.length} tier fractions given for ${o.tiers} tiers`);
  }
  const layers: ConvLayer[] = resolveLayers(source.tensors, o.layers, o.modules);
  const selections = selectKernels(layers, o.importance, o.ratio, o.selection);
  const masterKey = o.masterKey ? new Uint8Array(o.masterKey) : generateMasterKey();
  try {
    return await protectWith(source, o, selections, layers, M, masterKey);
  } catch (e) {
    masterKey.fill(0);
    throw e;
  }
}

async function protectWith(source: SafetensorsFile, o: ProtectOptions, selections: LayerSelection[], layers: ConvLayer[], M: number, masterKey: Uint8Array): Promise<ProtectResult> {
  if (masterKey.length !== KEY_BYTES) throw new RangeError(`the master key must be ${KEY_BYTES} bytes`);
  const modelId = o.modelId ? new Uint8Array(o.modelId) : new Uint8Array(randomBytes(16));
  if (modelId.length !== 16) throw new RangeError('modelId must be 16 bytes');

  // Decoys first: calibration measures the partially restored protected model.
  const decoyed = new Map<string, Uint8Array>();
  for (const [index, s] of selections.entries()) {
    decoyed.set(s.layer.name, decoyLayer(s.layer, source.tensors.get(s.layer.name)!, s.ranked, masterKey, modelId, o.decoys));
    o.onLayer?.({ layer: s.layer.name, index, count: selections.length, kernels: s.layer.kernels, selected: s.ranked.length });
  }

  let fractions: number[];
  let calibration: CalibrationResult | undefined;
  if (o.calibrate) {
    const c = o.calibrate;
    loadWeightsSync(c.model, source, { source: 'the weights to protect' });
    calibration = await calibrateFractions({
      selections,
      targets: c.targets,
      tiers: o.tiers ?? c.targets.length + 1,
      onEvaluate: c.onEvaluate,
      metricAt: async (f) => {
        loadFraction(c.model, selections, decoyed, source.tensors, f);
        return c.evaluate(c.model);
      },
    });
    fractions = calibration.fractions;
  } else {
    fractions = o.fractions ? [...o.fractions] : defaultFractions(M);
    checkFractions(fractions);
    checkStrictTiers(selections, fractions);
  }
  const tiers = fractions.length;

  const tensors = new Map<string, TensorEntry>();
  for (const [name, e] of source.tensors) tensors.set(name, decoyed.has(name) ? { ...e, data: decoyed.get(name)! } : e);
  const digest = weightsDigest(tensors);
  const counts = tierCounts(selections, fractions);

  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(source.metadata)) if (!isProtectMetadataKey(k)) kept[k] = v;
  const sections: SectionLayer[][] = [];
  for (let m = 1; m <= tiers; m++) {
    sections.push(
      selections.map((s, i) => {
        const from = counts[i][m - 1];
        const to = counts[i][m];
        // Ascending kernel order within a tier (the tier is the unit; order inside it tells nothing):
        // unlock then writes the layer front to back instead of scattering, a third faster.
        const indices = s.ranked.slice(from, to).sort();
        const original = source.tensors.get(s.layer.name)!.data;
        const values = new Uint8Array(indices.length * s.layer.kernelBytes);
        indices.forEach((kernel, j) => values.set(original.subarray(kernel * s.layer.kernelBytes, (kernel + 1) * s.layer.kernelBytes), j * s.layer.kernelBytes));
        return { name: s.layer.name, indices, values };
      }),
    );
  }
  const { metadata, header, ...sealed } = sealAndSign({
    metadata: kept,
    masterKey,
    modelId,
    sections,
    layers: layers.map((l) => ({ name: l.name, dtype: l.dtype, shape: [...l.shape] })),
    architecture: o.architecture ?? source.metadata.architecture,
    weightsDigest: digest,
  });
  for (const [name, e] of sealed.sections) tensors.set(name, e); // format version 3: the sections are tensors
  return {
    file: { tensors, metadata },
    header,
    masterKey,
    modelId,
    fractions,
    calibration,
    layers: selections.map((s, i) => ({ name: s.layer.name, kernels: s.layer.kernels, selected: s.ranked.length, perTier: counts[i] })),
  };
}

/**
 * Key tokens of tiers 1..M (index m − 1), derived from the master key. Each carries the model's
 * signer (the owner's public key), so whoever holds one refuses a model signed by anyone else.
 */
export function tierTokens(masterKey: Uint8Array, modelId: Uint8Array, tiers: number): string[] {
  const { publicKey: signer } = ownerSigningKey(masterKey, modelId, tiers);
  return Array.from({ length: tiers }, (_, i) => {
    const k = tierKey(masterKey, tiers, i + 1, modelId);
    const t = encodeKeyToken({ tier: i + 1, key: k, signer });
    k.fill(0);
    return t;
  });
}
