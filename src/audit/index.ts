// Auditing a protected model as its attacker would: the decoy detector suite and the fine-tuning
// attack harness. Above protect in the layering (it reads protected files and runs protect's
// decoy generator to simulate decoys of its own); only the CLI, benches and experiments import it.
export { type ClassifierOptions, type DecoyClassifier, fitLogistic, trainDecoyClassifier } from './decoy-classifier.ts';
export { type DetectorReport, type DetectorSuiteOptions, type LayerDetection, type PublishedLayer, flagSuspects, runDetectors, scoreDetectors } from './decoy-detectors.ts';
export {
  FEATURES,
  type Feature,
  type KernelFeatures,
  type LayerValues,
  contextResidual,
  kernelFeatures,
  nearestNeighbourDistance,
  rowColumnEffect,
  spatialAutocorrelation,
} from './kernel-features.ts';
export { type FisherOptions, fisherScores } from './fisher.ts';
export { aucInterval, chanceSeparability, normalQuantile, percentileRanks, precisionAt, rocAuc, separability } from './roc.ts';
export { type AttackRun, type AttackRunStore, type AttackStart, type HarnessOptions, type HarnessResult, type ResetTo, attackHarness, resetKernels, startTag } from './harness.ts';
export { type AuditDecoysOptions, type AuditDecoysResult, auditDecoys } from './audit-decoys.ts';
