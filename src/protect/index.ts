// Selective protection of CNNs (Tian, Zhou and Duan, CVPR 2021): kernel importance, selection,
// DPRM decoys, nested tiers, the protected-file format, protect and unlock. This is `nnlock/protect`:
// the API (api.ts) and what its callers need around it. The parts (selection.ts, decoys.ts,
// tiers.ts, format.ts, ...) are imported from their files by whoever studies them.
export {
  type ModelSource,
  type ProtectModelOptions,
  type ProtectedModel,
  type WriteProtectedOptions,
  type UnlockModelOptions,
  type UnlockSummary,
  type UnlockedModel,
  type TierToken,
  protectModel,
  writeProtected,
  unlockModel,
  verifyModel,
  openProtected,
  type ModelVerification,
  deriveKeys,
  isProtected,
} from './api.ts';
export { type ComputedImportance, type ComputeImportanceOptions, type ImportanceStep, type PssSettings, computeImportance, isWeightOnly } from './importance/compute.ts';
export { type ImportanceMap, type LayerScores, type Strategy, STRATEGIES, WEIGHT_ONLY_STRATEGIES, assertStrategy } from './importance/scores.ts';
export { type ImportanceFile, type ImportanceInfo, loadImportance, saveImportance } from './importance/io.ts';
export { PSS_DEFAULTS, PSS_PAPER_DATA, PSS_PAPER_SETTING, PSS_SAMPLED_SETTING, paperLayers, resolvePssSettings } from './importance/pss.ts';
export { type DenoisePairs, type DenoiserDataOptions, denoiserTrainingData, residualSource } from './importance/training-data.ts';
export {
  type ConvLayer,
  type LayerDiscovery,
  type ModuleTypes,
  type SkippedTensor,
  convLayers,
  discoverLayers,
  moduleTypesOf,
  resolveLayers,
} from './layers.ts';
export {
  FORMAT_VERSION,
  PROTECT_METADATA_KEY,
  SIGNATURE_METADATA_KEY,
  UNSIGNED_FORMAT_VERSION,
  ProtectError,
  type ProtectErrorCode,
  type ProtectHeader,
  type ProtectedLayerInfo,
  weightsDigest,
} from './format.ts';
export { DECOY_MODES, DEFAULT_DECOY_MODE, type DecoyMode } from './decoys.ts';
export { DEFAULT_FRONT_SHARE, PROTECT_MODES, type ProtectMode, SELECTION_MODES, type SelectionMode, frontLayers } from './selection.ts';
export type { CalibrationResult } from './tiers.ts';
export { type LayerProgress, type LayerSummary } from './protect.ts';
export { UNLOCKED_TIER_METADATA_KEY, type Verification, type VerifyOptions, inspectProtected, verifyProtected } from './unlock.ts';
export { type RestoredKernels, type VerifiedUnlockOptions, VerifiedProtected, verifyForUnlock } from './verified.ts';
export { type TierEvaluation, type TierEvaluationOptions, evaluateTiers } from './evaluate-tiers.ts';
export { type KeyFileInfo, formatKeyFile, readKeyToken, writeKeyFile } from './keys.ts';
export { type Recovery, defaultKeysDir, defaultKeysPath, keysBesideModel, recoverInterruptedWrite } from './write.ts';
export { KeyError, type KeyErrorCode } from '../crypto/index.ts';
